"""The engine's use cases (SPEC §3, §5): sweeps, queueing, leasing, applying results.

A tick: withdraw stale invites and free old withdrawals (set-based); fill each sender's queues with
the contacts that need an action next (bounded by the caps' horizon); lease due actions within the
sender's caps; apply each result through the domain, with its activity entry, in one transaction;
refresh why every queued action waits and when it should go out.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.contacts.repository import has_pending
from app.domain.actions import (
    KINDS_OF,
    MESSAGE_KIND,
    MESSAGE_KINDS,
    QUEUE_HORIZON_DAYS,
    cooldown_after_rate_limit,
    retry_at,
)
from app.domain.errors import ErrorCode
from app.domain.messages import NOTE_LIMITS, check_note, render
from app.domain.pacing import CappedAction, WaitingReason, available_slots
from app.domain.statuses import ActivityKind, CampaignType, ContactStatus, Outcome
from app.domain.transitions import REINVITE_AFTER, ContactEvent, EventDetail
from app.engine import queue, repository
from app.engine.explain import explain_sender
from app.errors import Conflict, NotFound, ValidationFailed
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause
from app.models import Activity, Campaign, Contact, FollowUpStep, SenderAccount
from app.senders.service import sender_pacing

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class ActionResult:
    """What an executor reports for one action."""

    success: bool
    degree: int | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    accepted: bool = False
    replied: bool = False


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


# ---------------------------------------------------------------- sweeps


def withdraw_stale_invites(session: Session, *, now: datetime) -> int:
    """Every invite older than its workspace's limit (default 20 days) becomes withdrawn, with a
    withdraw_invite action queued (Pending until it runs, within the daily withdrawal cap)."""
    return sum(
        lifecycle.expire_invites(session, workspace_id=workspace_id, withdraw_after=days, now=now)
        for workspace_id, days in repository.workspaces_withdraw_after(session).items()
    )


def release_old_withdrawals(session: Session, *, now: datetime, limit: int = 10_000) -> int:
    """Withdrawn contacts with a re-invite left become not connected 3 weeks after the withdrawal
    went out; the others stay withdrawn (their log said so when the invite was withdrawn)."""
    contacts = repository.reinvitable_contacts(session, cutoff=now - REINVITE_AFTER, limit=limit)
    campaigns = repository.campaigns_by_id(session, {x.campaign_id for x in contacts})
    for contact in contacts:
        lifecycle.apply_event(
            session,
            contact=contact,
            campaign=campaigns[contact.campaign_id],
            event=ContactEvent.REINVITE_ALLOWED,
            now=now,
            cause=Cause.ENGINE,
            explain=False,
        )
    return len(contacts)


def queue_manual_withdrawals(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    contact_ids: Sequence[int],
    now: datetime,
) -> int:
    """Withdraw chosen invites by hand: each contact becomes withdrawn with a Pending withdraw_invite
    (it obeys the daily withdrawal cap). Contacts that are not invite_sent are refused with 409."""
    contacts = repository.contacts_for_update(
        session, workspace_id=workspace_id, campaign_id=campaign_id, contact_ids=contact_ids
    )
    missing = set(contact_ids) - {c.id for c in contacts}
    if missing:
        raise NotFound(
            f"Contacts not in campaign {campaign_id}: {', '.join(map(str, sorted(missing)))}"
        )
    campaign = session.get_one(Campaign, campaign_id)
    for contact in contacts:
        lifecycle.apply_event(
            session,
            contact=contact,
            campaign=campaign,
            event=ContactEvent.INVITE_WITHDRAWN,
            now=now,
            cause=Cause.PAGE,
            extra={"reason": "manual"},
            pending=True,
            explain=False,
        )
    if campaign.sender_id is not None:
        explain_sender(session, sender_id=campaign.sender_id, now=now)
    return len(contacts)


# ---------------------------------------------------------------- queues


def _first_step_cutoff(
    session: Session, sender_id: int, types: Sequence[CampaignType], now: datetime
) -> dict[int, datetime]:
    rows = session.execute(
        select(Campaign.id, FollowUpStep.delay_days)
        .join(FollowUpStep, FollowUpStep.campaign_id == Campaign.id)
        .where(
            Campaign.sender_id == sender_id, Campaign.type.in_(types), FollowUpStep.position == 1
        )
    ).all()
    return {cid: now - timedelta(days=delay) for cid, delay in rows}


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
        cutoffs = _first_step_cutoff(session, sender.id, [campaign_type], now)
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


# ---------------------------------------------------------------- leasing


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
        recent = repository.sent_times(
            session, sender_id=sender.id, kinds=kinds, since=now - WEEK, now=now
        )
        slots = available_slots(pacing, cap, recent=recent, now=now)
        for action in due[: max(0, slots)]:
            action.lease_token = token
            action.leased_until = now + lease_for
            action.attempts += 1
            leased.append(action)
    if not leased:
        return []
    contacts = {
        c.id: c
        for c in session.scalars(
            select(Contact).where(Contact.id.in_({a.contact_id for a in leased}))
        )
    }
    campaigns = {
        c.id: c
        for c in session.scalars(
            select(Campaign).where(Campaign.id.in_({a.campaign_id for a in leased}))
        )
    }
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
        template = session.scalar(
            select(FollowUpStep.template).where(
                FollowUpStep.campaign_id == campaign.id, FollowUpStep.position == action.step
            )
        )
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


# ---------------------------------------------------------------- results


SUCCESS_EVENT: dict[ActivityKind, ContactEvent | None] = {
    ActivityKind.PROFILE_VISIT: ContactEvent.PROFILE_VISITED,
    ActivityKind.CONNECTION_REQUEST: ContactEvent.INVITE_SENT,
    ActivityKind.FOLLOW_UP: ContactEvent.MESSAGE_SENT,
    ActivityKind.INMAIL: ContactEvent.MESSAGE_SENT,
    ActivityKind.GROUP_MESSAGE: ContactEvent.MESSAGE_SENT,
    ActivityKind.WITHDRAW_INVITE: None,
}


def _same_result(action: Activity, result: ActionResult) -> bool:
    if result.success:
        return action.outcome is Outcome.SUCCESS
    return action.outcome is Outcome.ERROR and action.error_code == result.error_code


def report_result(
    session: Session,
    *,
    action_id: int,
    lease_token: str,
    result: ActionResult,
    now: datetime,
    workspace_id: int | None = None,
    explain: bool = True,
) -> Activity:
    """Apply an executor's result once. A repeat of the same report changes nothing; a report
    under another lease (or after the lease was taken over) is refused with Conflict, and so is
    the result of an action a change made moot meanwhile (code `moot`: it was never needed)."""
    action = repository.action_for_update(session, action_id)
    if action is None or (workspace_id is not None and action.workspace_id != workspace_id):
        raise NotFound(f"Action {action_id} not found")
    if action.lease_token != lease_token:
        raise Conflict(
            f"Action {action_id} is leased under another lease; this report was not applied"
        )
    if action.outcome is Outcome.SKIPPED:
        raise Conflict(
            f"Action {action_id} was settled as skipped while it was out "
            f"({lifecycle.skip_reason_label(action.detail.get('reason'))}); "
            "its result was not applied",
            code="moot",
        )
    if action.outcome is not Outcome.PENDING:
        if _same_result(action, result):
            return action
        raise Conflict(f"Action {action_id} was already reported as {action.outcome.value}")
    if not result.success and result.error_code is None:
        raise ValidationFailed(
            "A failed action needs an error_code", {"error_code": [e.value for e in ErrorCode]}
        )
    complete_action(session, action=action, result=result, now=now)
    if explain and action.sender_id is not None:
        explain_sender(session, sender_id=action.sender_id, now=now)
    return action


def complete_action(
    session: Session, *, action: Activity, result: ActionResult, now: datetime
) -> None:
    """Turn one result into a domain transition and an activity update, in the caller's
    transaction, through the lifecycle owner."""
    contact = repository.contact_for_update(session, action.contact_id)
    campaign = session.get_one(Campaign, action.campaign_id)
    if result.success:
        event = SUCCESS_EVENT[action.kind]
        if event is None:
            lifecycle.complete_withdrawal(session, action=action, contact=contact, now=now)
        else:
            lifecycle.apply_event(
                session,
                contact=contact,
                campaign=campaign,
                event=event,
                now=now,
                cause=Cause.ENGINE,
                detail=EventDetail(degree=result.degree),
                action=action,
                step=action.step,
                explain=False,
            )
        if result.accepted and contact.status is ContactStatus.INVITE_SENT:
            lifecycle.apply_event(
                session,
                contact=contact,
                campaign=campaign,
                event=ContactEvent.INVITE_ACCEPTED,
                now=now,
                cause=Cause.ENGINE,
                extra={"reported_by": "executor"},
                explain=False,
            )
        if (
            result.replied
            and contact.status is not ContactStatus.NOT_VERIFIED
            and not contact.replied
        ):
            lifecycle.apply_event(
                session,
                contact=contact,
                campaign=campaign,
                event=ContactEvent.REPLY_RECEIVED,
                now=now,
                cause=Cause.ENGINE,
                extra={"reported_by": "executor"},
                explain=False,
            )
        return
    code = result.error_code or ErrorCode.OTHER
    lifecycle.fail_action(
        session,
        action=action,
        contact=contact,
        campaign=campaign,
        detail=EventDetail(error_code=code, error_message=result.error_message),
        now=now,
    )
    cooldown = None
    if code is ErrorCode.TOO_MANY_REQUESTS and action.sender_id is not None:
        sender = session.get_one(SenderAccount, action.sender_id)
        invites = repository.sent_times(
            session,
            sender_id=sender.id,
            kinds=KINDS_OF[CappedAction.INVITE],
            since=now - WEEK,
            now=now,
        )
        cooldown = cooldown_after_rate_limit(invites, now)
        sender.cooldown_until = max(sender.cooldown_until or cooldown, cooldown)
        action.detail = {**action.detail, "cooldown_until": cooldown.isoformat()}
    again = retry_at(code, action.attempts, now, cooldown)
    if again is not None and not contact.muted:
        queue.queue_action(
            session,
            contact=contact,
            campaign=campaign,
            kind=action.kind,
            now=now,
            scheduled_for=again,
            waiting_reason=WaitingReason.COOLDOWN,
            step=action.step,
            attempts=action.attempts,
            detail={"retry_of": action.id},
        )
    session.flush()


# ---------------------------------------------------------------- the sandbox's side of LinkedIn


def observe_sandbox(session: Session, *, now: datetime) -> tuple[int, int]:
    """What the simulated LinkedIn did on its own since the last tick: acceptances and replies."""
    from app.engine import sandbox

    accepted = replied = 0
    # An invitation LinkedIn still shows: sent and not withdrawn there yet (a withdrawal that
    # has not gone out leaves it open). Columns only: this reads every open invite of the last
    # weeks, so no ORM object per row.
    withdrawal_waits = (
        select(Activity.id)
        .where(
            Activity.contact_id == Contact.id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind == ActivityKind.WITHDRAW_INVITE,
        )
        .exists()
    )
    candidates = session.execute(
        select(Contact.id, Contact.linkedin_url, Contact.invited_at).where(
            Contact.status.in_([ContactStatus.INVITE_SENT, ContactStatus.WITHDRAWN]),
            Contact.invited_at > now - timedelta(days=40),
            Contact.campaign_id.in_(
                select(Campaign.id).where(Campaign.type == CampaignType.CONNECTION)
            ),
            or_(Contact.status == ContactStatus.INVITE_SENT, withdrawal_waits),
        )
    ).all()
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
    messaged = session.execute(
        select(Contact.id, Contact.linkedin_url, Contact.last_message_at).where(
            Contact.replied.is_(False),
            Contact.last_message_at > now - timedelta(days=7),
            Contact.status != ContactStatus.NOT_VERIFIED,
        )
    ).all()
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
    from app.engine import sandbox

    activity = session.get_one(Activity, action.id)
    too_long = note_too_long(session, activity)
    if too_long:
        return ActionResult(
            success=False, error_code=ErrorCode.MESSAGE_TOO_LONG, error_message=too_long
        )
    invites = 0
    if action.kind is ActivityKind.CONNECTION_REQUEST:  # LinkedIn's hidden weekly limit
        invites = repository.successes_since(
            session, sender_id=sender_id, kind=ActivityKind.CONNECTION_REQUEST, since=now - WEEK
        )
    outcome = sandbox.perform(action.kind, action.linkedin_url, invites_last_week=max(0, invites))
    return ActionResult(
        success=outcome.success,
        degree=outcome.degree,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
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


def is_moot(session: Session, action: LeasedAction) -> bool:
    """Whether a leased action was settled meanwhile (a reply, muting, an acceptance, the
    integration doing it): it is not sent."""
    return repository.outcome_of(session, action.id) is not Outcome.PENDING
