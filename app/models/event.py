from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId


class Event(Base):
    """One change an integration may care about (SPEC §4 Events), written by app.events.outbox in
    the transaction of the change. On PostgreSQL `seq` is NULL until the numberer
    (app.events.numbering) gives it the workspace's next number after the row committed: readers
    see numbered events only. On SQLite, whose writers are serialised, the writer numbers its
    events as it inserts them (app.events.repository.numbers_at_write).

    `id` only orders the numberer's work; on SQLite it is AUTOINCREMENT, so no id is ever used
    twice after a purge. `uid` is the public `evt_…` id (random: it tells nobody how busy the
    service is), the `webhook-id` receivers deduplicate by."""

    __tablename__ = "events"
    __table_args__ = (
        # The readers' keyset: a workspace's numbered events in order (unique: one number each).
        Index("ix_events_workspace_seq", "workspace_id", "seq", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


# The numberer's work list: only the rows not numbered yet, in id order.
Index(
    "ix_events_unnumbered",
    Event.id,
    postgresql_where=Event.seq.is_(None),
    sqlite_where=Event.seq.is_(None),
)


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
