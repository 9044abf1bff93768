"""Running an import: claim it, read its file in batches, commit each batch with its checkpoint.

Crash safety: each batch's contacts, rejections, counters and checkpoint commit in one transaction,
so a run killed at any point resumes after the last committed row with nothing twice and nothing
missing. Two imports into one campaign run one at a time (the second waits, visibly queued). A run
that dies on an error (a database outage, say) is retried from its checkpoint, and fails after a
few attempts.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import queue
import socket
import sys
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from app.campaigns.service import get_campaign
from app.domain.statuses import CampaignType, ContactSource, DuplicatePolicy, ImportState
from app.imports import repository
from app.imports.reader import Position, Row, UnreadableFile, read_batches
from app.imports.service import finish
from app.lifecycle import service as lifecycle
from app.lifecycle.repository import ContactValues, Waiting
from app.lifecycle.service import Cause
from app.models import ContactImport, ImportChange

LEASE = timedelta(minutes=2)
MAX_FAILURES = 5
UPDATABLE = ("first_name", "last_name", "email", "company", "title")


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str | None) -> bool:
    """True when a lease holder was a process on this machine that no longer runs (a dead
    process's PID, or a zombie's). Another machine's processes are never judged from here."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (another user's process, say)
    try:  # a killed child its parent has not reaped yet is a zombie: state Z after the name
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def claim_next(
    session: Session, *, now: datetime, import_id: int | None = None
) -> ContactImport | None:
    """Take a queued import (or one whose owner stopped renewing its lease), one per campaign at a time."""
    # An explicit resume (`import_id`) also takes over a running import whose process is gone
    # (killed on this machine), without waiting for its lease to lapse.
    for job in repository.claimable(session, now=now, import_id=import_id):
        if (
            job.state is ImportState.RUNNING
            and job.lease_until is not None
            and job.lease_until >= now
            and not owner_gone(job.lease_owner)
        ):
            continue
        if repository.campaign_busy(session, campaign_id=job.campaign_id, besides=job.id, now=now):
            continue
        job.state = ImportState.RUNNING
        job.started_at = job.started_at or now
        job.lease_until = now + LEASE
        job.lease_owner = this_process()
        return job
    return None


@dataclass(frozen=True)
class ReadBatch:
    """A batch of the file as the reading thread hands it over: its rows, the rejected ones, the
    file's first row for each person in it (the URL's later rows in the batch only count), and
    those contacts' values already made ready for the driver."""

    rows: list[Row]
    rejected: list[Row]
    fresh: dict[str, dict[str, Any]]
    in_file: int
    values: ContactValues
    campaign_type: CampaignType  # read once per run: where the batch's new contacts start


def sort_batch(dialect: Dialect, campaign_type: CampaignType, rows: list[Row]) -> ReadBatch:
    """A read batch sorted into rejections, first rows and in-file duplicates (no database)."""
    rejected = []
    fresh: dict[str, dict[str, Any]] = {}
    in_file = 0
    for row in rows:
        if row.contact is None:
            rejected.append(row)
            continue
        url = str(row.contact["linkedin_url"])
        if url in fresh:
            in_file += 1  # the file's first row for a person decides; later ones only count
            continue
        fresh[url] = row.contact
    values = lifecycle.new_contact_values(dialect, list(fresh.values()))
    return ReadBatch(rows, rejected, fresh, in_file, values, campaign_type)


def _apply_batch(
    session: Session,
    job: ContactImport,
    batch: ReadBatch,
    now: datetime,
    *,
    waits: Waiting = contextlib.nullcontext,
    turn: _Turn | None = None,
) -> None:
    """One batch in the caller's transaction: new contacts, duplicates per policy, rejections,
    checkpoint. `waits`: a context around the insert's long calls into the database. `turn`: the
    batch is written beside the previous one (PostgreSQL lanes); the job is locked, and its
    checkpoint written, once that one committed."""
    start = lifecycle.new_contact_columns(batch.campaign_type, ContactSource.CSV, now)
    rows, fresh = batch.rows, batch.fresh
    rejections = [
        {
            "import_id": job.id,
            "row_number": row.number,
            "reason": (row.reason or "Invalid")[:500],
            "cells": {"cells": row.cells, "lines": row.lines},
        }
        for row in batch.rejected
    ]
    # The reader's contact dicts hold exactly the varying columns: the URL, the updatable fields
    # and custom_fields; everything else is the same for the whole batch.
    common = {
        "workspace_id": job.workspace_id,
        "campaign_id": job.campaign_id,
        "source": ContactSource.CSV,
        **start,
        "created_at": now,
        "updated_at": now,
        "import_id": job.id,
    }
    last = rows[-1]
    advance = {
        "rows_read": len(rows),
        "invalid": len(rejections),
        "checkpoint_row": last.number,
        "checkpoint_offset": last.end_offset,
        "checkpoint_line": last.last_line,
        "lease_until": now + LEASE,
    }
    # PostgreSQL: the checkpoint is written by the statement that inserts the batch (a round trip
    # and a flush fewer a batch); the job object is then told the values it wrote.
    with_insert = bool(fresh) and lifecycle.runs_with_insert(session) and turn is None
    also = (
        [
            repository.checkpoint_with_insert(
                session, job.id, advance, fresh=len(fresh), in_file=batch.in_file
            )
        ]
        if with_insert
        else []
    )
    inserted = lifecycle.insert_new_contacts(
        session,
        list(fresh.values()),
        common=common,
        cause=Cause.IMPORT,
        now=now,
        values=batch.values,
        waiting=waits,
        also=also,
        turns=turn,
    )
    if turn is not None:  # the batches before it committed: the job's row is this batch's now
        job = repository.locked(session, job.id, refresh=True)
        if job.state is not ImportState.RUNNING:
            raise _Stopped
    duplicate_rows = [contact for url, contact in fresh.items() if url not in inserted]
    if job.on_duplicate is not DuplicatePolicy.SKIP and duplicate_rows:
        _merge_duplicates(session, job, job.campaign_id, duplicate_rows)
    if rejections:
        repository.add_rejections(session, rejections)
    progress = {
        **advance,
        "rows_read": job.rows_read + len(rows),
        "imported": job.imported + len(inserted),
        "duplicates": job.duplicates + len(duplicate_rows) + batch.in_file,
        "invalid": job.invalid + len(rejections),
        "failures": 0,
    }
    for name, value in progress.items():
        if with_insert:
            set_committed_value(job, name, value)
        else:
            setattr(job, name, value)


def _merge_duplicates(
    session: Session, job: ContactImport, campaign_id: int, rows: list[dict[str, Any]]
) -> None:
    """Fill empty fields, or overwrite them, on contacts that existed before this import."""
    # The first row for a person is the one that merges, whatever the batch boundaries.
    by_url: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_url.setdefault(str(r["linkedin_url"]), r)
    recorded = repository.merged_contact_ids(session, job.id)
    for contact in repository.campaign_contacts_by_url(session, campaign_id, list(by_url)):
        if contact.import_id == job.id or contact.id in recorded:
            continue  # created or already merged by this same file: a later row is a plain duplicate
        incoming = by_url[contact.linkedin_url]
        previous: dict[str, Any] = {}
        for name in UPDATABLE:
            value = incoming.get(name)
            current = getattr(contact, name)
            if (
                value
                and (job.on_duplicate is DuplicatePolicy.OVERWRITE or not current)
                and value != current
            ):
                previous[name] = current
                setattr(contact, name, value)
        extra = incoming.get("custom_fields") or {}
        if extra:
            merged = dict(contact.custom_fields)
            for key, value in extra.items():
                if job.on_duplicate is DuplicatePolicy.OVERWRITE or not merged.get(key):
                    merged[key] = value
            if merged != contact.custom_fields:
                previous["custom_fields"] = contact.custom_fields
                contact.custom_fields = merged
        # Recorded even when nothing changed: the file's first row for this person has merged,
        # so its later rows (in any batch) are plain duplicates.
        session.add(ImportChange(import_id=job.id, contact_id=contact.id, previous=previous))
        recorded.add(contact.id)


def run_import(
    factory: sessionmaker[Session],
    *,
    import_id: int,
    clock: Callable[[], datetime],
    batch_size: int = 5000,
    progress: Callable[[ContactImport], None] | None = None,
    lanes: int = 2,
) -> ContactImport:
    """Run (or resume) one claimed import to its end, a committed batch at a time; on PostgreSQL
    `lanes` batches are written side by side (see `_commit_in_lanes`)."""
    with factory.begin() as session:
        job = session.get_one(ContactImport, import_id)
        path, encoding = Path(job.path), job.encoding
        mapping = {int(k): str(v) for k, v in job.mapping.items()}
        if job.checkpoint_offset is not None and job.checkpoint_line is not None:
            # From the byte past the last committed row: the rows a whole read has after it.
            start_after = 0
            start_at: Position | None = Position(
                job.checkpoint_offset, job.checkpoint_row, job.checkpoint_line
            )
        else:  # nothing committed yet, or an import from before offsets were kept
            start_after, start_at = job.checkpoint_row, None
        bind = session.get_bind()
        dialect = bind.dialect
        # Lanes need connections of their own: a factory bound to one connection (a caller's
        # transaction, a test's) writes one batch at a time.
        if dialect.name != "postgresql" or not isinstance(bind, Engine):
            lanes = 1
        campaign_type = get_campaign(
            session, workspace_id=job.workspace_id, campaign_id=job.campaign_id, with_steps=False
        ).type
    try:

        def reader(pause: Callable[[], object]) -> Iterator[list[Row]]:
            return read_batches(
                str(path),
                mapping,
                start_after,
                batch_size,
                start_at=start_at,
                encoding=encoding,
                pause=pause,
            )

        sort = functools.partial(sort_batch, dialect, campaign_type)
        # Read ahead on a thread on both databases: the writer gives the GIL up while the
        # database works on a statement. On SQLite a batch's contacts go in as ONE statement (one
        # step of the driver; stepped row by row, as executemany does, the driver gave the GIL up
        # and took it back for every row, and a reading thread beside it slowed the import).
        batches = ReadAhead(reader, sort)
        if lanes > 1:
            with contextlib.closing(batches), prompt_handover():
                if not _commit_in_lanes(factory, import_id, batches, clock, progress, lanes):
                    return _load(factory, import_id)
        else:
            with contextlib.closing(batches), prompt_handover(), batches.writer_busy():
                for batch in batches:
                    if not _commit_batch(
                        factory, import_id, batch, clock, progress, waits=batches.writer_waits
                    ):
                        return _load(factory, import_id)
    except (UnreadableFile, OSError, ValueError) as exc:  # ValueError: a checkpoint off the file
        with factory.begin() as session:
            job = session.get_one(ContactImport, import_id)
            finish(session, job, ImportState.FAILED, now=clock(), error=str(exc))
        return _load(factory, import_id)
    with factory.begin() as session:
        job = session.get_one(ContactImport, import_id)
        if job.state is ImportState.RUNNING:
            finish(session, job, ImportState.DONE, now=clock())
    return _load(factory, import_id)


# While an import reads ahead, the interpreter hands the GIL over every 0.5 ms instead of 5:
# each answer the writer waits for (a dozen a batch) is taken back from the reading thread at
# once. At the default, every round trip of a batch waited up to 5 ms for it (100,000 rows on
# PostgreSQL, alternating runs: 19,100-22,400 rows/s at 5 ms, 22,000-27,100 at 0.5 ms).
HANDOVER_SECONDS = 0.0005
_handover_lock = threading.Lock()
_handover_users = 0
_handover_before = 0.0


@contextlib.contextmanager
def prompt_handover() -> Iterator[None]:
    """A short GIL switch interval while at least one import of this process runs (restored
    when the last one ends)."""
    global _handover_users, _handover_before
    with _handover_lock:
        if _handover_users == 0:
            _handover_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_handover_before, HANDOVER_SECONDS))
        _handover_users += 1
    try:
        yield
    finally:
        with _handover_lock:
            _handover_users -= 1
            if _handover_users == 0:
                sys.setswitchinterval(_handover_before)


class ReadAhead:
    """The file's batches, each read (decoded, parsed, normalised, validated) on a thread of its
    own while the one before it is written, so the Python work of a batch overlaps the database's
    work on the previous one (the driver waits for the database without the GIL). At most one
    batch waits read ahead: memory stays flat. A reading error (an unreadable stretch, a checkpoint
    off the file) is raised where its batch would have been, after the batches before it.

    The reading thread reads while the writer waits (for the database, or for a batch) and pauses
    while the writer runs Python of its own (`writer_busy`): two threads wanting the GIL at once
    take turns every switch interval, and the writer's own steps between statements (a dozen a
    batch) took four times their length. benchmarks/import_csv.py, 200,000 rows, 3 rounds: on
    PostgreSQL 22,700 → 28,900 rows/s (CPU 41,900 → 50,100 rows/CPU-s), on SQLite 34,000-35,300 →
    43,200-46,200 rows/s."""

    _POLL = 0.1  # seconds between looks at `close()` while a read batch waits for room

    def __init__(
        self,
        batches: Callable[[Callable[[], object]], Iterator[list[Row]]],
        sort: Callable[[list[Row]], ReadBatch],
    ) -> None:
        self._queue: queue.Queue[tuple[ReadBatch | None, BaseException | None]] = queue.Queue(1)
        self._closed = threading.Event()
        self._go = threading.Event()  # set: the reading thread may read
        self._go.set()
        self._thread = threading.Thread(
            target=self._read, args=(batches, sort), name="import-read-ahead", daemon=True
        )
        self._thread.start()

    def _read(
        self,
        batches: Callable[[Callable[[], object]], Iterator[list[Row]]],
        sort: Callable[[list[Row]], ReadBatch],
    ) -> None:
        try:
            reader = batches(self._go.wait)
            try:
                for batch in reader:
                    self._go.wait()
                    if not self._put((sort(batch), None)):
                        return
            finally:
                if isinstance(reader, Generator):
                    reader.close()  # the file closes on the thread that reads it
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, raised there
            self._put((None, exc))
            return
        self._put((None, None))

    def _put(self, item: tuple[ReadBatch | None, BaseException | None]) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=self._POLL)
            except queue.Full:
                continue
            return True
        return False

    def __iter__(self) -> Iterator[ReadBatch]:
        while True:
            try:
                batch, error = self._queue.get_nowait()
            except queue.Empty:
                with self.writer_waits():
                    batch, error = self._queue.get()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch

    @contextlib.contextmanager
    def writer_busy(self) -> Iterator[None]:
        """The writer runs Python of its own (all along but inside `writer_waits` and while it
        waits for a batch): the reading thread pauses (at its next 64 rows)."""
        self._go.clear()
        try:
            yield
        finally:
            self._go.set()

    @contextlib.contextmanager
    def writer_waits(self) -> Iterator[None]:
        """Inside `writer_busy`, a stretch where the writer waits (a long statement): reading goes on."""
        paused = not self._go.is_set()
        self._go.set()
        try:
            yield
        finally:
            if paused and not self._closed.is_set():
                self._go.clear()

    def close(self) -> None:
        """Stop reading (the import ended, was cancelled, or failed) and wait for the thread."""
        self._closed.set()
        self._go.set()
        self._thread.join()


def _commit_batch(
    factory: sessionmaker[Session],
    import_id: int,
    batch: ReadBatch,
    clock: Callable[[], datetime],
    progress: Callable[[ContactImport], None] | None,
    *,
    waits: Waiting = contextlib.nullcontext,
    turn: _Turn | None = None,
) -> bool:
    """Commit one batch; False when the import was cancelled meanwhile (the batch is not applied).
    `waits`: a context around the batch's long statements (the reading thread reads meanwhile).
    `turn`: the batch's place among batches written side by side (see `_commit_in_lanes`)."""
    committed = False
    try:
        with factory.begin() as session:
            if turn is None:
                job = repository.locked(session, import_id)
                if job.state is not ImportState.RUNNING:
                    return False
            else:  # locked in `_apply_batch`, once the batches before it committed
                turn.wait_to_draw()
                job = session.get_one(ContactImport, import_id)
            repository.widen_cache(session)
            _apply_batch(session, job, batch, clock(), waits=waits, turn=turn)
            session.flush()
            if progress is not None:
                progress(job)
        committed = True
    except _Stopped:
        return False
    finally:
        if turn is not None:
            turn.end(committed=committed)
    return True


# How long a batch waits for the one before it to commit (see `_Turn.settled`).
LANE_WAIT_SECONDS = 120.0


class LaneTimeout(RuntimeError):
    """A batch waited too long for the one before it: the run stops, to be retried."""


class _Stopped(Exception):  # noqa: N818 - a signal between lanes, not an error
    """A batch before this one did not commit (cancelled, or failed): neither may this one."""


class _Turn:
    """A batch's place among the batches in flight (the lifecycle's `Turns`): it draws its ids
    after the previous batch drew its own, and locks the job (counts, checkpoint, merges) only
    once the previous batch committed. Batches commit in file order, so a checkpoint never
    passes a row that is not committed, and the ids follow the file."""

    def __init__(self, previous: _Turn | None) -> None:
        self._previous = previous
        self._drawn = threading.Event()
        self._ended = threading.Event()
        self._committed = False

    def wait_to_draw(self) -> None:
        if self._previous is not None:
            self._previous._drawn.wait()
            if self._previous._ended.is_set() and not self._previous._committed:
                raise _Stopped

    def drawn(self) -> None:
        self._drawn.set()

    def settled(self) -> None:
        previous, self._previous = self._previous, None
        if previous is not None:
            # The wait is the database's unseen: were the previous batch to wait for a row this
            # batch holds (through a third transaction), neither would ever end. Past the limit
            # this batch gives up (its rows with it) and the run is retried from its checkpoint.
            if not previous._ended.wait(LANE_WAIT_SECONDS):
                raise LaneTimeout(
                    f"a batch waited {LANE_WAIT_SECONDS:.0f} s for the batch before it to commit"
                )
            if not previous._committed:
                raise _Stopped

    def end(self, *, committed: bool) -> None:
        self._committed = committed
        self._drawn.set()
        self._ended.set()


def _commit_in_lanes(
    factory: sessionmaker[Session],
    import_id: int,
    batches: Iterable[ReadBatch],
    clock: Callable[[], datetime],
    progress: Callable[[ContactImport], None] | None,
    lanes: int,
) -> bool:
    """`_commit_batch` for each batch, `lanes` of them at once (see `_Turn`), each in a
    transaction of its own on a connection of its own, so the database works on several batches
    at once; False when the import was cancelled. Two by default (TRACKER_IMPORT_LANES): on a
    2-CPU machine, where the reading thread and the server processes share the cores, three
    were no faster than two. A batch sharing a profile URL with the one before it waits for that
    one to commit first (the file's first row for a person decides, and two transactions
    inserting one URL would wait on each other). The first error, in file order, is raised once
    every batch in flight ended."""
    in_flight: collections.deque[tuple[Future[bool], ReadBatch]] = collections.deque()
    previous: _Turn | None = None
    with ThreadPoolExecutor(lanes, thread_name_prefix="import-lane") as pool:
        try:
            for batch in batches:
                while in_flight and (
                    len(in_flight) >= lanes
                    or any(not batch.fresh.keys().isdisjoint(b.fresh) for _, b in in_flight)
                ):
                    if not in_flight.popleft()[0].result():
                        return False
                turn = _Turn(previous)
                done = pool.submit(
                    _commit_batch, factory, import_id, batch, clock, progress, turn=turn
                )
                in_flight.append((done, batch))
                previous = turn
            while in_flight:
                if not in_flight.popleft()[0].result():
                    return False
        finally:
            for pending, _ in in_flight:  # after a stop or an error: they stop after it
                with contextlib.suppress(Exception):
                    pending.result()
    return True


def _load(factory: sessionmaker[Session], import_id: int) -> ContactImport:
    with factory() as session:
        return session.get_one(ContactImport, import_id)


def record_failure(
    factory: sessionmaker[Session], *, import_id: int, error: str, now: datetime
) -> None:
    """A run died on an error (a database outage, say): retry later, or fail after a few attempts."""
    with factory.begin() as session:
        job = session.get(ContactImport, import_id)
        if job is None or job.state is not ImportState.RUNNING:
            return
        job.failures += 1
        if job.failures >= MAX_FAILURES:
            finish(
                session,
                job,
                ImportState.FAILED,
                now=now,
                error=f"Stopped after {job.failures} failed attempts: {error}",
            )
        else:
            job.lease_until = now  # resumable at once by the next pass


def run_pending_imports(
    factory: sessionmaker[Session],
    *,
    clock: Callable[[], datetime],
    batch_size: int = 5000,
    lanes: int = 2,
) -> int:
    """Background jobs: run every import that is due, one after another. Returns how many ran."""
    ran = 0
    while True:
        try:
            with factory.begin() as session:
                job = claim_next(session, now=clock())
                job_id = job.id if job else None
        except Exception:  # noqa: BLE001 - the database may be away; try again next pass
            return ran
        if job_id is None:
            return ran
        try:
            run_import(factory, import_id=job_id, clock=clock, batch_size=batch_size, lanes=lanes)
        except Exception as exc:  # noqa: BLE001 - recorded on the import, retried from its checkpoint
            try:
                record_failure(factory, import_id=job_id, error=str(exc), now=clock())
            except Exception:  # noqa: BLE001
                return ran
        ran += 1
