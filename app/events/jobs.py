"""The event log's background jobs: number committed events often, purge past retention hourly."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.events.numbering import Numberer
from app.events.service import purge_expired
from app.jobs import Job

log = logging.getLogger(__name__)
# The log's lag behind its writers (readers also number on demand).
NUMBER_EVERY_SECONDS = 0.25
PURGE_EVERY_SECONDS = 3600.0


def jobs(factory: sessionmaker[Session], *, clock: Clock, retention_days: int) -> list[Job]:
    numberer = Numberer(factory)

    def purge(stopping: object) -> None:
        removed = purge_expired(factory, now=clock(), retention_days=retention_days)
        if removed:
            log.info("purged %d events past retention", removed)

    return [
        Job("event-numberer", NUMBER_EVERY_SECONDS, numberer),
        Job("event-retention", PURGE_EVERY_SECONDS, purge),
    ]
