"""The one owner of a contact's life cycle (SPEC §2 "Transitions"; STYLE.md "One owner per change").

Every change of a contact — an integration's event, an engine result, a page action, a sweep, a bulk
add or an import — is made here, by one of two entry points:

- `apply_event`: one contact. Runs the domain transition, writes the status and the activity entry
  (or completes the pending action it reports on), keeps the counts, settles the pending actions
  the change made moot (`skipped`, with the reason), arms what comes next (the first follow-up
  after an acceptance, the next step after a message) and re-explains the sender's queue.
- the set-based batch entries, for the sweep, bulk adds and imports: `expire_invites` (one UPDATE,
  one activity INSERT … SELECT, one counts change) and `insert_new_contacts` (the initial status
  and counts of a batch of new contacts, one statement).

Every change writes its events (SPEC §4 Events) through app.events.outbox in the same transaction:
`contact.status_changed`, `contact.replied` and `activity.completed` for one contact; one multi-row
INSERT of `contact.created`, `contact.status_changed` or `contact.deleted` events for a batch.

A runtime guard (app.lifecycle.guard) fails any write of `contacts.status` made elsewhere.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from app.domain.actions import MESSAGE_KIND, MESSAGE_KINDS, action_applies
from app.domain.errors import ERROR_LABELS, ActionError, ErrorCode
from app.domain.pacing import CappedAction, WaitingReason
from app.domain.statuses import ActivityKind, CampaignType, ContactSource, ContactStatus, Outcome
from app.domain.transitions import (
    EVENT_LABELS,
    ContactEvent,
    ContactState,
    EventDetail,
    initial_status,
    may_be_invited,
    transition,
)
from app.events import outbox
from app.events.types import EventType
from app.lifecycle import counts, repository
from app.lifecycle.guard import owning
from app.models import Activity, Campaign, Contact, Workspace
from app.queue import service as queue
from app.queue.explain import explain_sender


class Cause(StrEnum):
    """Who made a change (the `cause` of SPEC §4 Events)."""

    EVENT = "event"  # an integration's report
    ENGINE = "engine"
    PAGE = "page"
    IMPORT = "import"
    API = "api"


# What an event does itself: a pending action of this kind is settled as done elsewhere.
DONE_BY: dict[ContactEvent, frozenset[ActivityKind]] = {
    ContactEvent.PROFILE_VISITED: frozenset({ActivityKind.PROFILE_VISIT}),
    ContactEvent.INVITE_SENT: frozenset({ActivityKind.CONNECTION_REQUEST}),
    ContactEvent.MESSAGE_SENT: MESSAGE_KINDS,
}
EVENT_KIND = {
    ContactEvent.PROFILE_VISITED: ActivityKind.PROFILE_VISIT,
    ContactEvent.INVITE_SENT: ActivityKind.CONNECTION_REQUEST,
    ContactEvent.INVITE_WITHDRAWN: ActivityKind.WITHDRAW_INVITE,
    ContactEvent.INVITE_EXPIRED: ActivityKind.WITHDRAW_INVITE,
}


def activity_kind_for(event: ContactEvent, campaign_type: CampaignType) -> ActivityKind:
    """The log's kind for an event reported without an action of ours."""
    if event is ContactEvent.MESSAGE_SENT:
        return MESSAGE_KIND[campaign_type]
    if event is ContactEvent.ACTION_FAILED:
        if campaign_type is CampaignType.CONNECTION:
            return ActivityKind.CONNECTION_REQUEST
        return MESSAGE_KIND[campaign_type]
    return EVENT_KIND.get(event, ActivityKind.EVENT)


def contact_state(contact: Contact) -> ContactState:
    """The part of a stored contact the domain's transitions read."""
    return ContactState(
        status=contact.status,
        status_changed_at=contact.status_changed_at,
        invited_at=contact.invited_at,
        connected_at=contact.connected_at,
        withdrawn_at=contact.withdrawn_at,
        last_error=(
            ActionError(contact.error_code, contact.error_message or "")
            if contact.error_code
            else None
        ),
        replied=contact.replied,
        email_required=contact.email_required,
        invites_sent=contact.invites_sent,
    )


def state_columns(state: ContactState) -> dict[str, Any]:
    """A domain state as the contact's columns."""
    return {
        "status": state.status,
        "status_changed_at": state.status_changed_at,
        "invited_at": state.invited_at,
        "connected_at": state.connected_at,
        "withdrawn_at": state.withdrawn_at,
        "replied": state.replied,
        "email_required": state.email_required,
        "invites_sent": state.invites_sent,
        "error_code": state.last_error.code if state.last_error else None,
        "error_message": state.last_error.message[:1000] if state.last_error else None,
    }


def _store(contact: Contact, state: ContactState) -> None:
    columns = state_columns(state)
    columns["status_changed_at"] = columns["status_changed_at"] or contact.status_changed_at
    for name, value in columns.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)


def withdraw_after_days(session: Session, workspace_id: int) -> int:
    return session.get_one(Workspace, workspace_id).withdraw_after_days


# ---------------------------------------------------------------- one contact


def apply_event(
    session: Session,
    *,
    contact: Contact,
    campaign: Campaign,
    event: ContactEvent,
    now: datetime,
    cause: Cause,
    detail: EventDetail | None = None,
    action: Activity | None = None,
    kind: ActivityKind | None = None,
    message: str | None = None,
    step: int | None = None,
    extra: Mapping[str, Any] | None = None,
    pending: bool = False,
    explain: bool = True,
    recorded_at: datetime | None = None,
) -> Activity:
    """Apply one event to one contact, in the caller's transaction; return its log entry.

    `action` is the pending action an engine result reports on: it is completed in place (success,
    or the error) instead of a new entry. `pending` records the entry as a Pending action (a
    withdrawal by hand goes out later, within the daily withdrawal cap). `step` is the follow-up
    step a `message_sent` reports (default: the next unsent one). Raises InvalidTransition; nothing
    is written then.
    """
    state = contact_state(contact)
    new_state = transition(
        state,
        event,
        campaign.type,
        now=now,
        detail=detail,
        withdraw_after_days=withdraw_after_days(session, contact.workspace_id),
        max_reinvites=campaign.max_reinvites,
    )
    before = contact.status
    replied_before = contact.replied
    failed = event is ContactEvent.ACTION_FAILED
    error = new_state.last_error if failed else None
    with owning():
        _store(contact, new_state)
        contact.updated_at = now
        if event is ContactEvent.MESSAGE_SENT:
            step = step or contact.follow_ups_sent + 1
            contact.follow_ups_sent = max(contact.follow_ups_sent, step)
            contact.last_message_at = max(contact.last_message_at or now, now)
        entry = (
            action
            if action is not None
            else Activity(
                workspace_id=contact.workspace_id,
                contact_id=contact.id,
                campaign_id=contact.campaign_id,
                sender_id=campaign.sender_id,
                kind=kind or activity_kind_for(event, campaign.type),
                detail={},
                created_at=now,
                attempts=0,
            )
        )
        entry.outcome = Outcome.ERROR if failed else Outcome.SUCCESS
        entry.completed_at = now
        entry.error_code = error.code if error else None
        entry.error_message = error.message[:1000] if error else None
        if message is not None:
            entry.message = message
        entry.status_from = before
        entry.status_to = new_state.status
        entry.waiting_reason = entry.waiting_cap = None
        entry.expected_at = entry.leased_until = None
        entry.detail = {
            **entry.detail,
            "event": event.value,
            "cause": cause.value,
            **({"degree": detail.degree} if detail and detail.degree is not None else {}),
            **({"step": step} if step is not None and event is ContactEvent.MESSAGE_SENT else {}),
            **(extra or {}),
        }
        if event is ContactEvent.MESSAGE_SENT and entry.step is None:
            entry.step = step
        if new_state.status is ContactStatus.WITHDRAWN and before is not ContactStatus.WITHDRAWN:
            # Whether this person will be invited again, as the campaign's re-invites stand now.
            entry.detail["reinvite"] = may_be_invited(new_state, campaign.max_reinvites)
        if pending:
            entry.outcome = Outcome.PENDING
            entry.completed_at = None
            entry.scheduled_for = now
            entry.waiting_reason = WaitingReason.QUEUED.value
        if action is None:
            session.add(entry)
        session.flush()
        _record_events(
            session,
            contact=contact,
            entry=entry,
            before=before,
            replied_before=replied_before,
            cause=cause,
            occurred_at=now,
            now=recorded_at or now,
        )
        settle_moot(session, contact=contact, campaign=campaign, now=now, cause=event, keep=entry)
        _arm_next(session, contact=contact, campaign=campaign, event=event, before=before, now=now)
        session.flush()
    if explain and campaign.sender_id is not None:
        explain_sender(session, sender_id=campaign.sender_id, now=now)
    return entry


def error_data(code: str | None, message: str | None) -> dict[str, str] | None:
    """An error as events carry it, the API's shape: code, label, message."""
    if code is None:
        return None
    return {"code": code, "label": ERROR_LABELS[ErrorCode(code)], "message": message or ""}


def _activity_completed(contact: Contact, entry: Activity) -> dict[str, Any]:
    return {
        "contact": outbox.contact_summary(contact),
        "activity_id": entry.id,
        "kind": entry.kind.value,
        "outcome": entry.outcome.value,
        "error": error_data(entry.error_code, entry.error_message),
    }


def _record_events(
    session: Session,
    *,
    contact: Contact,
    entry: Activity,
    before: ContactStatus,
    replied_before: bool,
    cause: Cause,
    occurred_at: datetime,
    now: datetime,
) -> None:
    """The events of one contact's change: its new status, a first reply, a completed action."""
    workspace_id = contact.workspace_id
    summary = outbox.contact_summary(contact)
    rows = []
    if contact.status is not before:
        rows.append(
            outbox.event_row(
                workspace_id=workspace_id,
                type=EventType.CONTACT_STATUS_CHANGED,
                data={
                    "contact": summary,
                    "from": before.value,
                    "to": contact.status.value,
                    "cause": cause.value,
                },
                now=now,
                occurred_at=occurred_at,
            )
        )
    if contact.replied and not replied_before:
        rows.append(
            outbox.event_row(
                workspace_id=workspace_id,
                type=EventType.CONTACT_REPLIED,
                data={"contact": summary, "occurred_at": occurred_at.isoformat()},
                now=now,
                occurred_at=occurred_at,
            )
        )
    if entry.outcome in (Outcome.SUCCESS, Outcome.ERROR):
        rows.append(
            outbox.event_row(
                workspace_id=workspace_id,
                type=EventType.ACTIVITY_COMPLETED,
                data=_activity_completed(contact, entry),
                now=now,
                occurred_at=occurred_at,
            )
        )
    outbox.record_many(session, rows)


def complete_withdrawal(
    session: Session, *, action: Activity, contact: Contact, now: datetime
) -> None:
    """A withdraw_invite went out: LinkedIn's 3 weeks before a new invite run from now."""
    with owning():
        if contact.status is ContactStatus.WITHDRAWN:
            contact.withdrawn_at = now
        contact.updated_at = now
        action.outcome = Outcome.SUCCESS
        action.completed_at = now
        action.waiting_reason = action.waiting_cap = None
        action.expected_at = action.leased_until = None
        session.flush()
        outbox.record(
            session,
            workspace_id=contact.workspace_id,
            type=EventType.ACTIVITY_COMPLETED,
            data=_activity_completed(contact, action),
            now=now,
        )


def fail_action(
    session: Session,
    *,
    action: Activity,
    contact: Contact,
    campaign: Campaign,
    detail: EventDetail,
    now: datetime,
    cause: Cause = Cause.ENGINE,
) -> Activity:
    """An action of ours failed: the error is recorded on the contact and on the action.
    Raises InvalidTransition for an error the matrix refuses for this contact."""
    return apply_event(
        session,
        contact=contact,
        campaign=campaign,
        event=ContactEvent.ACTION_FAILED,
        now=now,
        cause=cause,
        detail=detail,
        action=action,
        explain=False,
    )


SKIP_REASON_LABELS = {
    "done_elsewhere": "Already done: the integration reported it",
    "muted": "Not sent: the contact was muted",
    "blacklisted": "Not sent: the contact is blacklisted",
    "campaign_archived": "Not sent: the campaign was archived",
}


def skip_reason_label(reason: str | None) -> str:
    """The sentence a person reads for a skipped entry's `detail.reason`."""
    if reason in SKIP_REASON_LABELS:
        return SKIP_REASON_LABELS[reason]
    try:
        event = ContactEvent(reason or "")
    except ValueError:
        return "Not needed any more"
    return f"Not needed after: {EVENT_LABELS[event].lower()}"


def settle_moot(
    session: Session,
    *,
    contact: Contact,
    campaign: Campaign,
    now: datetime,
    cause: ContactEvent | str,
    keep: Activity | None = None,
) -> int:
    """Settle as skipped every pending action of the contact whose precondition is gone (leased
    ones too: they are never leased again, and a late result answers 409 `moot`)."""
    state = contact_state(contact)
    settled = 0
    for action in repository.pending_actions(session, contact.id):
        if keep is not None and action.id == keep.id:
            continue
        if action_applies(
            action.kind,
            step=action.step,
            state=state,
            campaign_type=campaign.type,
            muted=contact.muted,
            follow_ups_sent=contact.follow_ups_sent,
            max_reinvites=campaign.max_reinvites,
        ):
            continue
        if isinstance(cause, ContactEvent):
            done = action.kind in DONE_BY.get(cause, frozenset())
            reason = "done_elsewhere" if done else cause.value
        else:
            reason = cause
        _skip(action, reason, now)
        settled += 1
    return settled


def _skip(action: Activity, reason: str, now: datetime) -> None:
    action.outcome = Outcome.SKIPPED
    action.completed_at = now
    action.waiting_reason = action.waiting_cap = None
    action.expected_at = action.leased_until = None
    action.detail = {**action.detail, "reason": reason}


def _arm_next(
    session: Session,
    *,
    contact: Contact,
    campaign: Campaign,
    event: ContactEvent,
    before: ContactStatus,
    now: datetime,
) -> None:
    """Queue what the change makes due next (nothing for a blacklisted person)."""
    arming = event in (ContactEvent.INVITE_SENT, ContactEvent.MESSAGE_SENT) or (
        contact.status is ContactStatus.CONNECTED and before is not ContactStatus.CONNECTED
    )
    if not arming or repository.is_blacklisted(session, contact.id):
        return
    if event is ContactEvent.INVITE_SENT:
        if not repository.has_pending(session, contact.id, [ActivityKind.FOLLOW_UP]):
            queue.queue_follow_up_awaiting_acceptance(
                session, contact=contact, campaign=campaign, now=now
            )
    elif event is ContactEvent.MESSAGE_SENT:
        if not repository.has_pending(session, contact.id, list(MESSAGE_KINDS)):
            queue.queue_next_message(
                session, contact=contact, campaign=campaign, now=now, after=now
            )
    if contact.status is ContactStatus.CONNECTED and before is not ContactStatus.CONNECTED:
        queue.arm_first_follow_up(session, contact=contact, campaign=campaign, now=now)


# ---------------------------------------------------------------- page actions


def set_muted(
    session: Session, *, contacts: Sequence[Contact], campaign: Campaign, muted: bool, now: datetime
) -> None:
    """Mute (every further action stops, pending ones are skipped) or unmute contacts."""
    with owning():
        for contact in contacts:
            contact.muted = muted
            if muted:
                settle_moot(session, contact=contact, campaign=campaign, now=now, cause="muted")
        session.flush()
    if campaign.sender_id is not None:
        explain_sender(session, sender_id=campaign.sender_id, now=now)


def settle_blacklisted(
    session: Session, *, contacts: Sequence[Contact], campaign: Campaign, now: datetime
) -> None:
    """Blacklisted people are never contacted: their pending actions (withdrawals aside, which
    take an invitation back) are skipped."""
    with owning():
        for contact in contacts:
            for action in repository.pending_actions(session, contact.id):
                if action.kind is not ActivityKind.WITHDRAW_INVITE:
                    _skip(action, "blacklisted", now)
        session.flush()
    if campaign.sender_id is not None:
        explain_sender(session, sender_id=campaign.sender_id, now=now)


def settle_archived_campaign(session: Session, *, campaign: Campaign, now: datetime) -> None:
    """An archived campaign sends nothing more: its pending actions (withdrawals aside, which take
    invitations back) are skipped, in one statement."""
    with owning():
        session.flush()
        repository.skip_pending_of_campaign(
            session, campaign.id, reason="campaign_archived", now=now
        )


# ---------------------------------------------------------------- set-based batches


def expire_invites(
    session: Session,
    *,
    workspace_id: int,
    withdraw_after: int,
    now: datetime,
    limit: int | None = None,
) -> int:
    """The sweep: every invite older than `withdraw_after` days (the first `limit` of them, by id,
    when given: one batch, so a big sweep is many short transactions) becomes withdrawn, with a
    Pending withdraw_invite (it goes out within the daily withdrawal cap); follow-ups waiting for an
    acceptance are skipped. Set-based: one activity INSERT … SELECT, one UPDATE of the pending
    follow-ups, one UPDATE of the contacts (on SQLite, one more of the few with an error to
    clear, and the event INSERT apart; on PostgreSQL both are part of it), one counts change.
    Returns how many were withdrawn."""
    cutoff = now - timedelta(days=withdraw_after)
    # The rule comes from the domain: ask it what an expired invite becomes.
    target = transition(
        ContactState(ContactStatus.INVITE_SENT, invited_at=cutoff, invites_sent=1),
        ContactEvent.INVITE_EXPIRED,
        CampaignType.CONNECTION,
        now=now,
        withdraw_after_days=withdraw_after,
    )
    # The batch is fixed (and on PostgreSQL locked) before any of its statements changes it.
    batch = repository.stale_batch(session, workspace_id=workspace_id, cutoff=cutoff, limit=limit)
    if not batch.size:
        return 0
    stale = batch.where
    with owning():
        deltas: Counter[tuple[int, str]] = Counter()
        total = 0
        shapes = (
            batch.shapes if batch.shapes is not None else repository.count_shapes(session, stale)
        )
        for campaign_id, _status, code, invites, replied, n in shapes:
            total += n
            for key in counts.row_keys(ContactStatus.INVITE_SENT, code, invites, replied):
                deltas[(campaign_id, key)] -= n
            # The transition clears the last error, like every move.
            for key in counts.row_keys(target.status, None, invites, replied):
                deltas[(campaign_id, key)] += n
        if not total:
            return 0
        # Each new withdrawal is stored as the explanation leaves the queue beyond its head (held
        # by the daily withdrawal cap): the tick's explanation, at its end, then rewrites only the
        # head of each sender's queue, not thousands of expiries.
        repository.record_expiries(
            session,
            stale,
            now=now,
            to_status=target.status,
            waiting_reason=WaitingReason.DAILY_CAP.value,
            waiting_cap=CappedAction.WITHDRAWAL.cap_name,
            after_days=withdraw_after,
        )
        repository.skip_pending_of(
            session,
            batch.actions,
            kinds=[ActivityKind.FOLLOW_UP],
            reason=ContactEvent.INVITE_EXPIRED.value,
            now=now,
        )
        # The events, built by the database from the rows as they now are: on PostgreSQL in the
        # statement that changes them.
        events = outbox.status_changes_in_update(
            session,
            workspace_id=workspace_id,
            from_status=ContactStatus.INVITE_SENT.value,
            cause=Cause.ENGINE.value,
            now=now,
        )
        count = repository.mark_withdrawn(
            session, batch, to_status=target.status, now=now, then=events
        )
        counts.bump(session, deltas)
        if events is None:
            if batch.ids_table is None:
                raise ValueError("SQLite writes the events of a table of contact ids")
            outbox.record_status_changes(
                session,
                ids_table=batch.ids_table,
                workspace_id=workspace_id,
                from_status=ContactStatus.INVITE_SENT.value,
                cause=Cause.ENGINE.value,
                now=now,
            )
    return count


def new_contact_columns(
    campaign_type: CampaignType, source: ContactSource, now: datetime
) -> dict[str, Any]:
    """Where a new contact starts (the domain's initial status) as columns."""
    status = initial_status(campaign_type, source)
    return {
        "status": status,
        "status_changed_at": now,
        "connected_at": now if status is ContactStatus.CONNECTED else None,
    }


def new_contact_values(
    dialect: Dialect, rows: Sequence[Mapping[str, Any]]
) -> repository.ContactValues:
    """The varying values of a batch of new contacts made ready for `dialect`'s driver, without a
    session (an import makes the next batch's on its reading thread while one is written); given
    to `insert_new_contacts` beside the same rows."""
    return repository.contact_values(dialect, rows)


def insert_new_contacts(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    *,
    common: Mapping[str, Any],
    cause: Cause,
    now: datetime,
    values: repository.ContactValues | None = None,
    waiting: repository.Waiting = contextlib.nullcontext,
    also: Sequence[repository.Companion] = (),
    turns: repository.Turns | None = None,
) -> dict[str, int]:
    """Insert a batch of new contacts of one campaign (rows already carry their initial columns
    from `new_contact_columns`); rows whose URL the campaign has are skipped. Their counts change
    in one statement, their `contact.created` events are one more (on PostgreSQL, both part of
    the INSERT's own statement). `also` (PostgreSQL, from `runs_with_insert`): the caller's own
    statements run in the INSERT's too, when `rows` is not empty. `turns`: this batch is written
    beside others in transactions of their own (an import's lanes): it is told when the ids are
    drawn, and the counts change only once the batches before it committed (`also` must then
    write nothing another batch writes). Returns profile URL → id of the rows inserted."""
    workspace_id = int(common["workspace_id"])
    with owning():
        # PostgreSQL: the events are built from the INSERT's own rows, in its statement.
        events = outbox.created_in_insert(
            session, workspace_id=workspace_id, cause=cause.value, now=now
        )
        if values is None:
            values = new_contact_values(session.get_bind().dialect, rows)
        # The counted columns are the batch's common ones: one shape, its keys worked out once.
        one = (
            counts.deltas_for_rows([common])
            if rows and not counts.COUNTED_COLUMNS.intersection(rows[0])
            else None
        )
        # The counts row is every batch's: a batch beside another counts after it (`turns`).
        with_insert = runs_with_insert(session) and turns is None
        then = [*([events] if events is not None else []), *also]
        if with_insert and one is not None:
            then.append(counts.bump_with_insert(one))
        inserted = repository.insert_contacts_skip_existing(
            session, rows, common=common, values=values, then=then, waiting=waiting, turns=turns
        )
        if turns is not None:
            turns.drawn()  # no new rows, or SQLite: nothing was drawn
            turns.settled()
        if one is None:
            created = [{**common, **r} for r in rows if r["linkedin_url"] in inserted]
            counts.bump(session, counts.deltas_for_rows(created))
        elif not with_insert:
            counts.bump(session, {key: n * len(inserted) for key, n in one.items()})
        if events is None:
            # Every row went in: the events may be the insert's own parameters (SQLite).
            whole = len(inserted) == len(rows) and bool(values.json_rows)
            outbox.record_created(
                session,
                [
                    inserted[str(row["linkedin_url"])]
                    for row in rows
                    if row["linkedin_url"] in inserted
                ],
                workspace_id=workspace_id,
                cause=cause.value,
                now=now,
                rows=outbox.InsertedRows(values.names, values.json_rows, _shared_summary(common))
                if whole
                else None,
            )
    return inserted


def runs_with_insert(session: Session) -> bool:
    """Whether `insert_new_contacts` runs statements in its INSERT's own (`also`): PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def _shared_summary(common: Mapping[str, Any]) -> dict[str, Any]:
    """The summary's columns a batch's rows share (`common`), as JSON values."""
    return {
        name: getattr(common[name], "value", common[name])
        for name in ("campaign_id", "status", "source")
        if name in common
    }


def insert_replayed_contacts(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert contacts whose state is the replay of domain transitions (the demo's seeded
    histories), with their counts; returns their ids in order."""
    with owning():
        counts.bump(session, counts.deltas_for_rows(rows))
        return repository.insert_contacts(session, rows)


def insert_replayed_activities(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the activity log of replayed histories (the demo's), oldest first."""
    repository.insert_activities(session, rows)


def delete_contacts(session: Session, where: ColumnElement[bool], *, now: datetime) -> int:
    """Remove the contacts matching `where` (an import undone), with their counts and their
    `contact.deleted` events."""
    with owning():
        outbox.record_many(
            session,
            (
                outbox.event_row(
                    workspace_id=row["workspace_id"],
                    type=EventType.CONTACT_DELETED,
                    data={"contact": outbox.summary_of_row(row["id"], row)},
                    now=now,
                )
                for row in repository.summaries(session, where)
            ),
        )
        deltas: Counter[tuple[int, str]] = Counter()
        for campaign_id, status, code, invites, replied, n in repository.count_shapes(
            session, where, with_status=True
        ):
            assert status is not None  # noqa: S101 - asked for with_status
            for key in counts.row_keys(status, code, invites, replied):
                deltas[(campaign_id, key)] -= n
        counts.bump(session, deltas)
        return repository.delete_contacts(session, where)
