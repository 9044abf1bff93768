"""The outbox: the one way a change writes its events (SPEC §4 Events), in the change's own
transaction, so there is no change without its event and no event without its change.

A call writes its events at once, however many (a bulk add's, an import batch's, the sweep's): on
PostgreSQL as one row of `event_batches` (nothing a writer does waits on another writer; the
numberer, app.events.numbering, moves the committed batches into the log with their numbers), on
SQLite as rows of the log, numbered as they are written (its writers are serialised).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.events import repository
from app.events.types import EventType
from app.models import Contact

SUMMARY_FIELDS = (
    "linkedin_url",
    "first_name",
    "last_name",
    "email",
    "company",
)


def new_uid() -> str:
    """A public event id: `evt_` and 128 random bits in hex (the batch writers draw the same form
    in SQL)."""
    return "evt_" + secrets.token_hex(16)


def contact_summary(contact: Contact) -> dict[str, Any]:
    """Enough for a CRM to match the person without another request."""
    return {
        "id": contact.id,
        "campaign_id": contact.campaign_id,
        **{name: getattr(contact, name) for name in SUMMARY_FIELDS},
        "status": contact.status.value,
    }


def summary_of_row(contact_id: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """The summary of a contact from the columns it was inserted with (a batch)."""
    status = row["status"]
    return {
        "id": contact_id,
        "campaign_id": row["campaign_id"],
        **{name: row.get(name) for name in SUMMARY_FIELDS},
        "status": getattr(status, "value", status),
    }


def event_row(
    *,
    workspace_id: int,
    type: EventType,
    data: Mapping[str, Any],
    now: datetime,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "uid": new_uid(),
        "workspace_id": workspace_id,
        "type": type.value,
        "occurred_at": occurred_at or now,
        "recorded_at": now,
        "data": dict(data),
    }


def record(
    session: Session,
    *,
    workspace_id: int,
    type: EventType,
    data: Mapping[str, Any],
    now: datetime,
    occurred_at: datetime | None = None,
) -> None:
    """Write one event in the caller's transaction."""
    repository.insert_events(
        session,
        [
            event_row(
                workspace_id=workspace_id,
                type=type,
                data=data,
                now=now,
                occurred_at=occurred_at,
            )
        ],
    )


def record_many(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write a batch of events (rows from `event_row`) in one statement; returns how many."""
    batch = list(rows)
    if batch:
        repository.insert_events(session, batch)
    return len(batch)


InsertedRows = repository.InsertedRows


def record_created(
    session: Session,
    contact_ids: Sequence[int],
    *,
    workspace_id: int,
    cause: str,
    now: datetime,
    rows: InsertedRows | None = None,
) -> int:
    """The `contact.created` events of a batch of new contacts of one workspace, in one statement:
    on SQLite, given `rows` (the whole batch as its insert's parameters) and consecutive ids, one
    packed row of the log holding them; otherwise built from the rows just inserted."""
    return repository.insert_created_events(
        session, contact_ids, workspace_id=workspace_id, cause=cause, now=now, rows=rows
    )


def created_in_insert(
    session: Session, *, workspace_id: int, cause: str, now: datetime
) -> tuple[str, dict[str, Any], tuple[str, ...]] | None:
    """The `contact.created` events of a batch of new contacts as part of the statement that
    inserts them (PostgreSQL: SQL reading that INSERT's `inserted` CTE, its parameters, and the
    columns it reads there), or None where `record_created` writes them after the insert."""
    return repository.created_events_from_inserted(
        session, workspace_id=workspace_id, cause=cause, now=now
    )


def numbers_at_write(session: Session) -> bool:
    """Whether this database's writers number their events as they write them (SQLite)."""
    return repository.numbers_at_write(session)


def status_changes_in_update(
    session: Session, *, workspace_id: int, from_status: str, cause: str, now: datetime
) -> tuple[str, dict[str, Any], tuple[str, ...]] | None:
    """The `contact.status_changed` events of contacts of one workspace changed together from
    `from_status` (the sweep) as part of the UPDATE that changes them (PostgreSQL: SQL reading that
    UPDATE's `changed` CTE, its parameters, and the columns it reads there), or None where
    `record_status_changes` writes them after the update."""
    return repository.status_changed_from_updated(
        session, workspace_id=workspace_id, from_status=from_status, cause=cause, now=now
    )


def record_status_changes(
    session: Session,
    *,
    ids_table: str,
    workspace_id: int,
    from_status: str,
    cause: str,
    now: datetime,
) -> int:
    """SQLite: the `contact.status_changed` events of contacts of one workspace just changed
    together from `from_status` (the sweep), built by the database from their rows as they now
    are, as one packed row of the log; `ids_table` holds their ids."""
    return repository.insert_status_changed_events_sqlite(
        session,
        ids_table,
        workspace_id=workspace_id,
        from_status=from_status,
        cause=cause,
        now=now,
    )
