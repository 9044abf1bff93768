"""The campaign page's contact table: one keyset page of the columns the table shows.

The same page as `contacts.service.list_contacts` (filters, sort, cursors, "before" pages), read as
plain rows instead of ORM objects: the table shows eleven columns, so it neither builds identities
nor decodes the custom fields of fifty contacts per page view.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, Select, any_, or_, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

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


def _in_campaign(session: Session, campaign_id: int) -> ColumnElement[bool]:
    """`campaign_id = :c`, spelt `= ANY(ARRAY[:c])` on PostgreSQL. With a plain equality the planner
    treats campaign_id as a constant and drops it from the keyset order (campaign_id, id), so it may
    still walk the primary key from the first id, filtering out every earlier campaign's rows
    (0.1–1 s for a campaign behind a large one). A one-element array is not folded into a constant:
    the order keeps campaign_id, which only the campaign's composite indexes provide, so a page
    costs a short index range whatever the campaign, the status filter or the depth."""
    if session.get_bind().dialect.name == "postgresql":
        return Contact.campaign_id == any_(array([campaign_id]))
    return Contact.campaign_id == campaign_id


def _search(q: str) -> ColumnElement[bool]:
    """A case-insensitive substring of name, company, profile URL or email (wildcards literal)."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(
        Contact.first_name.ilike(pattern, escape="\\"),
        Contact.last_name.ilike(pattern, escape="\\"),
        Contact.company.ilike(pattern, escape="\\"),
        Contact.linkedin_url.ilike(pattern, escape="\\"),
        Contact.email.ilike(pattern, escape="\\"),
    )


def _filtered(
    session: Session, campaign_id: int, filters: ContactFilter
) -> Select[*tuple[Any, ...]]:
    """The table's rows under `filters`: the predicates of `contacts.repository.filtered_contacts`."""
    stmt = select(*TABLE_COLUMNS).where(_in_campaign(session, campaign_id))
    if filters.statuses:
        stmt = stmt.where(Contact.status.in_(filters.statuses))
    if filters.error is not None:
        stmt = stmt.where(Contact.error_code == filters.error)
    elif filters.any_error:
        stmt = stmt.where(Contact.error_code.is_not(None))
    if filters.q:
        stmt = stmt.where(_search(filters.q))
    return stmt


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
