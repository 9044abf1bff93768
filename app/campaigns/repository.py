from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Campaign


def get_campaign(
    session: Session, campaign_id: int, *, with_steps: bool = False
) -> Campaign | None:
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if with_steps:
        stmt = stmt.options(selectinload(Campaign.follow_up_steps))
    return session.scalar(stmt)


def list_campaigns(
    session: Session, *, workspace_id: int, after_id: int | None, limit: int
) -> list[Campaign]:
    stmt = (
        select(Campaign)
        .where(Campaign.workspace_id == workspace_id)
        .options(selectinload(Campaign.follow_up_steps))
        .order_by(Campaign.id)
        .limit(limit)
    )
    if after_id is not None:
        stmt = stmt.where(Campaign.id > after_id)
    return list(session.scalars(stmt))
