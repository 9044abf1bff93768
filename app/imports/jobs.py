"""The imports' background jobs: run queued imports, and remove uploaded files past the retention."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.imports.service import REMOVE_BATCH, files_to_remove, run_pending_imports
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


ABANDONED_AFTER = timedelta(hours=24)
SIDECARS = (".owner", ".name")


def remove_abandoned_uploads(
    data_dir: str, *, now: float | None = None, older_than: timedelta = ABANDONED_AFTER
) -> int:
    """Remove files uploaded from the dashboard but never imported (left at the mapping preview):
    an upload still beside its sidecars (who uploaded it, its name: the commit removes them) and
    untouched for a day. Returns how many went."""
    cutoff = (time.time() if now is None else now) - older_than.total_seconds()
    removed = 0
    for sidecar in Path(data_dir, "imports").glob("*.name"):
        upload = sidecar.with_suffix(".csv")
        with contextlib.suppress(FileNotFoundError):
            if sidecar.stat().st_mtime >= cutoff:
                continue
        for path in (upload, *(upload.with_suffix(s) for s in SIDECARS)):
            path.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d uploads abandoned at the preview", removed)
    return removed


def jobs(
    factory: sessionmaker[Session],
    *,
    clock: Clock,
    batch_size: int,
    file_retention_days: int,
    data_dir: str,
    interval: float = 1.0,
) -> list[Job]:
    declared = [
        Job(
            "imports",
            interval,
            lambda _stopping: run_pending_imports(factory, clock=clock, batch_size=batch_size),
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
