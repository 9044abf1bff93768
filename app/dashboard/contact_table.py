"""The columns the campaign page's contact table shows.

The page reads them with `contacts.service.contact_page` (the API list's filters, sort and
cursors) as plain rows instead of ORM objects: it neither builds identities nor decodes the custom
fields of fifty contacts per page view.
"""

from __future__ import annotations

from app.models import Contact

TABLE_COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.linkedin_url,
    Contact.company,
    Contact.title,
    Contact.status,
    Contact.muted,
    Contact.replied,
    Contact.error_code,
    Contact.error_message,
)
