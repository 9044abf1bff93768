"""Per-API-key request budget in fixed one-minute windows, counted in the database.

Every server process shares the count, so the limit holds however many processes serve the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.errors import RateLimited
from app.models import ApiKey, ApiRateWindow

WINDOW = timedelta(minutes=1)


def window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def count_request(session: Session, *, api_key_id: int, now: datetime) -> int:
    """Count one request in this minute's window (SQLite; PostgreSQL counts in
    resolve_and_count_postgres) and return the count so far: `check_budget` judges it."""
    stmt = (
        sqlite_insert(ApiRateWindow)
        .values(api_key_id=api_key_id, window_start=window_start(now), count=1)
        .on_conflict_do_update(
            index_elements=["api_key_id", "window_start"],
            set_={"count": ApiRateWindow.count + 1},
        )
        .returning(ApiRateWindow.count)
    )
    count = int(session.execute(stmt).scalar_one())
    _forget_older_windows(session, api_key_id=api_key_id, count=count, now=now)
    return count


def _forget_older_windows(session: Session, *, api_key_id: int, count: int, now: datetime) -> None:
    if count == 1:
        # First request of a new minute: forget this key's older windows.
        session.execute(
            delete(ApiRateWindow).where(
                ApiRateWindow.api_key_id == api_key_id,
                ApiRateWindow.window_start < window_start(now),
            )
        )


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


def _resolve_and_count_statement() -> Any:
    """Built once (composing it costs more than running it); the values are bound per call, under
    names no column has (a parameter named like a column would join the UPDATE's SET)."""
    moment = ApiKey.last_used_at.type
    key = (
        select(ApiKey.id, ApiKey.workspace_id)
        .where(
            ApiKey.key_hash == bindparam("token_hash"),
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > bindparam("now", type_=moment)),
        )
        .cte("live_key")
    )
    used = (
        update(ApiKey)
        .where(
            ApiKey.id == select(key.c.id).scalar_subquery(),
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at <= bindparam("stale_before", type_=moment),
            ),
        )
        .values(last_used_at=bindparam("now", type_=moment))
        .returning(ApiKey.id)
        .cte("used")
    )
    counted = (
        pg_insert(ApiRateWindow)
        .from_select(
            ["api_key_id", "window_start", "count"],
            select(key.c.id, bindparam("this_window", type_=moment), literal_column("1")).where(
                # A count lost in a crash only lets a few requests more through: this statement's
                # transaction need not wait for its WAL flush (SET LOCAL, as a function).
                func.set_config("synchronous_commit", "off", True) == "off"
            ),
        )
        .on_conflict_do_update(
            index_elements=["api_key_id", "window_start"],
            set_={"count": ApiRateWindow.count + 1},
        )
        .returning(ApiRateWindow.count)
        .cte("counted")
    )
    return select(key.c.id, key.c.workspace_id, select(counted.c.count).scalar_subquery()).add_cte(
        used
    )


_RESOLVE_AND_COUNT = _resolve_and_count_statement()


def resolve_and_count_postgres(
    session: Session, *, key_hash: str, now: datetime, last_used_every: timedelta
) -> CountedKey | None:
    """PostgreSQL, in autocommit: find the live key, record its last use (at most once per
    `last_used_every`) and count the request, in one statement: one round trip where a
    transaction would take five (BEGIN, the key, SET LOCAL, the count, COMMIT). None for an
    unknown or revoked key (nothing is counted)."""
    # Core execution on the session's connection: the ORM's compile step adds nothing here.
    row = (
        session.connection()
        .execute(
            _RESOLVE_AND_COUNT,
            {
                "token_hash": key_hash,
                "now": now,
                "stale_before": now - last_used_every,
                "this_window": window_start(now),
            },
        )
        .one_or_none()
    )
    if row is None:
        return None
    api_key_id, workspace_id, count = row
    _forget_older_windows(session, api_key_id=api_key_id, count=count, now=now)
    return CountedKey(api_key_id, workspace_id, count)
