"""A contact's log, ordered by when each entry happened."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from app.domain.statuses import Outcome
from app.models import Activity

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
