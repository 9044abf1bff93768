"""Sender accounts' queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import SenderAccount


def list_senders(
    session: Session, *, workspace_id: int, after_id: int | None = None, limit: int = 100
) -> list[SenderAccount]:
    stmt = select(SenderAccount).where(SenderAccount.workspace_id == workspace_id)
    if after_id is not None:
        stmt = stmt.where(SenderAccount.id > after_id)
    return list(session.scalars(stmt.order_by(SenderAccount.id).limit(limit)))
