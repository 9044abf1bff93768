from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.domain.errors import ErrorCode
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


def status_counts(
    session: Session, campaign_ids: Sequence[int]
) -> dict[int, dict[ContactStatus, int]]:
    rows = session.execute(
        select(Contact.campaign_id, Contact.status, func.count())
        .where(Contact.campaign_id.in_(campaign_ids))
        .group_by(Contact.campaign_id, Contact.status)
    )
    out: dict[int, dict[ContactStatus, int]] = {cid: {} for cid in campaign_ids}
    for campaign_id, status, count in rows:
        out[campaign_id][status] = count
    return out


def error_counts(session: Session, campaign_ids: Sequence[int]) -> dict[int, dict[ErrorCode, int]]:
    rows = session.execute(
        select(Contact.campaign_id, Contact.error_code, func.count())
        .where(Contact.campaign_id.in_(campaign_ids), Contact.error_code.is_not(None))
        .group_by(Contact.campaign_id, Contact.error_code)
    )
    out: dict[int, dict[ErrorCode, int]] = {cid: {} for cid in campaign_ids}
    for campaign_id, code, count in rows:
        if code is not None:
            out[campaign_id][code] = count
    return out
