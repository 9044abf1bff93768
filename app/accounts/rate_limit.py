"""Per-API-key request budget in fixed one-minute windows, counted in the database.

Every server process shares the count, so the limit holds however many processes serve the API.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.errors import RateLimited
from app.models import ApiRateWindow

WINDOW = timedelta(minutes=1)


def window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def count_request(session: Session, *, api_key_id: int, limit: int, now: datetime) -> int:
    """Count one request; raise RateLimited (with seconds to wait) once the minute's budget is spent."""
    start = window_start(now)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # A count lost in a crash only lets a few requests more through: this transaction need
        # not wait for its WAL flush (one disk sync saved on every API request).
        session.execute(text("SET LOCAL synchronous_commit = off"))
    insert = pg_insert if postgres else sqlite_insert
    stmt = (
        insert(ApiRateWindow)
        .values(api_key_id=api_key_id, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=["api_key_id", "window_start"],
            set_={"count": ApiRateWindow.count + 1},
        )
        .returning(ApiRateWindow.count)
    )
    count = int(session.execute(stmt).scalar_one())
    if count == 1:
        # First request of a new minute: forget this key's older windows.
        session.execute(
            delete(ApiRateWindow).where(
                ApiRateWindow.api_key_id == api_key_id, ApiRateWindow.window_start < start
            )
        )
    if count > limit:
        retry_after = max(1, math.ceil((start + WINDOW - now).total_seconds()))
        raise RateLimited(
            f"This API key made more than {limit} requests this minute; retry in {retry_after} s",
            retry_after=retry_after,
        )
    return limit - count
