"""The lifecycle owner's queries: a contact's pending actions and the sweep's set-based statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.contacts.repository import has_pending, insert_contacts_skip_existing
from app.db import JSONType, UTCDateTime
from app.domain.errors import ErrorCode
from app.domain.statuses import (
    ActivityKind,
    CampaignState,
    CampaignType,
    ContactStatus,
    Outcome,
)
from app.engine.repository import not_blacklisted
from app.models import Activity, Campaign, Contact

__all__ = ["has_pending", "insert_contacts_skip_existing"]


def pending_actions(session: Session, contact_id: int) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.contact_id == contact_id, Activity.outcome == Outcome.PENDING)
            .order_by(Activity.id)
        )
    )


def is_blacklisted(session: Session, contact_id: int) -> bool:
    """Whether the workspace's blacklist (or the campaign's) holds this contact."""
    return bool(
        session.scalar(select(exists().where(Contact.id == contact_id, ~not_blacklisted())))
    )


def _skipped(reason: str, now: datetime) -> dict[str, Any]:
    """The columns of a pending action settled as skipped, `reason` saying why."""
    return {
        "outcome": Outcome.SKIPPED,
        "completed_at": now,
        "waiting_reason": None,
        "waiting_cap": None,
        "expected_at": None,
        "leased_until": None,
        "detail": literal({"reason": reason}, JSONType),
    }


def skip_pending_of_campaign(
    session: Session, campaign_id: int, *, reason: str, now: datetime
) -> None:
    """Settle as skipped every pending action of a campaign but its withdrawals (cleanup)."""
    session.execute(
        update(Activity)
        .where(
            Activity.campaign_id == campaign_id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind != ActivityKind.WITHDRAW_INVITE,
        )
        .values(_skipped(reason, now))
        .execution_options(synchronize_session=False)
    )


def stale_invites(*, workspace_id: int, cutoff: datetime) -> ColumnElement[bool]:
    """Contacts of the workspace's live connection campaigns invited at or before `cutoff`."""
    live = select(Campaign.id).where(
        Campaign.workspace_id == workspace_id,
        Campaign.type == CampaignType.CONNECTION,
        Campaign.state != CampaignState.ARCHIVED,
    )
    return and_(
        Contact.campaign_id.in_(live),
        Contact.status == ContactStatus.INVITE_SENT,
        Contact.invited_at <= cutoff,
    )


def count_shapes(
    session: Session, where: ColumnElement[bool], *, with_status: bool = False
) -> list[tuple[int, ContactStatus | None, ErrorCode | None, int, bool, int]]:
    """How many contacts match, per campaign and per what their counts depend on."""
    groups: list[Any] = [
        Contact.campaign_id,
        Contact.error_code,
        Contact.invites_sent,
        Contact.replied,
    ]
    if with_status:
        groups.append(Contact.status)
    rows = session.execute(select(*groups, func.count()).where(where).group_by(*groups)).all()
    return [(r[0], r[4] if with_status else None, r[1], r[2], r[3], r[-1]) for r in rows]


def delete_contacts(session: Session, where: ColumnElement[bool]) -> int:
    result = session.execute(
        delete(Contact).where(where).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def record_expiries(
    session: Session,
    where: ColumnElement[bool],
    *,
    now: datetime,
    to_status: ContactStatus,
    waiting_reason: str,
    waiting_cap: str,
    after_days: int,
) -> None:
    """One Pending withdraw_invite per matching contact, recording its move, in one INSERT …
    SELECT; its detail says after how many days (the workspace's threshold then) and whether
    the campaign's re-invites will invite the person again."""
    base = {
        "reason": "stale",
        "event": "invite_expired",
        "cause": "engine",
        "after_days": after_days,
    }
    # The campaign (joined below) still allows this person another invite, or not.
    detail = case(
        (
            Contact.invites_sent <= Campaign.max_reinvites,
            literal({**base, "reinvite": True}, JSONType),
        ),
        else_=literal({**base, "reinvite": False}, JSONType),
    )
    source = (
        select(
            Contact.workspace_id,
            Contact.id,
            Contact.campaign_id,
            Campaign.sender_id,
            literal(ActivityKind.WITHDRAW_INVITE.value),
            literal(Outcome.PENDING.value),
            literal(ContactStatus.INVITE_SENT.value),
            literal(to_status.value),
            detail,
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
            literal(waiting_reason),
            literal(waiting_cap),
            literal(0),
        )
        .join(Campaign, Campaign.id == Contact.campaign_id)
        .where(where)
    )
    session.execute(
        insert(Activity).from_select(
            [
                "workspace_id",
                "contact_id",
                "campaign_id",
                "sender_id",
                "kind",
                "outcome",
                "status_from",
                "status_to",
                "detail",
                "created_at",
                "scheduled_for",
                "waiting_reason",
                "waiting_cap",
                "attempts",
            ],
            source,
        )
    )


def skip_pending_of(
    session: Session,
    where: ColumnElement[bool],
    *,
    kinds: Sequence[ActivityKind],
    reason: str,
    now: datetime,
) -> None:
    """Settle as skipped the pending actions of these kinds of the matching contacts."""
    session.execute(
        update(Activity)
        .where(
            Activity.contact_id.in_(select(Contact.id).where(where)),
            Activity.outcome == Outcome.PENDING,
            Activity.kind.in_(kinds),
        )
        .values(_skipped(reason, now))
        .execution_options(synchronize_session=False)
    )


def mark_withdrawn(
    session: Session, where: ColumnElement[bool], *, to_status: ContactStatus, now: datetime
) -> int:
    result = session.execute(
        update(Contact)
        .where(where)
        .values(
            status=to_status,
            withdrawn_at=now,
            status_changed_at=now,
            updated_at=now,
            error_code=None,
            error_message=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def insert_contacts(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert whole contacts; their ids in the rows' order."""
    return list(
        session.scalars(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True), list(rows)
        )
    )
