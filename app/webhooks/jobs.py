"""The webhooks' background job: number, fan out and deliver, every half second."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.jobs import Job
from app.webhooks.delivery import Deliverer
from app.webhooks.service import Keys

DELIVER_EVERY_SECONDS = 0.5


def jobs(factory: sessionmaker[Session], *, clock: Clock, keys: Keys) -> list[Job]:
    return [Job("webhooks", DELIVER_EVERY_SECONDS, Deliverer(factory, clock=clock, keys=keys))]
