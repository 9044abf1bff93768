"""The campaign page's contact table: one keyset page of the columns the table shows.

The same page as `contacts.service.list_contacts` (filters, sort, cursors, "before" pages), read as
plain rows instead of ORM objects: the table shows eleven columns, so it neither builds identities
nor decodes the custom fields of fifty contacts per page view.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from app.contacts.service import ContactFilter, contact_page
from app.models import Campaign, Contact

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
ContactRow = Row[Any]


def contact_table_page(
    session: Session,
    *,
    campaign: Campaign,
    filters: ContactFilter,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "id",
    before: str | None = None,
) -> tuple[list[ContactRow], str | None]:
    """One keyset page of `campaign`'s contacts (already checked to be the viewer's), and the cursor
    `list_contacts` would return with it: the next page's, or for a `before` page whether there are
    rows before it. Raises ValidationFailed for an unknown sort, a NUL in the search, a bad cursor."""
    rows, next_cursor = contact_page(
        session,
        campaign_id=campaign.id,
        filters=filters,
        limit=limit,
        cursor=cursor,
        sort=sort,
        before=before,
        columns=TABLE_COLUMNS,
    )
    return rows, next_cursor
