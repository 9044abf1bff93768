"""The one clock every piece of timing goes through (SPEC §3), injectable for tests and the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved: `clock.advance(hours=2)`."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.now = now.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now.astimezone(UTC)


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
