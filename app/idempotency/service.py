"""Idempotency-Key: a retried POST returns the first answer and stores nothing twice.

The key is claimed by an INSERT inside the request's own transaction, before the work. A concurrent
retry's INSERT waits on the unique index (PostgreSQL) or the write lock (SQLite) until the first
commits, then finds the stored answer. If the first fails, its claim rolls back with its work.
A key belongs to a workspace: another workspace's same key is another key. What makes a retry
"the same request" is its fingerprint (app.idempotency.fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.errors import ValidationFailed
from app.idempotency import repository

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: Any


def claim_key(
    session: Session, *, workspace_id: int, key: str, fingerprint: str, now: datetime
) -> StoredAnswer | None:
    """Claim `key` for this request, or return the answer a previous request with it stored.

    Raises ValidationFailed when the key was used for a different request (another body or URL).
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            "Invalid Idempotency-Key header",
            {"Idempotency-Key": [f"Use a unique string of 1 to {MAX_KEY_LENGTH} characters"]},
        )
    # Keys older than the retention period are forgotten, so a key may be reused after a day.
    repository.forget(session, workspace_id=workspace_id, key=key, before=now - RETENTION)
    if repository.claim(
        session, workspace_id=workspace_id, key=key, fingerprint=fingerprint, now=now
    ):
        return None
    row = repository.find(session, workspace_id=workspace_id, key=key)
    if row.request_hash != fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was already used for a different request",
            {"Idempotency-Key": ["Use a new key for a new request; reuse a key only to retry"]},
        )
    if row.status_code is None:  # pragma: no cover - only visible under READ UNCOMMITTED
        raise ValidationFailed("The first request with this key is still running", {})
    return StoredAnswer(status_code=row.status_code, body=row.response)


def store_answer(
    session: Session, *, workspace_id: int, key: str, status_code: int, body: Any
) -> None:
    row = repository.find(session, workspace_id=workspace_id, key=key)
    row.status_code = status_code
    row.response = body
    session.flush()


PURGE_BATCH = 5000


def purge_expired(session: Session, *, now: datetime) -> int:
    """Keys past their 24 h (their stored answers can be large: ~0.5 MB for a 1,000-contact bulk
    add): a batch per call, for the background jobs."""
    return repository.purge(session, before=now - RETENTION, limit=PURGE_BATCH)
