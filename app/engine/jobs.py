"""The engine's background job: a tick every interval (sweep, observe, schedule, execute, explain)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.config import EngineMode
from app.engine.runner import run_tick
from app.jobs import Job

log = logging.getLogger(__name__)


def jobs(
    factory: sessionmaker[Session], *, clock: Clock, mode: EngineMode, interval: float
) -> list[Job]:
    if mode is EngineMode.OFF:
        return []

    def tick(_stopping: threading.Event) -> None:
        report = run_tick(factory, now=clock(), mode=mode)
        if report.executed or report.withdrawn:
            log.info("engine tick: %s", report.as_dict())

    return [Job("engine", interval, tick)]
