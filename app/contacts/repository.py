from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    any_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from app.domain.errors import ErrorCode
from app.domain.statuses import (
    ContactStatus,
    Outcome,
)
from app.domain.transitions import Counted
from app.models import Activity, BlacklistEntry, Contact


def existing_urls(session: Session, campaign_id: int, urls: Sequence[str]) -> dict[str, int]:
    """Profile URL → contact id for those already in the campaign."""
    out: dict[str, int] = {}
    for start in range(0, len(urls), 500):
        chunk = urls[start : start + 500]
        rows = session.execute(
            select(Contact.linkedin_url, Contact.id).where(
                Contact.campaign_id == campaign_id, Contact.linkedin_url.in_(chunk)
            )
        )
        out.update(dict(rows.all()))
    return out


def blacklisted_urls(session: Session, workspace_id: int, urls: Sequence[str]) -> set[str]:
    if not urls:
        return set()
    rows = session.scalars(
        select(BlacklistEntry.linkedin_url).where(
            BlacklistEntry.workspace_id == workspace_id, BlacklistEntry.linkedin_url.in_(urls)
        )
    )
    return {u for u in rows if u}


def contacts_by_ids(session: Session, ids: Sequence[int]) -> list[Contact]:
    if not ids:
        return []
    return list(session.scalars(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)))


def in_campaign(session: Session, campaign_id: int) -> ColumnElement[bool]:
    """`campaign_id = :c`, spelt `= ANY(ARRAY[:c])` on PostgreSQL. With a plain equality the planner
    treats campaign_id as a constant and drops it from the keyset order (campaign_id, id), so it may
    still walk the primary key from the first id, filtering out every earlier campaign's rows
    (0.1–1 s for a campaign behind a large one). A one-element array is not folded into a constant:
    the order keeps campaign_id, which only the campaign's composite indexes provide, so a page
    costs a short index range whatever the campaign, the status filter or the depth."""
    if session.get_bind().dialect.name == "postgresql":
        return Contact.campaign_id == any_(array([campaign_id]))
    return Contact.campaign_id == campaign_id


def counted_condition(counted: Counted) -> ColumnElement[bool]:
    """The contacts a campaign count holds, as SQL (app.domain.transitions.counted_as)."""
    connected = Contact.status == ContactStatus.CONNECTED
    conditions: dict[Counted, ColumnElement[bool]] = {
        Counted.INVITED: Contact.invites_sent > 0,
        Counted.ACCEPTED: and_(Contact.invites_sent > 0, connected),
        Counted.ALREADY_CONNECTED: and_(Contact.invites_sent == 0, connected),
        Counted.REPLIED: Contact.replied.is_(True),
    }
    return conditions[counted]


def filtered_contacts(
    session: Session,
    *,
    campaign_id: int,
    statuses: Sequence[ContactStatus] = (),
    error: ErrorCode | None = None,
    any_error: bool = False,
    q: str | None = None,
    reached: Counted | None = None,
    columns: Sequence[Any] | None = None,
    workspace_id: int | None = None,
) -> Select[Any]:
    """A campaign's contacts under the list filters: whole contacts, or just `columns`; with
    `workspace_id`, only if the campaign is that workspace's (no rows otherwise)."""
    stmt: Select[Any] = select(*columns) if columns else select(Contact)
    stmt = stmt.where(in_campaign(session, campaign_id))
    if workspace_id is not None:
        stmt = stmt.where(Contact.workspace_id == workspace_id)
    if statuses:
        stmt = stmt.where(Contact.status.in_(statuses))
    if error is not None:
        stmt = stmt.where(Contact.error_code == error)
    elif any_error:
        stmt = stmt.where(Contact.error_code.is_not(None))
    if reached is not None:
        stmt = stmt.where(counted_condition(reached))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Contact.first_name.ilike(pattern, escape="\\"),
                Contact.last_name.ilike(pattern, escape="\\"),
                Contact.company.ilike(pattern, escape="\\"),
                Contact.linkedin_url.ilike(pattern, escape="\\"),
                Contact.email.ilike(pattern, escape="\\"),
            )
        )
    return stmt


# ---------------------------------------------------------------- the log

# A pending entry with no expected time yet (a follow-up waiting for an acceptance) is the
# furthest ahead: it sorts first, newest first.
NOT_YET = datetime(9999, 1, 1, tzinfo=UTC)


def happened_at() -> ColumnElement[datetime]:
    """When an entry happened: completed (done), or expected to go out (pending)."""
    return case(
        (
            Activity.outcome == Outcome.PENDING,
            func.coalesce(
                Activity.expected_at, Activity.scheduled_for, literal(NOT_YET, UTCDateTime())
            ),
        ),
        else_=func.coalesce(Activity.completed_at, Activity.created_at),
    )


def log_page(
    session: Session, *, contact_id: int, after: tuple[datetime, int] | None, limit: int
) -> list[tuple[Activity, datetime]]:
    """Up to `limit` entries of the contact's log after the (instant, id) key, newest first."""
    at = happened_at().label("happened_at")
    stmt = select(Activity, at).where(Activity.contact_id == contact_id)
    if after is not None:
        instant, last_id = after
        key = literal(instant, UTCDateTime())
        stmt = stmt.where(or_(at < key, and_(at == key, Activity.id < last_id)))
    rows = session.execute(stmt.order_by(at.desc(), Activity.id.desc()).limit(limit)).all()
    return [(activity, when) for activity, when in rows]


def contacts_for_update(
    session: Session, *, workspace_id: int, campaign_id: int, contact_ids: Sequence[int]
) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(
                Contact.id.in_(contact_ids),
                Contact.campaign_id == campaign_id,
                Contact.workspace_id == workspace_id,
            )
            .order_by(Contact.id)
            .with_for_update(key_share=True)
        )
    )


def action_summaries(session: Session, contact_ids: Sequence[int]) -> Result[Any]:
    """The columns of the contacts' actions that the campaign table shows, by contact, oldest first."""
    return session.execute(
        select(
            Activity.contact_id,
            Activity.id,
            Activity.kind,
            Activity.outcome,
            Activity.completed_at,
            Activity.scheduled_for,
            Activity.created_at,
            Activity.expected_at,
            Activity.waiting_reason,
            Activity.waiting_cap,
        )
        .where(Activity.contact_id.in_(contact_ids))
        .order_by(Activity.contact_id, Activity.id)
    )
