from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.accounts.rate_limit import CountedKey, window_start
from app.models import (
    ApiKey,
    ApiRateWindow,
    AuditEvent,
    SigninCounter,
    User,
    WebSession,
    Workspace,
)


def get_workspace(session: Session, workspace_id: int) -> Workspace | None:
    return session.get(Workspace, workspace_id)


def first_workspace_id(session: Session) -> int | None:
    return session.scalar(select(Workspace.id).order_by(Workspace.id).limit(1))


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def find_api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def list_api_keys(session: Session, workspace_id: int) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.id)
    return list(session.scalars(stmt))


def list_users(session: Session, workspace_id: int) -> list[User]:
    stmt = select(User).where(User.workspace_id == workspace_id).order_by(User.id)
    return list(session.scalars(stmt))


def sign_out_everywhere(session: Session, *, user_id: int) -> None:
    """End every dashboard session of the user."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


# ---------------------------------------------------------------- sign-in


def _upsert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return pg_insert(SigninCounter) if dialect == "postgresql" else sqlite_insert(SigninCounter)


def count_in_window(
    session: Session, key: str, *, now: float, window: float, limit: int
) -> float | None:
    """Count one attempt against `key`, in ONE statement, unless its window already holds
    `limit` (a window older than `window` seconds starts again). Returns None when counted, else
    the seconds until the window frees up."""
    expired = SigninCounter.window_start <= now - window
    stmt = (
        _upsert(session)
        .values(key=key, count=1, window_start=now, next_allowed=0.0)
        .on_conflict_do_update(
            index_elements=[SigninCounter.key],
            set_={
                "count": case((expired, 1), else_=SigninCounter.count + 1),
                "window_start": case((expired, now), else_=SigninCounter.window_start),
            },
            where=or_(expired, SigninCounter.count < limit),
        )
        .returning(SigninCounter.count)
    )
    if session.execute(stmt).first() is not None:
        return None
    start = session.scalar(select(SigninCounter.window_start).where(SigninCounter.key == key))
    return max(1.0, (start or now) + window - now)


def count_with_back_off(
    session: Session,
    key: str,
    *,
    now: float,
    window: float,
    delays: Mapping[int, float],
    cap: float,
) -> float | None:
    """Count one attempt against `key` in ONE statement, unless its back-off is still running;
    the n-th attempt in the window makes the next one wait `delays.get(n, cap)` seconds (0 for
    the free ones). Returns None when counted, else the seconds left to wait."""
    expired = SigninCounter.window_start <= now - window
    new_count = case((expired, 1), else_=SigninCounter.count + 1)
    delay = case(*[(new_count == n, d) for n, d in sorted(delays.items())], else_=cap)
    stmt = (
        _upsert(session)
        .values(key=key, count=1, window_start=now, next_allowed=now + delays.get(1, cap))
        .on_conflict_do_update(
            index_elements=[SigninCounter.key],
            set_={
                "count": new_count,
                "window_start": case((expired, now), else_=SigninCounter.window_start),
                "next_allowed": now + delay,
            },
            where=or_(expired, SigninCounter.next_allowed <= now),
        )
        .returning(SigninCounter.count)
    )
    if session.execute(stmt).first() is not None:
        return None
    until = session.scalar(select(SigninCounter.next_allowed).where(SigninCounter.key == key))
    return max(1.0, (until or now) - now)


def forget_counters(session: Session, keys: Sequence[str]) -> None:
    session.execute(delete(SigninCounter).where(SigninCounter.key.in_(list(keys))))


def purge_counters(session: Session, *, before: float) -> int:
    """Counters whose window and back-off are both over: they count nothing any more."""
    result = session.execute(
        delete(SigninCounter).where(
            SigninCounter.window_start < before, SigninCounter.next_allowed < before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def web_session_by_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))


def delete_web_session(session: Session, token_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def purge_sessions(session: Session, *, now: datetime, idle_since: datetime) -> int:
    """Sessions past their absolute end or idle since before `idle_since`: they never sign anyone
    in again."""
    result = session.execute(
        delete(WebSession).where(
            or_(WebSession.expires_at <= now, WebSession.last_seen_at < idle_since)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_sessions(session: Session, *, user_id: int, now: datetime) -> list[WebSession]:
    return list(
        session.scalars(
            select(WebSession)
            .where(WebSession.user_id == user_id, WebSession.expires_at > now)
            .order_by(WebSession.last_seen_at.desc())
        )
    )


def delete_session_of(session: Session, *, user_id: int, session_id: int) -> bool:
    result = session.execute(
        delete(WebSession).where(WebSession.id == session_id, WebSession.user_id == user_id)
    )
    return bool(getattr(result, "rowcount", 0))


def delete_sessions_except(session: Session, *, user_id: int, keep: int) -> int:
    result = session.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.id != keep)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def add_audit_event(session: Session, row: Mapping[str, Any]) -> None:
    session.execute(insert(AuditEvent), [dict(row)])


def audit_events(
    session: Session,
    *,
    workspace_id: int,
    action: str | None,
    actor: str | None,
    before_id: int | None,
    limit: int,
) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))


def audit_actors(session: Session, *, workspace_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.actor)
            .where(AuditEvent.workspace_id == workspace_id)
            .distinct()
            .order_by(AuditEvent.actor)
        )
    )


# ---------------------------------------------------------------- API keys' request counts


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
