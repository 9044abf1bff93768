from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId


class Event(Base):
    """One change an integration may care about (SPEC §4 Events), in its place in the log. On
    SQLite, whose writers are serialised, the writer inserts its events here already numbered
    (app.events.repository.numbers_at_write). On PostgreSQL writers leave their events in an
    `EventBatch`, and the numberer (app.events.numbering) moves the committed batches here with
    each workspace's next numbers: every row is numbered as it is inserted.

    `seq` NULL is a row from before the batches (PostgreSQL's writers used to insert here and the
    numberer UPDATEd the committed rows): the numberer still numbers those first, in `id` order.
    On SQLite `id` is AUTOINCREMENT, so no id is ever used twice after a purge. `uid` is the public
    `evt_…` id (random: it tells nobody how busy the service is), the `webhook-id` receivers
    deduplicate by.

    `event_count` NULL: the row is one event. Otherwise the row is a packed run of that many
    events of one type, numbered `seq` … `seq + event_count - 1`. On SQLite: the `contact.created`
    events of a batch of new contacts that all went in (an import's or a bulk add's), written from
    the batch's own insert parameters, or the `contact.status_changed` events of a sweep batch. On
    PostgreSQL: a committed batch of `contact.created` events, moved in by the numberer as one
    row (its columns as text). No row, uid or JSON object is made per event. Readers unpack it
    (app.events.repository.unpack): event i of the run has the id `uid` followed by i in eight hex
    digits (`uid` holds 96 random bits); `data` holds `cause`, `shared` (values common to the
    run), `names` and `rows` (each contact's values in those names' order) and, for created
    contacts (consecutive ids), `first_id`."""

    __tablename__ = "events"
    __table_args__ = (
        # The readers' keyset: a workspace's numbered events in order (unique: one number each).
        Index("ix_events_workspace_seq", "workspace_id", "seq", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40))
    # No foreign key: the numberer inserts thousands of events a pass, and the key checked each
    # against `workspaces` (a fifth of a pass on PostgreSQL). A trigger on `workspaces` deletes a
    # workspace's events with it (migration 5b0e7d2c9a41).
    workspace_id: Mapped[int] = mapped_column(BigId)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    event_count: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True, slots=True)
class UnpackedEvent:
    """One event of a packed run (`Event.event_count`), as a reader sees it (not a table:
    app.events.repository.unpack makes them)."""

    uid: str
    seq: int
    workspace_id: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any]


LoggedEvent = Event | UnpackedEvent


# The numberer's legacy work list: rows not numbered yet (from before the batches), in id order.
Index(
    "ix_events_unnumbered",
    Event.id,
    postgresql_where=Event.seq.is_(None),
    sqlite_where=Event.seq.is_(None),
)


class EventBatch(Base):
    """PostgreSQL: the events one writer's statement wrote, waiting for the numberer (SQLite's
    writers number theirs at once and leave none). One row per batch, in the writer's
    transaction; the numberer deletes the committed batches it numbers and inserts their events
    into `events`, in one statement, so a row lives from its writer's commit to the next pass.
    `id` only orders the numberer's work; `event_count` bounds a pass without reading `events`.

    `events` is a JSON array (`json`, text: the writer's cheapest form; the numberer parses it
    once) in the order the events were recorded, of `{"type", "occurred_at", "data"}`
    (`occurred_at` ISO-8601 with its offset, left out when it is `recorded_at`). A batch of
    `contact.created` events written set-based (`record_created`) has `created_cause` set and
    holds each contact's columns instead, as strings (or null), `[id, campaign_id, linkedin_url,
    first_name, last_name, email, company, status, source]`: the numberer builds their `data`
    from those. A sweep batch's `contact.status_changed` events are an object instead, `{"type",
    "data"}`: the packed row of the log they become, as SQLite writes it."""

    __tablename__ = "event_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    recorded_at: Mapped[datetime]
    event_count: Mapped[int]
    created_cause: Mapped[str | None] = mapped_column(String(20))
    events: Mapped[list[Any]] = mapped_column(JSON)


class EventHead(Base):
    """Per workspace: the last `seq` given, and the last one retention purged (an `after` below it
    asks for events that are gone: 410). On PostgreSQL written by the numberer and the purge only,
    never by the writers of changes, so no writer waits on it; on SQLite the writer moves it as it
    numbers (it holds the only write lock anyway)."""

    __tablename__ = "event_heads"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_through: Mapped[int] = mapped_column(BigInteger, default=0)
