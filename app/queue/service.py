"""The action queue: pending activities the engine leases from, and how new ones are queued.

The lifecycle owner (app.lifecycle) decides when a change queues something (an invite sent queues
the first follow-up, waiting for the acceptance; an acceptance gives it its due time; a message
queues the next step); these helpers write the pending entries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.domain.actions import MESSAGE_KIND
from app.domain.pacing import WaitingReason
from app.domain.statuses import ActivityKind, CampaignType, Outcome
from app.models import Activity, Campaign, Contact
from app.queue import repository


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
    delay = repository.step_delay(session, campaign.id, position)
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
    if (
        campaign.type is not CampaignType.CONNECTION
        or repository.step_delay(session, campaign.id, 1) is None
    ):
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
    delay = repository.step_delay(session, campaign.id, contact.follow_ups_sent + 1)
    if delay is None or contact.replied or contact.muted:
        return
    waiting = repository.pending_of(session, contact.id, ActivityKind.FOLLOW_UP)
    due = now + timedelta(days=delay)
    if waiting is not None:
        waiting.scheduled_for = due
        waiting.expected_at = due
        waiting.waiting_reason = WaitingReason.FOLLOW_UP_DELAY.value if due > now else None
    else:
        queue_next_message(session, contact=contact, campaign=campaign, now=now, after=now)
