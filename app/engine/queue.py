"""The action queue: pending activities the engine leases from, and how new ones are queued.

The lifecycle owner (app.lifecycle) decides when a change queues something (an invite sent queues
the first follow-up, waiting for the acceptance; an acceptance gives it its due time; a message
queues the next step); these helpers write the pending entries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.actions import MESSAGE_KIND
from app.domain.pacing import WaitingReason
from app.domain.statuses import ActivityKind, CampaignType, Outcome
from app.models import Activity, Campaign, Contact, FollowUpStep


def step_delay(session: Session, campaign_id: int, position: int) -> int | None:
    """The delay in days of step `position`, or None when the campaign has no such step."""
    return session.scalar(
        select(FollowUpStep.delay_days).where(
            FollowUpStep.campaign_id == campaign_id, FollowUpStep.position == position
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


def arm_first_follow_up(
    session: Session, *, contact: Contact, campaign: Campaign, now: datetime
) -> None:
    """A contact just connected: the first follow-up (Pending, waiting for the acceptance) gets its
    due time, or is queued."""
    if campaign.type not in (CampaignType.CONNECTION, CampaignType.EXISTING_CONNECTIONS):
        return
    delay = step_delay(session, campaign.id, contact.follow_ups_sent + 1)
    if delay is None or contact.replied or contact.muted:
        return
    waiting = session.scalars(
        select(Activity).where(
            Activity.contact_id == contact.id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind == ActivityKind.FOLLOW_UP,
        )
    ).first()
    due = now + timedelta(days=delay)
    if waiting is not None:
        waiting.scheduled_for = due
        waiting.expected_at = due
        waiting.waiting_reason = WaitingReason.FOLLOW_UP_DELAY.value if due > now else None
    else:
        queue_next_message(session, contact=contact, campaign=campaign, now=now, after=now)


def release_lease(session: Session, action_id: int) -> None:
    session.execute(
        update(Activity).where(Activity.id == action_id).values(lease_token=None, leased_until=None)
    )
