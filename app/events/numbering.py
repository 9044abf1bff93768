"""The numberer: gives committed events their place in the log (`seq`), after they commit.

Why not number them as they are written? On PostgreSQL transactions commit out of order: an id a
writer draws from a sequence at INSERT is visible only when its transaction commits, possibly after
a reader has already read past a larger id committed by another writer, so "everything after N"
would miss it for good. The other two ways out each stop something: a per-workspace counter row
taken by the writer serialises every writer of the workspace (a long import batch would hold up
every API call), and a horizon from `pg_snapshot_xmin` stalls while any transaction anywhere in
the cluster is open.

So writers only INSERT events with `seq` NULL, and nothing they do waits on anyone. The numberer,
one at a time (a transaction-scoped advisory lock on PostgreSQL; SQLite's single writer there),
takes the events that have COMMITTED and are not numbered yet, in id order, and gives each the
next number of its workspace, all in one transaction. Readers see numbered events only. Because
each numbering pass commits whole, and the next pass starts only after it committed, the numbered
events any reader can see are always a prefix of the workspace's log: a reader that keeps the
largest `seq` it read never misses and never repeats an event. An event whose transaction
commits late is simply numbered by a later pass, after the ones already read.

On SQLite none of this is needed: write transactions are serialised (BEGIN IMMEDIATE), so a
writer numbers its own events as it inserts them (`repository.numbers_at_write`), without the
UPDATE a later pass would cost each event; the numberer then finds nothing to do there.

The log lags its writers by at most the numberer's interval; `GET /events` (and the webhooks'
dispatcher) also run a pass on demand when committed events wait, so a client reads its own
writes. The numberer never touches a row a writer holds: it only UPDATEs committed events and
its own heads table.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_sessionmaker
from app.events import repository

NUMBER_BATCH = 5000


def number_once(session: Session, *, batch: int = NUMBER_BATCH) -> int:
    """One numbering pass in the caller's transaction (which must commit it); returns how many
    events it numbered."""
    repository.take_numberer_lock(session)
    waiting = repository.batch_end(session, batch)
    if waiting is None:
        return 0
    _count, max_id = waiting
    # One statement numbers the batch (an event that committed meanwhile with a smaller id is
    # numbered too: it is committed, and its number follows those already given).
    numbered = repository.number_up_to(session, max_id)
    heads: dict[int, int] = {}
    for workspace_id, seq in numbered:
        heads[workspace_id] = max(heads.get(workspace_id, 0), seq)
    known = repository.last_seqs(session, heads)
    repository.save_last_seqs(session, heads, known=known)
    return len(numbered)


def number_pending(
    factory: sessionmaker[Session],
    *,
    batch: int = NUMBER_BATCH,
    stopping: threading.Event | None = None,
) -> int:
    """Number every committed event waiting, a batch per transaction; returns how many."""
    total = 0
    while stopping is None or not stopping.is_set():
        with factory.begin() as session:
            done = number_once(session, batch=batch)
        total += done
        if done < batch:
            break
    return total


class Numberer:
    """Runs a pass only when committed events wait: the check reads (SQLite: without the write
    lock), the pass writes."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        bind = factory.kw["bind"]
        # A factory bound to one connection (the tests' rolled-back transaction) reads through
        # itself: a fresh connection would not see that transaction's events.
        self.reader = (
            factory if isinstance(bind, Connection) else make_sessionmaker(bind, read_only=True)
        )

    def waiting(self) -> bool:
        with self.reader() as session:
            return repository.has_unnumbered(session)

    def __call__(self, stopping: threading.Event | None = None) -> int:
        if not self.waiting():
            return 0
        return number_pending(self.factory, stopping=stopping)
