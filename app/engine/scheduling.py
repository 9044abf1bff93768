"""Filling each sender's queues with the contacts that need an action next (bounded by the caps'
horizon), and recording why each queued action waits and when it should go out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.domain.actions import (
    KINDS_OF,
    MESSAGE_KIND,
    QUEUE_HORIZON_DAYS,
)
from app.domain.pacing import CappedAction
from app.domain.statuses import ActivityKind, CampaignType, ContactStatus
from app.engine import repository
from app.models import Contact, SenderAccount
from app.queue.explain import explain_sender
from app.senders.service import sender_pacing


def fill_queues(session: Session, *, sender: SenderAccount, now: datetime) -> int:
    """Queue the contacts that need an action next, up to the caps' horizon, so the queue stays
    bounded by what the sender can do in a week, not by the size of its campaigns."""
    repository.lock_sender(session, sender.id)
    pacing = sender_pacing(sender)
    added = 0

    def room(cap: CappedAction) -> int:
        horizon = pacing.limits.daily_cap(cap) * QUEUE_HORIZON_DAYS
        return horizon - repository.backlog(
            session, sender_id=sender.id, kinds=KINDS_OF[cap], now=now
        )

    visits = room(CappedAction.PROFILE_VISIT)
    added += repository.enqueue_candidates(
        session,
        sender_id=sender.id,
        kind=ActivityKind.PROFILE_VISIT,
        campaign_types=[CampaignType.CONNECTION, CampaignType.INMAIL, CampaignType.GROUPS_EVENTS],
        statuses=[ContactStatus.NOT_VERIFIED],
        extra=[],
        now=now,
        limit=visits,
    )
    invites = room(CappedAction.INVITE)
    added += repository.enqueue_candidates(
        session,
        sender_id=sender.id,
        kind=ActivityKind.CONNECTION_REQUEST,
        campaign_types=[CampaignType.CONNECTION],
        statuses=[ContactStatus.NOT_CONNECTED],
        extra=[Contact.email_required.is_(False), repository.may_be_invited()],
        now=now,
        limit=invites,
    )
    # First messages: existing connections, and verified InMail / group contacts, once step 1 is due.
    for campaign_type, status, cap in (
        (CampaignType.EXISTING_CONNECTIONS, ContactStatus.CONNECTED, CappedAction.FOLLOW_UP),
        (CampaignType.INMAIL, ContactStatus.NOT_CONNECTED, CappedAction.INMAIL),
        (CampaignType.GROUPS_EVENTS, ContactStatus.NOT_CONNECTED, CappedAction.FOLLOW_UP),
    ):
        cutoffs = repository.first_step_cutoffs(session, sender.id, [campaign_type], now)
        for campaign_id, cutoff in cutoffs.items():
            added += repository.enqueue_candidates(
                session,
                sender_id=sender.id,
                kind=MESSAGE_KIND[campaign_type],
                campaign_types=[campaign_type],
                statuses=[status],
                extra=[
                    Contact.campaign_id == campaign_id,
                    Contact.follow_ups_sent == 0,
                    Contact.replied.is_(False),
                    Contact.status_changed_at <= cutoff,
                ],
                now=now,
                limit=room(cap),
                step=1,
            )
    return added


def refresh_expectations(session: Session, *, sender: SenderAccount, now: datetime) -> None:
    """Record on each queued action why it waits and when it should go out."""
    explain_sender(session, sender_id=sender.id, now=now)
