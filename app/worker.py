"""The one runner of background jobs, for `serve` (in-process) and `worker` alike: each job a
feature declares runs in its own daemon thread, every `every_seconds`; a failed pass is logged and
the next one retries."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.accounts import jobs as account_jobs
from app.clock import Clock
from app.config import EngineMode, Settings
from app.engine import jobs as engine_jobs
from app.events import jobs as event_jobs
from app.imports import jobs as import_jobs
from app.jobs import Job
from app.webhooks import jobs as webhook_jobs
from app.webhooks.service import Keys

log = logging.getLogger(__name__)


def background_jobs(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    clock: Clock,
    engine_clock: Clock,
    engine: EngineMode,
    engine_interval: float,
) -> list[Job]:
    """Every feature's jobs: the engine's ticks (unless `engine` is off), the imports', the event
    log's numbering and retention, the webhooks' deliveries."""
    return [
        *engine_jobs.jobs(factory, clock=engine_clock, mode=engine, interval=engine_interval),
        *import_jobs.jobs(
            factory,
            clock=clock,
            batch_size=settings.import_batch_size,
            lanes=settings.import_lanes,
            file_retention_days=settings.import_file_retention_days,
            data_dir=settings.data_dir,
        ),
        *event_jobs.jobs(factory, clock=clock, retention_days=settings.event_retention_days),
        *account_jobs.jobs(
            factory, clock=clock, idle=timedelta(minutes=settings.session_idle_minutes)
        ),
        *webhook_jobs.jobs(
            factory,
            clock=clock,
            keys=Keys(
                secret_key=settings.secret_key,
                previous=settings.secret_key_previous,
                allow_private=settings.webhook_allow_private,
            ),
        ),
    ]


class Worker:
    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = list(jobs)
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(job,), name=job.name, daemon=True)
            for job in self.jobs
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def wait(self) -> None:
        """Block until stopped (Ctrl-C stops the process's jobs)."""
        try:
            while not self.stopping.wait(1.0):
                pass
        except KeyboardInterrupt:
            self.stop()

    def _loop(self, job: Job) -> None:
        while not self.stopping.is_set():
            try:
                job.run(self.stopping)
            except Exception:  # noqa: BLE001 - a failed pass is logged and retried
                log.exception("background job %s failed", job.name)
            self.stopping.wait(job.every_seconds)
