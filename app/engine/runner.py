"""Running the engine: one tick at an instant, a worker loop, and the in-process thread of `serve`."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.config import EngineMode
from app.domain.errors import ErrorCode
from app.domain.statuses import ActivityKind
from app.engine import queue, repository, service
from app.errors import Conflict, NotFound
from app.models import SenderAccount

log = logging.getLogger(__name__)
# How often a jobs thread looks for ended imports whose uploaded file has outlived its retention.
FILE_CLEANUP_EVERY_SECONDS = 3600.0
LEASE_FOR = timedelta(minutes=5)
BATCH = 50


@dataclass
class TickReport:
    withdrawn: int = 0
    reinvitable: int = 0
    accepted: int = 0
    replied: int = 0
    queued: int = 0
    executed: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run_tick(factory: sessionmaker[Session], *, now: datetime, mode: EngineMode) -> TickReport:
    """One engine cycle at `now`: sweep, (sandbox) observe, schedule, execute, apply, explain."""
    report = TickReport()
    if mode is EngineMode.OFF:
        return report
    with factory.begin() as session:
        # One process sweeps per tick; the others go straight to their share of the queue.
        if repository.try_exclusive(session, "engine-sweep"):
            report.withdrawn = service.withdraw_stale_invites(session, now=now)
            report.reinvitable = service.release_old_withdrawals(session, now=now)
            if mode is EngineMode.SANDBOX:
                report.accepted, report.replied = service.observe_sandbox(session, now=now)
    with factory.begin() as session:
        sender_ids = [s.id for s in repository.active_senders(session)]
    for sender_id in sender_ids:
        with factory.begin() as session:
            report.queued += service.fill_queues(
                session, sender=session.get_one(SenderAccount, sender_id), now=now
            )
        if mode is EngineMode.SANDBOX:
            run_sandbox_actions(factory, sender_id=sender_id, now=now, report=report)
        with factory.begin() as session:
            service.refresh_expectations(
                session, sender=session.get_one(SenderAccount, sender_id), now=now
            )
    return report


def run_sandbox_actions(
    factory: sessionmaker[Session], *, sender_id: int, now: datetime, report: TickReport
) -> None:
    """Lease what is due within the caps, run it against the sandbox, apply each result."""
    while True:
        with factory.begin() as session:
            leased = service.lease_due_actions(
                session, sender_id=sender_id, limit=BATCH, lease_for=LEASE_FOR, now=now
            )
        if not leased:
            return
        rate_limited = False
        for action in leased:
            if rate_limited and action.kind is ActivityKind.CONNECTION_REQUEST:
                # LinkedIn just refused an invite for activity limits: hand the rest back, unsent.
                with factory.begin() as session:
                    queue.release_lease(session, action.id)
                continue
            try:
                with factory.begin() as session:
                    if service.is_moot(session, action):
                        continue
                    result = service.sandbox_result(session, action, sender_id=sender_id, now=now)
                    service.report_result(
                        session,
                        action_id=action.id,
                        lease_token=action.lease_token,
                        result=result,
                        now=now,
                        explain=False,
                    )
            except (NotFound, NoResultFound):
                continue  # gone meanwhile (an import undone): nothing to send
            except Conflict as exc:
                if exc.code != "moot":
                    raise
                # Settled while it was out (a reply, muting, the integration did it): the result
                # is not applied, as for an external executor's late report.
                continue
            report.executed += 1
            report.failed += 0 if result.success else 1
            rate_limited = rate_limited or result.error_code is ErrorCode.TOO_MANY_REQUESTS


class ScaledClock:
    """Simulated time for demos: `speed` simulated seconds pass per real second."""

    def __init__(self, base: Clock, speed: float) -> None:
        self.base = base
        self.speed = speed
        self.start_real = time.monotonic()
        self.start = base()

    def __call__(self) -> datetime:
        elapsed = time.monotonic() - self.start_real
        return self.start + timedelta(seconds=elapsed * self.speed)


class EngineThread:
    """The engine inside `serve` (TRACKER_ENGINE=sandbox|external): a daemon thread of ticks."""

    def __init__(
        self, factory: sessionmaker[Session], *, clock: Clock, mode: EngineMode, interval: float
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.mode = mode
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="engine", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                report = run_tick(self.factory, now=self.clock(), mode=self.mode)
                if report.executed or report.withdrawn:
                    log.info("engine tick: %s", report.as_dict())
            except Exception:  # noqa: BLE001 - a failed tick is logged and retried next interval
                log.exception("engine tick failed")
            self.stopping.wait(self.interval)


class JobsThread:
    """Background jobs inside `serve` and `worker`: imports, polled every `interval` seconds."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        clock: Clock,
        interval: float = 1.0,
        batch_size: int = 5000,
        file_retention_days: int = 0,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.interval = interval
        self.batch_size = batch_size
        self.file_retention = timedelta(days=file_retention_days) if file_retention_days else None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="jobs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    def run(self) -> None:
        from app.imports.service import run_pending_imports

        next_cleanup = 0.0
        while not self.stopping.is_set():
            try:
                run_pending_imports(self.factory, clock=self.clock, batch_size=self.batch_size)
                if self.file_retention is not None and time.monotonic() >= next_cleanup:
                    next_cleanup = time.monotonic() + FILE_CLEANUP_EVERY_SECONDS
                    self.remove_old_files(self.file_retention)
            except Exception:  # noqa: BLE001 - logged; the next pass retries
                log.exception("background jobs failed")
            self.stopping.wait(self.interval)

    def remove_old_files(self, retention: timedelta) -> None:
        from app.imports.service import REMOVE_BATCH, files_to_remove

        while not self.stopping.is_set():  # a batch at a time, until none is left
            with self.factory.begin() as session:
                paths = files_to_remove(session, now=self.clock(), retention=retention)
            for path in paths:  # only once the imports say so
                path.unlink(missing_ok=True)
            if paths:
                log.info("removed %d uploaded files of ended imports", len(paths))
            if len(paths) < REMOVE_BATCH:
                return
