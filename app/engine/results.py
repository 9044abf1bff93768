"""Applying an executor's result once: a domain transition and its activity entry through the
lifecycle owner, retries and the rate-limit cooldown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.domain.actions import (
    KINDS_OF,
    cooldown_after_rate_limit,
    retry_at,
)
from app.domain.errors import ErrorCode
from app.domain.pacing import ROLLING_WEEK, CappedAction, WaitingReason
from app.domain.statuses import ActivityKind, ContactStatus, Outcome
from app.domain.transitions import ContactEvent, EventDetail
from app.engine import repository
from app.errors import Conflict, NotFound, ValidationFailed
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause
from app.models import Activity, Campaign, Contact, SenderAccount
from app.queue import repository as queue_repository
from app.queue import service as queue
from app.queue.explain import explain_sender


@dataclass(frozen=True)
class ActionResult:
    """What an executor reports for one action."""

    success: bool
    degree: int | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    accepted: bool = False
    replied: bool = False


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
    held = lock_for_result(session, action_id, workspace_id=workspace_id)
    return apply_result(
        session, held, lease_token=lease_token, result=result, now=now, explain=explain
    )


@dataclass(frozen=True)
class Held:
    """An action and its contact, both locked for its result."""

    contact: Contact
    action: Activity


def lock_for_result(session: Session, action_id: int, *, workspace_id: int | None = None) -> Held:
    """The action and its contact, locked: the contact first, then the action (every writer locks
    a contact before its actions: an event settles the contact's pending ones, so the other order
    deadlocked with them). NotFound when either is gone, or is another workspace's."""
    contact = repository.lock_contact_of_action(session, action_id)
    action = repository.action_for_update(session, action_id)
    if (
        contact is None
        or action is None
        or (workspace_id is not None and action.workspace_id != workspace_id)
    ):
        raise NotFound(f"Action {action_id} not found")
    return Held(contact, action)


def apply_result(
    session: Session,
    held: Held,
    *,
    lease_token: str,
    result: ActionResult,
    now: datetime,
    explain: bool = True,
) -> Activity:
    """`report_result` on an action `lock_for_result` holds."""
    action, action_id = held.action, held.action.id
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
    complete_action(session, action=action, result=result, now=now, contact=held.contact)
    if explain and action.sender_id is not None:
        explain_sender(session, sender_id=action.sender_id, now=now)
    return action


def complete_action(
    session: Session,
    *,
    action: Activity,
    result: ActionResult,
    now: datetime,
    contact: Contact | None = None,
) -> None:
    """Turn one result into a domain transition and an activity update, in the caller's
    transaction, through the lifecycle owner. `contact`: the action's, when the caller already
    holds its lock; otherwise it is locked here."""
    if contact is None:
        contact = repository.contact_for_update(session, action.contact_id)

    def campaign() -> Campaign:
        # Read when needed (the session's identity map keeps it): a withdrawal needs none.
        return session.get_one(Campaign, action.campaign_id)

    if result.success:
        event = SUCCESS_EVENT[action.kind]
        if event is None:
            lifecycle.complete_withdrawal(session, action=action, contact=contact, now=now)
        else:
            lifecycle.apply_event(
                session,
                contact=contact,
                campaign=campaign(),
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
                campaign=campaign(),
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
                campaign=campaign(),
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
        campaign=campaign(),
        detail=EventDetail(error_code=code, error_message=result.error_message),
        now=now,
    )
    cooldown = None
    if code is ErrorCode.TOO_MANY_REQUESTS and action.sender_id is not None:
        sender = session.get_one(SenderAccount, action.sender_id)
        invites = queue_repository.sent_times(
            session,
            sender_id=sender.id,
            kinds=KINDS_OF[CappedAction.INVITE],
            since=now - ROLLING_WEEK,
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
            campaign=campaign(),
            kind=action.kind,
            now=now,
            scheduled_for=again,
            waiting_reason=WaitingReason.COOLDOWN,
            step=action.step,
            attempts=action.attempts,
            detail={"retry_of": action.id},
        )
    session.flush()
