"""The idempotency keys' queries: forget an expired key, claim one (an INSERT that waits on the
unique index for a concurrent claim), read a claimed one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.models import IdempotencyKey


def forget(session: Session, *, workspace_id: int, key: str, before: datetime) -> None:
    """Keys older than the retention are forgotten, so a key may be reused after a day."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.workspace_id == workspace_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < before,
        )
    )


def claim(
    session: Session, *, workspace_id: int, key: str, fingerprint: str, now: datetime
) -> bool:
    """True when this request claimed the key; False when another request holds it."""
    values = {
        "workspace_id": workspace_id,
        "key": key,
        "request_hash": fingerprint,
        "created_at": now,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claimed = session.execute(
        insert(IdempotencyKey)
        .values(values)
        .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
        .returning(IdempotencyKey.id)
    ).scalar()
    return claimed is not None


def find(session: Session, *, workspace_id: int, key: str) -> IdempotencyKey:
    return session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.workspace_id == workspace_id, IdempotencyKey.key == key
        )
    ).one()


def purge(session: Session, *, before: datetime, limit: int = 5000) -> int:
    """Delete up to `limit` keys created before `before` (oldest first, by the created_at index)."""
    ids = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.created_at < before)
        .order_by(IdempotencyKey.created_at)
        .limit(limit)
    )
    result = session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.id.in_(ids.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
