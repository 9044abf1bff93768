"""Handing due actions out within the sender's caps (SPEC §5): to the in-process sandbox executor
or to an external one through the API, with each message rendered."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.domain.actions import (
    KINDS_OF,
    MESSAGE_KINDS,
)
from app.domain.errors import ErrorCode
from app.domain.messages import NOTE_LIMITS, check_note, render
from app.domain.pacing import ROLLING_WEEK, CappedAction, available_slots
from app.domain.statuses import ActivityKind
from app.engine import repository
from app.engine.results import ActionResult, complete_action
from app.engine.scheduling import fill_queues, refresh_expectations
from app.errors import NotFound
from app.models import Activity, Campaign, Contact, SenderAccount
from app.queue import repository as queue_repository
from app.senders.service import sender_pacing


@dataclass(frozen=True)
class LeasedAction:
    id: int
    kind: ActivityKind
    contact_id: int
    campaign_id: int
    linkedin_url: str
    message: str | None
    lease_token: str
    leased_until: datetime


def lease_due_actions(
    session: Session,
    *,
    sender_id: int,
    limit: int,
    lease_for: timedelta,
    now: datetime,
    workspace_id: int | None = None,
) -> list[LeasedAction]:
    """Hand out up to `limit` due actions of this sender, never more than its caps allow now.

    The sender row is locked while deciding, and due rows are taken FOR UPDATE SKIP LOCKED, so any
    number of engine processes share one queue without executing an action twice.
    """
    sender = repository.lock_sender(session, sender_id)
    if sender is None or (workspace_id is not None and sender.workspace_id != workspace_id):
        raise NotFound(f"Sender account {sender_id} not found")
    pacing = sender_pacing(sender)
    token = secrets.token_hex(16)
    leased: list[Activity] = []
    for cap in CappedAction:
        if len(leased) >= limit:
            break
        kinds = KINDS_OF[cap]
        due = repository.due_actions(
            session, sender_id=sender.id, kinds=kinds, now=now, limit=limit - len(leased)
        )
        if not due:
            continue  # nothing waiting: the week's history need not be read
        recent = queue_repository.sent_times(
            session, sender_id=sender.id, kinds=kinds, since=now - ROLLING_WEEK, now=now
        )
        slots = available_slots(pacing, cap, recent=recent, now=now)
        for action in due[: max(0, slots)]:
            action.lease_token = token
            action.leased_until = now + lease_for
            action.attempts += 1
            leased.append(action)
    if not leased:
        return []
    contacts = repository.contacts_by_id(session, {a.contact_id for a in leased})
    campaigns = repository.campaigns_by_id(session, {a.campaign_id for a in leased})
    out = []
    for action in leased:
        contact, campaign = contacts[action.contact_id], campaigns[action.campaign_id]
        action.message = _render_message(session, action, contact, campaign) or action.message
        out.append(
            LeasedAction(
                id=action.id,
                kind=action.kind,
                contact_id=contact.id,
                campaign_id=campaign.id,
                linkedin_url=contact.linkedin_url,
                message=action.message,
                lease_token=token,
                leased_until=now + lease_for,
            )
        )
    session.flush()
    return out


def _fields(contact: Contact) -> dict[str, str | None]:
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": contact.company,
        "title": contact.title,
    }


def _render_message(
    session: Session, action: Activity, contact: Contact, campaign: Campaign
) -> str | None:
    if action.kind is ActivityKind.CONNECTION_REQUEST:
        return (
            render(campaign.connection_template, _fields(contact))
            if campaign.connection_template
            else None
        )
    if action.kind in MESSAGE_KINDS and action.step is not None:
        template = repository.step_template(session, campaign.id, action.step)
        return render(template, _fields(contact)) if template else None
    return None


def note_too_long(session: Session, action: Activity) -> str | None:
    """For a connection request whose rendered note exceeds the tier's limit: the error to record."""
    if action.kind is not ActivityKind.CONNECTION_REQUEST:
        return None
    contact = session.get_one(Contact, action.contact_id)
    campaign = session.get_one(Campaign, action.campaign_id)
    sender = session.get_one(SenderAccount, campaign.sender_id)
    note = check_note(campaign.connection_template, _fields(contact), sender.tier)
    if note.fits:
        return None
    return (
        f"The rendered note has {note.length} characters; a {sender.tier.value} sender allows "
        f"{NOTE_LIMITS[sender.tier]} (over by {note.over_by})"
    )


def lease_for_executor(
    session: Session,
    *,
    workspace_id: int,
    sender_id: int,
    limit: int,
    lease_for: timedelta,
    now: datetime,
) -> list[LeasedAction]:
    """The API's lease: top up the sender's queues, then lease within its caps.

    A connection request whose note is too long for the tier fails here, without being handed out.
    """
    sender = session.get(SenderAccount, sender_id)
    if sender is None or sender.workspace_id != workspace_id:
        raise NotFound(f"Sender account {sender_id} not found")
    fill_queues(session, sender=sender, now=now)
    leased = lease_due_actions(
        session,
        sender_id=sender_id,
        limit=limit,
        lease_for=lease_for,
        now=now,
        workspace_id=workspace_id,
    )
    out = []
    for action in leased:
        activity = session.get_one(Activity, action.id)
        too_long = note_too_long(session, activity)
        if too_long:
            complete_action(
                session,
                action=activity,
                result=ActionResult(
                    success=False, error_code=ErrorCode.MESSAGE_TOO_LONG, error_message=too_long
                ),
                now=now,
            )
            continue
        out.append(action)
    refresh_expectations(session, sender=sender, now=now)
    return out
