"""The campaign page's contact table: one keyset page of the columns the table shows.

The same page as `contacts.service.list_contacts` (filters, sort, cursors, "before" pages), read as
plain rows instead of ORM objects: the table shows eleven columns, so it neither builds identities
nor decodes the custom fields of fifty contacts per page view.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select
from sqlalchemy.orm import Session

from app.contacts import repository
from app.contacts.service import KEYSET_ORDER, MAX_PAGE, SORTS, ContactFilter
from app.errors import ValidationFailed
from app.models import Campaign, Contact
from app.pagination import decode_cursor, encode_cursor

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


def _filtered(
    session: Session, campaign_id: int, filters: ContactFilter
) -> Select[*tuple[Any, ...]]:
    """The table's columns under `filters` (the same predicates as the API's list)."""
    return repository.filtered_contacts(
        session,
        campaign_id=campaign_id,
        statuses=filters.statuses,
        error=filters.error,
        any_error=filters.any_error,
        q=filters.q,
        columns=TABLE_COLUMNS,
    )


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
    if sort not in SORTS:
        raise ValidationFailed(
            f"Unknown sort {sort!r}", {"sort": [f"Use one of: {', '.join(SORTS)}"]}
        )
    limit = max(1, min(limit, MAX_PAGE))
    if filters.q and "\x00" in filters.q:
        raise ValidationFailed("The search contains a NUL character", {"q": ["Remove the \\u0000"]})
    stmt = _filtered(session, campaign.id, filters)
    if before:
        # The page before a row: walk backwards, then put the rows back in display order.
        first = decode_cursor(before, sort=sort)["id"]
        stmt = stmt.where(Contact.id < first if sort == "id" else Contact.id > first)
        backwards = "-id" if sort == "id" else "id"
        rows = list(session.execute(stmt.order_by(*KEYSET_ORDER[backwards]).limit(limit + 1)))
        earlier = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        return rows, encode_cursor({"sort": sort, "id": rows[0].id}) if earlier and rows else None
    if cursor:
        last = decode_cursor(cursor, sort=sort)["id"]
        stmt = stmt.where(Contact.id > last if sort == "id" else Contact.id < last)
    rows = list(session.execute(stmt.order_by(*KEYSET_ORDER[sort]).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"sort": sort, "id": rows[-1].id})
    return rows, next_cursor
