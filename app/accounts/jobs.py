"""The accounts' background job: nothing grows forever (SPEC §8) — sessions past their idle or
absolute timeout, and sign-in counters that count nothing any more, are purged every hour."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.accounts import repository, throttle
from app.clock import Clock
from app.jobs import Job

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600.0


def purge(factory: sessionmaker[Session], *, clock: Clock, idle: timedelta) -> tuple[int, int]:
    now = clock()
    with factory.begin() as session:
        sessions = repository.purge_sessions(session, now=now, idle_since=now - idle)
        counters = throttle.purge(session, now=now)
    if sessions or counters:
        log.info("purged %d ended sessions and %d idle sign-in counters", sessions, counters)
    return sessions, counters


def jobs(factory: sessionmaker[Session], *, clock: Clock, idle: timedelta) -> list[Job]:
    return [
        Job(
            "accounts-purge",
            PURGE_EVERY_SECONDS,
            lambda _stopping: purge(factory, clock=clock, idle=idle),
        )
    ]
