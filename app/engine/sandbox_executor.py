"""The sandbox's side of LinkedIn: what the simulated network did on its own since the last tick
(acceptances, replies), and one leased action run against it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.domain.errors import ErrorCode
from app.domain.pacing import ROLLING_WEEK
from app.domain.statuses import ActivityKind, ContactStatus
from app.domain.transitions import ContactEvent, EventDetail
from app.engine import repository, sandbox
from app.engine.leasing import LeasedAction, note_too_long
from app.engine.results import ActionResult
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause
from app.models import Activity, Campaign, Contact
from app.queue.repository import has_pending


def observe_sandbox(session: Session, *, now: datetime) -> tuple[int, int]:
    """What the simulated LinkedIn did on its own since the last tick: acceptances and replies."""
    accepted = replied = 0
    # An invitation LinkedIn still shows: sent and not withdrawn there yet (a withdrawal that
    # has not gone out leaves it open). Columns only: this reads every open invite of the last
    # weeks, so no ORM object per row.
    candidates = repository.open_invites_since(session, since=now - timedelta(days=40))
    due = [
        (cid, at)
        for cid, url, invited_at in candidates
        if invited_at is not None
        and (at := sandbox.accepted_at(url, invited_at)) is not None
        and at <= now
    ]
    for contact_id, at in due:
        contact = session.get_one(Contact, contact_id)
        withdrawal_pending = has_pending(session, contact.id, [ActivityKind.WITHDRAW_INVITE])
        if contact.status is ContactStatus.WITHDRAWN and not withdrawal_pending:
            continue  # withdrawn on LinkedIn already: the acceptance cannot happen
        campaign = session.get_one(Campaign, contact.campaign_id)
        lifecycle.apply_event(
            session,
            contact=contact,
            campaign=campaign,
            event=ContactEvent.INVITE_ACCEPTED,
            now=max(at, contact.status_changed_at),
            cause=Cause.ENGINE,
            detail=EventDetail(withdrawal_pending=withdrawal_pending),
            extra={"reported_by": "sandbox"},
            explain=False,
        )
        accepted += 1
    messaged = repository.messaged_since(session, since=now - timedelta(days=7))
    for contact_id, url, last in messaged:
        at = sandbox.replied_at(url, last) if last is not None else None
        if at is None or at > now:
            continue
        contact = session.get_one(Contact, contact_id)
        campaign = session.get_one(Campaign, contact.campaign_id)
        lifecycle.apply_event(
            session,
            contact=contact,
            campaign=campaign,
            event=ContactEvent.REPLY_RECEIVED,
            now=at,
            cause=Cause.ENGINE,
            extra={"reported_by": "sandbox"},
            explain=False,
        )
        replied += 1
    return accepted, replied


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
