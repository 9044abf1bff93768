"""The action queue: pending activities, and keeping them consistent with a contact's status.

Pending activities are the queue the engine leases from. These helpers keep it honest when a status
changes by any path (engine, integration events, sweeps): an acceptance arms the first follow-up and
cancels a withdrawal still waiting to go out; a reply or muting stops the remaining follow-ups.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from app.domain.actions import MESSAGE_KIND
from app.domain.errors import ErrorCode
from app.domain.pacing import WaitingReason
from app.domain.statuses import ActivityKind, CampaignType, ContactStatus, Outcome
from app.domain.transitions import ContactEvent
from app.models import Activity, Campaign, Contact, FollowUpStep

MESSAGE_KINDS = (ActivityKind.FOLLOW_UP, ActivityKind.INMAIL, ActivityKind.GROUP_MESSAGE)


def step_delay(session: Session, campaign_id: int, position: int) -> int | None:
    """The delay in days of step `position`, or None when the campaign has no such step."""
    return session.scalar(
        select(FollowUpStep.delay_days).where(
            FollowUpStep.campaign_id == campaign_id, FollowUpStep.position == position
        )
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


def queue_action(
    session: Session,
    *,
    contact: Contact,
    campaign: Campaign,
    kind: ActivityKind,
    now: datetime,
    scheduled_for: datetime | None,
    waiting_reason: WaitingReason | None,
    step: int | None = None,
    attempts: int = 0,
    detail: dict[str, Any] | None = None,
    message: str | None = None,
) -> Activity:
    action = Activity(
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
        campaign_id=campaign.id,
        sender_id=campaign.sender_id,
        kind=kind,
        outcome=Outcome.PENDING,
        created_at=now,
        scheduled_for=scheduled_for,
        waiting_reason=waiting_reason.value if waiting_reason else None,
        expected_at=scheduled_for,
        step=step,
        attempts=attempts,
        detail=detail or {},
        message=message,
    )
    session.add(action)
    return action


def queue_next_message(
    session: Session, *, contact: Contact, campaign: Campaign, now: datetime, after: datetime
) -> Activity | None:
    """Queue the next step of the message sequence `delay_days` after `after`, if there is one."""
    if contact.replied or contact.muted:
        return None
    position = contact.follow_ups_sent + 1
    delay = step_delay(session, campaign.id, position)
    if delay is None:
        return None
    due = after + timedelta(days=delay)
    return queue_action(
        session,
        contact=contact,
        campaign=campaign,
        kind=MESSAGE_KIND[campaign.type],
        now=now,
        scheduled_for=due,
        waiting_reason=WaitingReason.FOLLOW_UP_DELAY if due > now else None,
        step=position,
    )


def queue_follow_up_awaiting_acceptance(
    session: Session, *, contact: Contact, campaign: Campaign, now: datetime
) -> Activity | None:
    """After an invite goes out, the first follow-up shows as Pending, waiting for acceptance."""
    if campaign.type is not CampaignType.CONNECTION or step_delay(session, campaign.id, 1) is None:
        return None
    return queue_action(
        session,
        contact=contact,
        campaign=campaign,
        kind=ActivityKind.FOLLOW_UP,
        now=now,
        scheduled_for=None,
        waiting_reason=WaitingReason.AWAITING_ACCEPTANCE,
        step=1,
    )


def on_connected(session: Session, *, contact: Contact, campaign: Campaign, now: datetime) -> None:
    """Arm the first follow-up (or queue it) and close a withdrawal that has not gone out yet: it
    stays in the log (it recorded the move to withdrawn), marked as not sent."""
    session.execute(
        update(Activity)
        .where(
            Activity.contact_id == contact.id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind == ActivityKind.WITHDRAW_INVITE,
        )
        .values(
            outcome=Outcome.ERROR,
            error_code=ErrorCode.OTHER,
            error_message="Not sent: the invitation was accepted before the withdrawal went out",
            completed_at=None,
            waiting_reason=None,
            expected_at=None,
            leased_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if campaign.type not in (CampaignType.CONNECTION, CampaignType.EXISTING_CONNECTIONS):
        return
    delay = step_delay(session, campaign.id, contact.follow_ups_sent + 1)
    waiting = session.scalars(
        select(Activity).where(
            Activity.contact_id == contact.id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind == ActivityKind.FOLLOW_UP,
        )
    ).first()
    if delay is None:
        return
    due = now + timedelta(days=delay)
    if waiting is not None:
        waiting.scheduled_for = due
        waiting.expected_at = due
        waiting.waiting_reason = WaitingReason.FOLLOW_UP_DELAY.value if due > now else None
    else:
        queue_next_message(session, contact=contact, campaign=campaign, now=now, after=now)


def cancel_pending(
    session: Session, contact_ids: Sequence[int], kinds: Sequence[ActivityKind]
) -> int:
    """Drop pending actions that no longer apply (they never happened, so the log loses nothing)."""
    if not contact_ids:
        return 0
    result = session.execute(
        delete(Activity).where(
            Activity.contact_id.in_(contact_ids),
            Activity.outcome == Outcome.PENDING,
            Activity.kind.in_(kinds),
            # An action out with an executor is left to it: the result is checked when applied.
            Activity.leased_until.is_(None),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def stop_messages(session: Session, contact_ids: Sequence[int]) -> int:
    """A reply or muting stops the remaining follow-ups."""
    return cancel_pending(session, contact_ids, MESSAGE_KINDS)


def release_lease(session: Session, action_id: int) -> None:
    session.execute(
        update(Activity).where(Activity.id == action_id).values(lease_token=None, leased_until=None)
    )


def sync_queue(
    session: Session,
    *,
    contact: Contact,
    campaign: Campaign,
    event: ContactEvent,
    before: ContactStatus,
    now: datetime,
) -> None:
    """Keep the queue consistent with a transition that just happened, whoever reported it."""
    if event is ContactEvent.PROFILE_VISITED:
        cancel_pending(session, [contact.id], [ActivityKind.PROFILE_VISIT])
    elif event is ContactEvent.INVITE_SENT:
        cancel_pending(session, [contact.id], [ActivityKind.CONNECTION_REQUEST])
        if not has_pending(session, contact.id, [ActivityKind.FOLLOW_UP]):
            queue_follow_up_awaiting_acceptance(
                session, contact=contact, campaign=campaign, now=now
            )
    elif event is ContactEvent.MESSAGE_SENT:
        contact.follow_ups_sent += 1
        contact.last_message_at = now
        if not has_pending(session, contact.id, MESSAGE_KINDS):
            queue_next_message(session, contact=contact, campaign=campaign, now=now, after=now)
    elif event is ContactEvent.REPLY_RECEIVED:
        stop_messages(session, [contact.id])
    elif event in (ContactEvent.INVITE_WITHDRAWN, ContactEvent.INVITE_EXPIRED):
        cancel_pending(session, [contact.id], [ActivityKind.FOLLOW_UP])
    if contact.status is ContactStatus.CONNECTED and before is not ContactStatus.CONNECTED:
        on_connected(session, contact=contact, campaign=campaign, now=now)
