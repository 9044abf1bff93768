from __future__ import annotations

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session, selectinload

from app.domain.statuses import ContactStatus
from app.models import Campaign, Contact


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


def count_notes_over(
    session: Session, *, campaign_id: int, fixed: int, uses: dict[str, int], limit: int
) -> int:
    """Contacts not yet invited whose rendered note would be longer than `limit`: the template's fixed
    characters plus each placeholder's value length times its uses, computed by the database."""
    length: ColumnElement[int] = literal(fixed)
    for field, times in uses.items():
        if times:
            length = length + times * func.length(func.coalesce(getattr(Contact, field), ""))
    stmt = select(func.count()).where(
        Contact.campaign_id == campaign_id,
        Contact.status.in_([ContactStatus.NOT_VERIFIED, ContactStatus.NOT_CONNECTED]),
        length > limit,
    )
    return int(session.scalar(stmt) or 0)
