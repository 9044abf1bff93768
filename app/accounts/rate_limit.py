"""Per-API-key request budget in fixed one-minute windows, counted in the database.

Every server process shares the count, so the limit holds however many processes serve the API.
The counting statements are the accounts' repository's (`count_request`,
`resolve_and_count_postgres`); this module holds the window arithmetic and the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import RateLimited

WINDOW = timedelta(minutes=1)


def window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def seconds_left(now: datetime) -> int:
    """Whole seconds until this minute's window turns (at least 1)."""
    return max(1, math.ceil((window_start(now) + WINDOW - now).total_seconds()))


def budget_headers(count: int, *, limit: int, now: datetime) -> list[tuple[bytes, bytes]]:
    """`RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until the window turns), as the
    IETF rate-limit header draft spells them, for an answer to the `count`th request."""
    return [
        (b"ratelimit-limit", str(limit).encode()),
        (b"ratelimit-remaining", str(max(0, limit - count)).encode()),
        (b"ratelimit-reset", str(seconds_left(now)).encode()),
    ]


def check_budget(count: int, *, limit: int, now: datetime) -> None:
    """Raise RateLimited (with the seconds to wait) once `count` is past the minute's budget.
    Called after the count is committed: refused requests count too, so a client that keeps
    hammering stays refused until the window turns."""
    if count > limit:
        retry_after = seconds_left(now)
        raise RateLimited(
            f"This API key made more than {limit} requests this minute; retry in {retry_after} s",
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class CountedKey:
    api_key_id: int
    workspace_id: int
    count: int
