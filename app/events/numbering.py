"""The numberer: gives committed events their place in the log (`seq`), after they commit.

Why not number them as they are written? On PostgreSQL transactions commit out of order: an id a
writer draws from a sequence at INSERT is visible only when its transaction commits, possibly after
a reader has already read past a larger id committed by another writer, so "everything after N"
would miss it for good. The other two ways out each stop something: a per-workspace counter row
taken by the writer serialises every writer of the workspace (a long import batch would hold up
every API call), and a horizon from `pg_snapshot_xmin` stalls while any transaction anywhere in
the cluster is open.

So on PostgreSQL a writer only leaves its events, unnumbered, in ONE row of `event_batches` per
batch (a change's few events, a bulk add's or an import batch's thousands: one INSERT, in the
change's transaction, rolled back with it), and nothing it does waits on anyone. The numberer, one
at a time (a transaction-scoped advisory lock), takes the batches that have COMMITTED, in id order,
about NUMBER_BATCH events' worth (whole batches), and in ONE statement deletes them and inserts
their events into `events` already numbered: each workspace's head plus the event's place (batch
id, then its place in the batch), each with its random public id; the heads move in the same
statement. Readers see `events` only, so numbered events only. That statement's snapshot is taken
after the lock, so it sees every batch committed before it and none still open; each pass commits
whole, and the next pass starts only after it committed: the numbered events any reader can see
are always a prefix of the workspace's log, and a reader that keeps the largest `seq` it read
never misses and never repeats an event. A batch whose transaction commits late is simply
numbered by a later pass, after the ones already read. No event is written twice: before the
batches, each event was INSERTed with `seq` NULL and then UPDATEd by the numberer (a second,
non-HOT write of the whole row and new index entries); a pass still numbers such rows first, in id
order, when any are left from then (one index probe when none are).

On SQLite none of this is needed: write transactions are serialised (BEGIN IMMEDIATE), so a
writer numbers its own events as it inserts them into `events` (`repository.numbers_at_write`);
no batch is written and the numberer finds nothing to do there.

The log lags its writers by at most the numberer's interval; `GET /events` (and the webhooks'
dispatcher) also run a pass on demand when committed events or batches wait, so a client reads its
own writes. The numberer never touches a row a writer holds: it deletes committed batches only,
inserts into the log and moves its own heads.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_sessionmaker
from app.events import repository

NUMBER_BATCH = 5000


def number_once(session: Session, *, batch: int = NUMBER_BATCH) -> int:
    """One numbering pass in the caller's transaction (which must commit it): about `batch`
    committed events, in the order they wait (whole batches: a pass may number up to one batch
    more). Returns how many events it numbered: `batch` or more when more may wait."""
    repository.take_numberer_lock(session)
    done = _number_legacy(session, batch)
    if done < batch and not repository.numbers_at_write(session):
        done += repository.number_batches(session, batch - done)
    return done


def _number_legacy(session: Session, batch: int) -> int:
    """Rows of the log written without a number (PostgreSQL's writers inserted them so before
    the batches), first `batch` in id order: one index probe when there are none."""
    waiting = repository.batch_end(session, batch)
    if waiting is None:
        return 0
    _count, max_id = waiting
    # One statement numbers them (an event that committed meanwhile with a smaller id is
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
