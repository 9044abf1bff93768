"""The sandbox's side of LinkedIn: what the simulated network did on its own since the last tick
(acceptances, replies), and one leased action run against it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, sessionmaker

from app.domain.errors import ErrorCode
from app.domain.pacing import ROLLING_WEEK
from app.domain.statuses import ActivityKind, ContactStatus
from app.domain.transitions import ContactEvent, EventDetail
from app.engine import repository, sandbox
from app.engine.leasing import LeasedAction, note_too_long
from app.engine.results import ActionResult
from app.errors import Conflict
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause
from app.models import Activity, Campaign
from app.queue.repository import has_pending


def observe_sandbox(factory: sessionmaker[Session], *, now: datetime) -> tuple[int, int]:
    """What the simulated LinkedIn did on its own since the last tick: acceptances and replies.

    Each one is applied in a transaction of its own, the contact locked first (as every writer
    locks it before its campaign's counts): a tick's hundreds of acceptances in one transaction
    held many contacts and counts at once, and an integration's event on one of those contacts
    deadlocked with it on PostgreSQL. One engine process observes at a time (the sweep's lock)."""
    with factory.begin() as session:
        if not repository.try_exclusive(session, "engine-sweep"):
            return 0, 0
        # Columns only: this reads every open invite of the last weeks, no ORM object per row.
        candidates = repository.open_invites_since(session, since=now - timedelta(days=40))
        messaged = repository.messaged_since(session, since=now - timedelta(days=7))
    acceptances = [
        (cid, at)
        for cid, url, invited_at in candidates
        if invited_at is not None
        and (at := sandbox.accepted_at(url, invited_at)) is not None
        and at <= now
    ]
    replies = [
        (cid, at)
        for cid, url, last in messaged
        if last is not None and (at := sandbox.replied_at(url, last)) is not None and at <= now
    ]
    # In id order, so two engine processes would meet on the contacts in the same order.
    accepted = sum(_observed(factory, cid, at, accepted=True) for cid, at in sorted(acceptances))
    replied = sum(_observed(factory, cid, at, accepted=False) for cid, at in sorted(replies))
    return accepted, replied


def _observed(
    factory: sessionmaker[Session], contact_id: int, at: datetime, *, accepted: bool
) -> bool:
    """Apply one acceptance (or reply) if the contact still stands where it did when read."""
    with factory.begin() as session:
        if not repository.try_exclusive(session, "engine-sweep"):
            return False  # another engine process observes now
        try:
            contact = repository.contact_for_update(session, contact_id)
        except NoResultFound:
            return False  # gone meanwhile (an import undone)
        if accepted:
            withdrawal_pending = has_pending(session, contact.id, [ActivityKind.WITHDRAW_INVITE])
            still_open = contact.status is ContactStatus.INVITE_SENT or (
                contact.status is ContactStatus.WITHDRAWN and withdrawal_pending
            )
            if not still_open:
                return False  # connected, withdrawn on LinkedIn or moved on meanwhile
            event, when = ContactEvent.INVITE_ACCEPTED, max(at, contact.status_changed_at)
            detail = EventDetail(withdrawal_pending=withdrawal_pending)
        else:
            if contact.replied:
                return False  # the integration reported it meanwhile
            event, when, detail = ContactEvent.REPLY_RECEIVED, at, None
        try:
            lifecycle.apply_event(
                session,
                contact=contact,
                campaign=session.get_one(Campaign, contact.campaign_id),
                event=event,
                now=when,
                cause=Cause.ENGINE,
                detail=detail,
                extra={"reported_by": "sandbox"},
                explain=False,
            )
        except Conflict:
            return False  # no longer a valid change for this contact
    return True


def sandbox_result(
    session: Session, action: LeasedAction, *, sender_id: int, now: datetime
) -> ActionResult:
    """Run one leased action against the simulated LinkedIn."""
    activity = session.get_one(Activity, action.id)
    too_long = note_too_long(session, activity)
    if too_long:
        return ActionResult(
            success=False, error_code=ErrorCode.MESSAGE_TOO_LONG, error_message=too_long
        )
    invites = 0
    if action.kind is ActivityKind.CONNECTION_REQUEST:  # LinkedIn's hidden weekly limit
        invites = repository.successes_since(
            session,
            sender_id=sender_id,
            kind=ActivityKind.CONNECTION_REQUEST,
            since=now - ROLLING_WEEK,
        )
    outcome = sandbox.perform(action.kind, action.linkedin_url, invites_last_week=max(0, invites))
    return ActionResult(
        success=outcome.success,
        degree=outcome.degree,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
    )
