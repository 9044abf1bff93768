"""A contact's activity log, newest first (SPEC §2 "Activity log")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.contacts import repository
from app.contacts.schemas import ActivityErrorRead, ActivityRead
from app.contacts.service import creation_source_label, get_contact
from app.domain.errors import ActionError
from app.domain.pacing import CAP_BY_NAME, WaitingReason, waiting_label
from app.domain.statuses import OUTCOME_LABELS, ActivityKind, Outcome
from app.errors import ValidationFailed
from app.lifecycle.service import skip_reason_label
from app.models import Activity, Contact, ContactImport
from app.pagination import decode_cursor, encode_cursor

MAX_PAGE = 200
LOG_SORT = "-happened"


def waiting_reason_label(reason: str | None, cap: str | None) -> str | None:
    """What a person reads for a pending entry's reason, naming the cap that holds it."""
    if reason is None:
        return None
    try:
        return waiting_label(WaitingReason(reason), CAP_BY_NAME.get(cap or ""))
    except ValueError:
        return reason


def activity_read(activity: Activity) -> ActivityRead:
    error = None
    if activity.error_code is not None:
        action_error = ActionError.of(activity.error_code, activity.error_message)
        error = ActivityErrorRead(
            code=activity.error_code, label=action_error.label, message=action_error.message
        )
    pending = activity.outcome is Outcome.PENDING
    reason = activity.waiting_reason if pending else None
    cap = activity.waiting_cap if pending else None
    outcome_label = error.label if error else OUTCOME_LABELS[activity.outcome]
    if activity.outcome is Outcome.SKIPPED:
        outcome_label = f"Skipped — {skip_reason_label(activity.detail.get('reason'))}"
    return ActivityRead(
        id=activity.id,
        contact_id=activity.contact_id,
        kind=activity.kind,
        outcome=activity.outcome.value,
        outcome_label=outcome_label,
        error=error,
        message=activity.message,
        status_from=activity.status_from,
        status_to=activity.status_to,
        scheduled_for=activity.scheduled_for,
        completed_at=activity.completed_at,
        created_at=activity.created_at,
        detail=activity.detail,
        waiting_reason=reason,
        waiting_cap=cap,
        waiting_reason_label=waiting_reason_label(reason, cap),
        expected_at=activity.expected_at if pending else None,
    )


@dataclass(frozen=True, slots=True)
class ActionSummary:
    """What the campaign table shows of an action: its kind and times, and why it waits."""

    id: int
    kind: ActivityKind
    outcome: Outcome
    completed_at: datetime | None
    scheduled_for: datetime | None
    created_at: datetime
    expected_at: datetime | None
    waiting_reason: str | None
    waiting_cap: str | None


def last_and_next(
    session: Session, contact_ids: Sequence[int]
) -> dict[int, tuple[ActionSummary | None, ActionSummary | None]]:
    """For the campaign table: each contact's latest completed action and its next pending one.

    Reads only the columns the table shows (not messages, details and errors of every action of
    fifty contacts per page view)."""
    out: dict[int, tuple[ActionSummary | None, ActionSummary | None]] = dict.fromkeys(
        contact_ids, (None, None)
    )
    if not contact_ids:
        return out
    rows = repository.action_summaries(session, contact_ids)
    for row in rows:
        a = ActionSummary(
            id=row.id,
            kind=row.kind,
            outcome=row.outcome,
            completed_at=row.completed_at,
            scheduled_for=row.scheduled_for,
            created_at=row.created_at,
            expected_at=row.expected_at,
            waiting_reason=row.waiting_reason,
            waiting_cap=row.waiting_cap,
        )
        last, nxt = out[row.contact_id]
        if a.outcome is Outcome.PENDING:
            if nxt is None or (a.scheduled_for or a.created_at) < (
                nxt.scheduled_for or nxt.created_at
            ):
                nxt = a
        elif a.kind is not ActivityKind.EVENT or last is None:
            last = a
        out[row.contact_id] = (last, nxt)
    return out


def creation_entry(contact: Contact, job: ContactImport | None = None) -> ActivityRead:
    """The first entry of every log, derived from the contact (and its import's record) rather than
    stored per row: a million-row import does not write a million log entries."""
    summary = creation_source_label(contact.source)
    detail: dict[str, object] = {"source": contact.source.value}
    if job is not None:
        summary = f"Imported from {job.filename} by {job.created_by}"
        detail.update(import_id=job.id, filename=job.filename, imported_by=job.created_by)
    return ActivityRead(
        id=None,
        contact_id=contact.id,
        kind=ActivityKind.IMPORT,
        outcome="success",
        outcome_label=OUTCOME_LABELS[Outcome.SUCCESS],
        error=None,
        message=None,
        status_from=None,
        status_to=None,
        scheduled_for=None,
        completed_at=contact.created_at,
        created_at=contact.created_at,
        detail={**detail, "summary": summary},
        waiting_reason=None,
        waiting_reason_label=None,
        expected_at=None,
    )


def contact_activity(
    session: Session,
    *,
    workspace_id: int,
    contact_id: int,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[ActivityRead], str | None]:
    """One page of the log, newest first by when each entry happened (done entries when they were
    completed, pending ones when they are expected); the last page ends with how the contact was
    added."""
    contact = get_contact(session, workspace_id=workspace_id, contact_id=contact_id)
    limit = max(1, min(limit, MAX_PAGE))
    after = None
    if cursor:
        key = decode_cursor(cursor, sort=LOG_SORT)
        try:
            after = (datetime.fromisoformat(str(key.get("at"))), int(key["id"]))
        except ValueError:
            raise ValidationFailed(
                "The cursor is not valid for this list",
                {"cursor": ["Pass the next_cursor of the previous page unchanged"]},
            ) from None
    rows = repository.log_page(session, contact_id=contact.id, after=after, limit=limit + 1)
    items = [activity_read(a) for a, _at in rows[:limit]]
    if len(rows) > limit:
        last, at = rows[limit - 1]
        return items, encode_cursor({"sort": LOG_SORT, "at": at.isoformat(), "id": last.id})
    job = session.get(ContactImport, contact.import_id) if contact.import_id else None
    items.append(creation_entry(contact, job))
    return items, None
