"""The imports' background jobs: run queued imports, remove uploaded files past the retention and
uploads abandoned at the preview."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.imports.running import run_pending_imports
from app.imports.service import REMOVE_BATCH, files_to_remove
from app.imports.upload import remove_abandoned_uploads
from app.jobs import Job

log = logging.getLogger(__name__)
# How often the files of ended imports are looked for once they may have outlived the retention.
FILE_CLEANUP_EVERY_SECONDS = 3600.0


def remove_old_files(
    factory: sessionmaker[Session],
    *,
    clock: Clock,
    retention: timedelta,
    stopping: threading.Event | None = None,
) -> None:
    """Remove the uploaded files of ended imports older than `retention`, a batch at a time until
    none is left; a file goes only once its import's record says so (committed first)."""
    while stopping is None or not stopping.is_set():
        with factory.begin() as session:
            paths = files_to_remove(session, now=clock(), retention=retention)
        for path in paths:
            path.unlink(missing_ok=True)
        if paths:
            log.info("removed %d uploaded files of ended imports", len(paths))
        if len(paths) < REMOVE_BATCH:
            return


def jobs(
    factory: sessionmaker[Session],
    *,
    clock: Clock,
    batch_size: int,
    lanes: int = 2,
    file_retention_days: int,
    data_dir: str,
    interval: float = 1.0,
) -> list[Job]:
    declared = [
        Job(
            "imports",
            interval,
            lambda _stopping: run_pending_imports(
                factory, clock=clock, batch_size=batch_size, lanes=lanes
            ),
        ),
        Job(
            "abandoned-uploads",
            FILE_CLEANUP_EVERY_SECONDS,
            lambda _stopping: remove_abandoned_uploads(data_dir),
        ),
    ]
    if file_retention_days:
        retention = timedelta(days=file_retention_days)
        declared.append(
            Job(
                "import-files",
                FILE_CLEANUP_EVERY_SECONDS,
                lambda stopping: remove_old_files(
                    factory, clock=clock, retention=retention, stopping=stopping
                ),
            )
        )
    return declared
