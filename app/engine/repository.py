"""The engine's queries: the sweeps' candidates, queue candidates, the lease queue, cap counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Integer,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from app.contacts.repository import in_campaign
from app.db import JSONType, UTCDateTime
from app.domain.statuses import (
    ActivityKind,
    CampaignState,
    CampaignType,
    ContactStatus,
    Outcome,
)
from app.models import (
    Activity,
    Campaign,
    Contact,
    FollowUpStep,
    SenderAccount,
    Workspace,
)
from app.queue.repository import not_blacklisted, runnable


def no_pending(kinds: Sequence[ActivityKind]) -> ColumnElement[bool]:
    return ~exists().where(
        Activity.contact_id == Contact.id,
        Activity.outcome == Outcome.PENDING,
        Activity.kind.in_(kinds),
    )


def workspaces_withdraw_after(session: Session) -> dict[int, int]:
    return dict(session.execute(select(Workspace.id, Workspace.withdraw_after_days)).all())


def may_be_invited() -> ColumnElement[bool]:
    """Never invited, or invited fewer times than the campaign's re-invites allow."""
    allowed = (
        select(Campaign.max_reinvites).where(Campaign.id == Contact.campaign_id).scalar_subquery()
    )
    return or_(Contact.invites_sent == 0, Contact.invites_sent <= allowed)


def reinvitable_contacts(session: Session, *, cutoff: datetime, limit: int) -> list[Contact]:
    """Withdrawn contacts whose withdrawal went out at least 3 weeks ago, with a re-invite left."""
    stmt = (
        select(Contact)
        .where(
            Contact.status == ContactStatus.WITHDRAWN,
            Contact.withdrawn_at <= cutoff,
            no_pending([ActivityKind.WITHDRAW_INVITE]),
            Contact.invites_sent > 0,
            may_be_invited(),
        )
        .order_by(Contact.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def campaigns_by_id(session: Session, ids: set[int]) -> dict[int, Campaign]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(ids)))}


def contacts_by_id(session: Session, ids: set[int]) -> dict[int, Contact]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}


def step_template(session: Session, campaign_id: int, position: int) -> str | None:
    """The template of follow-up step `position` of the campaign, if it has that step."""
    return session.scalar(
        select(FollowUpStep.template).where(
            FollowUpStep.campaign_id == campaign_id, FollowUpStep.position == position
        )
    )


def contact_for_update(session: Session, contact_id: int) -> Contact:
    """The contact, locked FOR NO KEY UPDATE (key_share), as every row lock of ours: FOR UPDATE
    also blocks the KEY SHARE lock that inserting a row referencing it takes (an activity naming
    the contact, its sender or campaign), and two engine processes deadlocked on that."""
    return session.scalars(
        select(Contact).where(Contact.id == contact_id).with_for_update(key_share=True)
    ).one()


def lock_contact_of_action(session: Session, action_id: int) -> Contact | None:
    """The action's contact, its row locked (None when either is gone)."""
    return session.scalar(
        select(Contact)
        .where(
            Contact.id
            == select(Activity.contact_id).where(Activity.id == action_id).scalar_subquery()
        )
        .with_for_update(key_share=True)
    )


def action_for_update(session: Session, action_id: int) -> Activity | None:
    return session.scalar(
        select(Activity).where(Activity.id == action_id).with_for_update(key_share=True)
    )


def active_senders(session: Session) -> list[SenderAccount]:
    """Senders with a running campaign, or with pending actions (withdrawals outlive a pause)."""
    running = select(Campaign.sender_id).where(Campaign.state == CampaignState.RUNNING)
    pending = select(Activity.sender_id).where(Activity.outcome == Outcome.PENDING)
    stmt = select(SenderAccount).where(
        or_(SenderAccount.id.in_(running), SenderAccount.id.in_(pending))
    )
    return list(session.scalars(stmt.order_by(SenderAccount.id)))


def lock_sender(session: Session, sender_id: int) -> SenderAccount | None:
    """The sender row, locked: cap decisions for one sender happen one at a time."""
    return session.scalar(
        select(SenderAccount).where(SenderAccount.id == sender_id).with_for_update(key_share=True)
    )


def due_actions(
    session: Session, *, sender_id: int, kinds: Sequence[ActivityKind], now: datetime, limit: int
) -> list[Activity]:
    """Pending actions due now and not leased, oldest first, locked (others skip them)."""
    if limit <= 0:
        return []
    stmt = (
        select(Activity)
        .where(
            Activity.sender_id == sender_id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind.in_(kinds),
            Activity.scheduled_for <= now,
            or_(Activity.leased_until.is_(None), Activity.leased_until <= now),
            runnable(),
        )
        .order_by(Activity.scheduled_for, Activity.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def backlog(
    session: Session, *, sender_id: int, kinds: Sequence[ActivityKind], now: datetime
) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Activity.sender_id == sender_id,
                Activity.outcome == Outcome.PENDING,
                Activity.kind.in_(kinds),
                Activity.scheduled_for <= now,
            )
        )
        or 0
    )


def enqueue_candidates(
    session: Session,
    *,
    sender_id: int,
    kind: ActivityKind,
    campaign_types: Sequence[CampaignType],
    statuses: Sequence[ContactStatus],
    extra: Sequence[ColumnElement[bool]],
    now: datetime,
    limit: int,
    step: int | None = None,
) -> int:
    """INSERT … SELECT up to `limit` new pending actions for contacts that need `kind` next,
    oldest contacts first across the sender's campaigns."""
    if limit <= 0:
        return 0
    campaigns = list(
        session.scalars(
            select(Campaign.id).where(
                Campaign.sender_id == sender_id,
                Campaign.state == CampaignState.RUNNING,
                Campaign.type.in_(campaign_types),
            )
        )
    )
    needing = [
        Contact.muted.is_(False),
        # A contact whose last action failed for good waits for a person (or a template fix).
        Contact.error_code.is_(None),
        no_pending([kind]),
        not_blacklisted(),
        *extra,
    ]
    # The first `limit` of each campaign and status, read along its (campaign_id, status, id)
    # index (a scan of the whole table in id order walked every other campaign's contacts on
    # PostgreSQL), then the oldest `limit` of them all.
    chosen: list[int] = []
    for campaign_id in campaigns:
        for status in statuses:
            chosen.extend(
                session.scalars(
                    select(Contact.id)
                    .where(in_campaign(session, campaign_id), Contact.status == status, *needing)
                    .order_by(Contact.campaign_id, Contact.status, Contact.id)
                    .limit(limit)
                )
            )
    chosen = sorted(chosen)[:limit]
    if not chosen:
        return 0
    source = (
        select(
            Contact.workspace_id,
            Contact.id,
            Contact.campaign_id,
            literal(sender_id),
            literal(kind.value),
            literal(Outcome.PENDING.value),
            literal({}, JSONType),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
            literal(step, Integer()),
            literal(0),
        )
        .where(Contact.id.in_(chosen), *needing)
        .order_by(Contact.id)
    )
    result = session.execute(
        insert(Activity)
        .from_select(
            [
                "workspace_id",
                "contact_id",
                "campaign_id",
                "sender_id",
                "kind",
                "outcome",
                "detail",
                "created_at",
                "scheduled_for",
                "step",
                "attempts",
            ],
            source,
        )
        .execution_options(preserve_rowcount=True)
    )
    return max(0, int(result.rowcount or 0))  # type: ignore[attr-defined]


def try_exclusive(session: Session, name: str) -> bool:
    """Take a transaction-scoped lock that one engine process holds at a time (PostgreSQL advisory
    lock; SQLite's write transaction is exclusive already). False when another process holds it."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(func.hashtext(name)))))


def successes_since(
    session: Session, *, sender_id: int, kind: ActivityKind, since: datetime
) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Activity.sender_id == sender_id,
                Activity.kind == kind,
                Activity.outcome == Outcome.SUCCESS,
                Activity.completed_at > since,
            )
        )
        or 0
    )


def release_lease(session: Session, action_id: int) -> None:
    session.execute(
        update(Activity).where(Activity.id == action_id).values(lease_token=None, leased_until=None)
    )


def first_step_cutoffs(
    session: Session, sender_id: int, types: Sequence[CampaignType], now: datetime
) -> dict[int, datetime]:
    """Per campaign of the sender with a first step: the latest instant a contact may have
    connected to be due for it now."""
    rows = session.execute(
        select(Campaign.id, FollowUpStep.delay_days)
        .join(FollowUpStep, FollowUpStep.campaign_id == Campaign.id)
        .where(
            Campaign.sender_id == sender_id, Campaign.type.in_(types), FollowUpStep.position == 1
        )
    ).all()
    return {cid: now - timedelta(days=delay) for cid, delay in rows}


def open_invites_since(
    session: Session, *, since: datetime
) -> Sequence[Row[int, str, datetime | None]]:
    """(id, linkedin_url, invited_at) of connection campaigns' contacts invited after `since` whose
    invitation LinkedIn still shows: sent, and not withdrawn there yet (a withdrawal that has not
    gone out leaves it open). Columns only: no ORM object per open invite."""
    withdrawal_waits = (
        select(Activity.id)
        .where(
            Activity.contact_id == Contact.id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind == ActivityKind.WITHDRAW_INVITE,
        )
        .exists()
    )
    return session.execute(
        select(Contact.id, Contact.linkedin_url, Contact.invited_at).where(
            Contact.status.in_([ContactStatus.INVITE_SENT, ContactStatus.WITHDRAWN]),
            Contact.invited_at > since,
            Contact.campaign_id.in_(
                select(Campaign.id).where(Campaign.type == CampaignType.CONNECTION)
            ),
            or_(Contact.status == ContactStatus.INVITE_SENT, withdrawal_waits),
        )
    ).all()


def messaged_since(
    session: Session, *, since: datetime
) -> Sequence[Row[int, str, datetime | None]]:
    """(id, linkedin_url, last_message_at) of contacts messaged after `since` who have not replied."""
    return session.execute(
        select(Contact.id, Contact.linkedin_url, Contact.last_message_at).where(
            Contact.replied.is_(False),
            Contact.last_message_at > since,
            Contact.status != ContactStatus.NOT_VERIFIED,
        )
    ).all()
