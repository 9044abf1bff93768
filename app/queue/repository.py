"""The queue's queries: pending actions of a contact, the head of a sender's queue per cap, what a
sender already sent, and the set-based explanations of what waits beyond the head or for a paused
campaign."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.domain.statuses import (
    ActivityKind,
    CampaignState,
    Outcome,
)
from app.models import (
    Activity,
    BlacklistEntry,
    Campaign,
    Contact,
    FollowUpStep,
)

# The predicates below are built once: SQL expressions are immutable and may be shared by any
# number of statements, and building these afresh cost the engine's tick 0.3 ms a statement.


@cache
def not_blacklisted() -> ColumnElement[bool]:
    return ~exists().where(
        BlacklistEntry.workspace_id == Contact.workspace_id,
        or_(
            BlacklistEntry.campaign_id.is_(None), BlacklistEntry.campaign_id == Contact.campaign_id
        ),
        or_(
            BlacklistEntry.linkedin_url == Contact.linkedin_url,
            and_(
                BlacklistEntry.company.is_not(None),
                func.lower(BlacklistEntry.company) == func.lower(Contact.company),
            ),
        ),
    )


def sent_times(
    session: Session,
    *,
    sender_id: int,
    kinds: Sequence[ActivityKind],
    since: datetime,
    now: datetime,
) -> list[datetime]:
    """When this sender performed these actions (successes), plus actions leased out right now (as
    sent now). One statement, so an action completing meanwhile is counted exactly once."""
    rows = session.execute(
        select(Activity.outcome, Activity.completed_at).where(
            Activity.sender_id == sender_id,
            Activity.kind.in_(kinds),
            or_(
                and_(Activity.outcome == Outcome.SUCCESS, Activity.completed_at > since),
                and_(Activity.outcome == Outcome.PENDING, Activity.leased_until > now),
            ),
        )
    ).all()
    return [at if outcome is Outcome.SUCCESS and at is not None else now for outcome, at in rows]


@cache
def runnable() -> ColumnElement[bool]:
    """Actions that may go out now: any withdrawal (it cleans up even for a paused campaign); anything
    else only for a running campaign and a contact who is neither muted nor blacklisted."""
    reachable = (
        select(Contact.id)
        .where(Contact.id == Activity.contact_id, Contact.muted.is_(False), not_blacklisted())
        .exists()
    )
    return or_(
        Activity.kind == ActivityKind.WITHDRAW_INVITE,
        and_(
            Activity.campaign_id.in_(
                select(Campaign.id).where(Campaign.state == CampaignState.RUNNING)
            ),
            reachable,
        ),
    )


def queue_head(
    session: Session, *, sender_id: int, kinds: Sequence[ActivityKind], limit: int, now: datetime
) -> Sequence[
    Row[int, ActivityKind, datetime | None, bool, datetime | None, str | None, str | None]
]:
    """(id, kind, scheduled_for, retry, expected_at, waiting_reason, waiting_cap) of the first
    `limit` queued actions, by due time: columns, not ORM objects (a tick reads thousands). `retry`
    says whether the action retries a failed one, read in SQL: the detail itself is not decoded."""
    stmt = (
        select(
            Activity.id,
            Activity.kind,
            Activity.scheduled_for,
            Activity.detail["retry_of"].as_integer().is_not(None).label("retry"),
            Activity.expected_at,
            Activity.waiting_reason,
            Activity.waiting_cap,
        )
        .where(
            Activity.sender_id == sender_id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind.in_(kinds),
            Activity.scheduled_for.is_not(None),
            # Actions out with an executor are not waiting any more.
            or_(Activity.leased_until.is_(None), Activity.leased_until <= now),
            runnable(),
        )
        .order_by(Activity.scheduled_for, Activity.id)
        .limit(limit)
    )
    return session.execute(stmt).all()


def save_explanations(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store new explanations (id, expected_at, waiting_reason, waiting_cap); objects of the
    session's identity map are updated with them.

    PostgreSQL: one UPDATE … FROM unnest of four arrays. By primary key, one statement a row (as
    SQLite takes them, in-process), the head of ten senders' withdrawals after a sweep (2,900
    rows) cost the tick 0.1 s of round trips."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(update(Activity), list(rows))
        return
    session.connection().exec_driver_sql(
        _EXPLAIN_POSTGRESQL,
        {
            "ids": [row["id"] for row in rows],
            "ats": [row["expected_at"] for row in rows],
            "reasons": [row["waiting_reason"] for row in rows],
            "caps": [row["waiting_cap"] for row in rows],
        },
    )
    loaded = session.identity_map
    for row in rows:
        action = loaded.get(identity_key(Activity, row["id"]))
        if action is not None:
            for name in ("expected_at", "waiting_reason", "waiting_cap"):
                set_committed_value(action, name, row[name])


_EXPLAIN_POSTGRESQL = (
    "UPDATE activities AS a SET expected_at = v.expected_at, waiting_reason = v.waiting_reason, "
    "waiting_cap = v.waiting_cap FROM unnest(%(ids)s::bigint[], %(ats)s::timestamptz[], "
    "%(reasons)s::varchar[], %(caps)s::varchar[]) AS v(id, expected_at, waiting_reason, "
    "waiting_cap) WHERE a.id = v.id"
)


_NOT_WITHDRAWALS = tuple(kind for kind in ActivityKind if kind is not ActivityKind.WITHDRAW_INVITE)


def explain_paused_and_awaiting(session: Session, *, sender_id: int, now: datetime) -> None:
    """Pending actions of the sender's campaigns that are not running wait for the campaign
    (withdrawals excepted: they clean up even for a paused campaign); a first follow-up with no
    due time waits for its invite to be accepted."""
    not_running = select(Campaign.id).where(
        Campaign.sender_id == sender_id, Campaign.state != CampaignState.RUNNING
    )
    waiting = and_(
        Activity.sender_id == sender_id,
        Activity.outcome == Outcome.PENDING,
        # Every kind but withdrawals, listed: read along the (sender, outcome, kind) index, a
        # sender's thousands of pending withdrawals after a sweep are not walked through.
        Activity.kind.in_(_NOT_WITHDRAWALS),
        or_(Activity.leased_until.is_(None), Activity.leased_until <= now),
    )
    if session.scalar(select(not_running.exists())):
        session.execute(
            update(Activity)
            .where(
                waiting,
                Activity.campaign_id.in_(not_running),
                or_(
                    Activity.waiting_reason.is_(None),
                    Activity.waiting_reason != "campaign_paused",
                    Activity.expected_at.is_not(None),
                ),
            )
            .values(waiting_reason="campaign_paused", waiting_cap=None, expected_at=None)
            .execution_options(synchronize_session="fetch")
        )
    session.execute(
        update(Activity)
        .where(
            waiting,
            Activity.scheduled_for.is_(None),
            Activity.campaign_id.not_in(not_running),
            or_(
                Activity.waiting_reason.is_(None),
                Activity.waiting_reason != "awaiting_acceptance",
            ),
        )
        .values(waiting_reason="awaiting_acceptance", waiting_cap=None, expected_at=None)
        .execution_options(synchronize_session="fetch")
    )


def explain_beyond(
    session: Session,
    *,
    sender_id: int,
    kinds: Sequence[ActivityKind],
    after: tuple[datetime, int],
    waiting_reason: str,
    waiting_cap: str,
) -> None:
    """Queued actions past the explained head (a week of the cap's capacity): no time projected."""
    at, last_id = after
    session.execute(
        update(Activity)
        .where(
            Activity.sender_id == sender_id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind.in_(kinds),
            Activity.scheduled_for.is_not(None),
            or_(
                Activity.scheduled_for > at,
                and_(Activity.scheduled_for == at, Activity.id > last_id),
            ),
            runnable(),
            # Only rows whose explanation changes: after the first tick, few or none.
            or_(
                Activity.waiting_reason.is_(None),
                Activity.waiting_reason != waiting_reason,
                Activity.waiting_cap.is_(None),
                Activity.waiting_cap != waiting_cap,
                Activity.expected_at.is_not(None),
            ),
        )
        .values(waiting_reason=waiting_reason, waiting_cap=waiting_cap, expected_at=None)
        .execution_options(synchronize_session=False)
    )


def has_pending(session: Session, contact_id: int, kinds: Sequence[ActivityKind]) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Activity.contact_id == contact_id,
                    Activity.outcome == Outcome.PENDING,
                    Activity.kind.in_(kinds),
                )
            )
        )
    )


def step_delay(session: Session, campaign_id: int, position: int) -> int | None:
    """The delay in days of step `position`, or None when the campaign has no such step."""
    return session.scalar(
        select(FollowUpStep.delay_days).where(
            FollowUpStep.campaign_id == campaign_id, FollowUpStep.position == position
        )
    )


def pending_of(session: Session, contact_id: int, kind: ActivityKind) -> Activity | None:
    """The contact's pending action of this kind (at most one), if any."""
    return session.scalars(
        select(Activity).where(
            Activity.contact_id == contact_id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind == kind,
        )
    ).first()
