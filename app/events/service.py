"""Reading the event log, and keeping it to its retention (SPEC §4 Events)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.errors import Gone
from app.events import repository
from app.events.numbering import number_pending
from app.models.event import LoggedEvent

MAX_LIMIT = 1000
PURGE_BATCH = 5000


@dataclass(frozen=True)
class EventPage:
    items: list[LoggedEvent]
    next_after: int


def read_events(
    *,
    reader: sessionmaker[Session],
    writer: sessionmaker[Session],
    workspace_id: int,
    after: int | None,
    limit: int,
    types: Sequence[str] | None = None,
) -> EventPage:
    """The workspace's events numbered after `after` (None: the head, nothing yet), in `seq`
    order. Committed events still waiting for a number are numbered first (a client reads its
    own writes). `next_after` is the last seq this page covered, past events `types` skipped.
    Raises Gone for an `after` inside the purged range."""
    with reader() as session:
        waiting = repository.has_unnumbered(session)
    if waiting:
        number_pending(writer)
    with reader() as session, session.begin():
        # The head first, then the page up to it: every event numbered up to the head committed
        # before it was read, so the page (a later statement) sees all of them.
        last, purged = repository.head(session, workspace_id)
        if after is None:
            return EventPage([], last)
        if 0 < after < purged:
            raise Gone(
                f"Events up to seq {purged} were purged (they are kept "
                "for the retention period after they are recorded). Start again with after=0 "
                "(the oldest kept event) or after=latest, and re-read the contacts you need."
            )
        start = max(after, purged)
        items = repository.numbered_page(
            session, workspace_id=workspace_id, after=start, upto=last, limit=limit, types=types
        )
    if len(items) == limit:
        return EventPage(items, items[-1].seq or start)
    return EventPage(items, max(start, last))


def purge_expired(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    retention_days: int,
    stopping: threading.Event | None = None,
) -> int:
    """Delete each workspace's events from the oldest `seq` up to its first event recorded inside
    the retention (an event recorded earlier but numbered later stays until it is the oldest).
    A batch per transaction; returns how many went."""
    cutoff = now - timedelta(days=retention_days)
    removed = 0
    with factory() as session:
        heads = repository.heads_to_purge(session)
    for workspace_id, last, purged in heads:
        with factory.begin() as session:
            first_kept = repository.first_seq_recorded_since(
                session, workspace_id=workspace_id, after=purged, cutoff=cutoff
            )
        through = (first_kept if first_kept is not None else last + 1) - 1
        if through <= purged:
            continue
        while stopping is None or not stopping.is_set():
            with factory.begin() as session:
                gone, events = repository.delete_through(
                    session, workspace_id=workspace_id, through=through, limit=PURGE_BATCH
                )
                if gone < PURGE_BATCH:
                    repository.set_purged_through(
                        session, workspace_id=workspace_id, through=through
                    )
            removed += events
            if gone < PURGE_BATCH:
                break
    return removed
