"""The accounts' background job: nothing grows forever (SPEC §8) — sessions past their idle or
absolute timeout, sign-in counters that count nothing any more and idempotency keys past their
24 h are purged every hour."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.accounts import repository, throttle
from app.clock import Clock
from app.idempotency import service as idempotency
from app.jobs import Job

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600.0


def purge(factory: sessionmaker[Session], *, clock: Clock, idle: timedelta) -> tuple[int, int, int]:
    """Ended sessions, idle sign-in counters, idempotency keys past 24 h (a batch at a time)."""
    now = clock()
    with factory.begin() as session:
        sessions = repository.purge_sessions(session, now=now, idle_since=now - idle)
        counters = throttle.purge(session, now=now)
    keys = 0
    while True:
        with factory.begin() as session:
            done = idempotency.purge_expired(session, now=now)
        keys += done
        if done < idempotency.PURGE_BATCH:
            break
    if sessions or counters or keys:
        log.info(
            "purged %d ended sessions, %d idle sign-in counters, %d idempotency keys",
            sessions,
            counters,
            keys,
        )
    return sessions, counters, keys


def jobs(factory: sessionmaker[Session], *, clock: Clock, idle: timedelta) -> list[Job]:
    return [
        Job(
            "accounts-purge",
            PURGE_EVERY_SECONDS,
            lambda _stopping: purge(factory, clock=clock, idle=idle),
        )
    ]
