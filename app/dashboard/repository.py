"""The dashboard's read-only queries: campaigns and their senders, what waits, actions per day."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from app.domain.statuses import ActivityKind, CampaignState, Outcome
from app.models import Activity, Campaign, SenderAccount


def capped_actions_by_kind(
    session: Session, *, sender_id: int, day_start: datetime, week_start: datetime
) -> Sequence[Any]:
    """(kind, since week_start, since day_start) of the sender's successful capped actions."""
    today_flag = case((Activity.completed_at >= day_start, 1), else_=0)
    return session.execute(
        select(Activity.kind, func.count(), func.sum(today_flag))
        .where(
            Activity.sender_id == sender_id,
            Activity.outcome == Outcome.SUCCESS,
            Activity.completed_at > week_start,
            Activity.kind.in_(
                [
                    ActivityKind.CONNECTION_REQUEST,
                    ActivityKind.FOLLOW_UP,
                    ActivityKind.GROUP_MESSAGE,
                    ActivityKind.INMAIL,
                ]
            ),
        )
        .group_by(Activity.kind)
    ).all()


def senders_by_id(session: Session, ids: Collection[int]) -> dict[int, SenderAccount]:
    return {
        s.id: s for s in session.scalars(select(SenderAccount).where(SenderAccount.id.in_(ids)))
    }


def campaigns_with_pending(session: Session, campaign_ids: Sequence[int]) -> set[int]:
    """Which campaigns have any action waiting, in one statement: per campaign, a probe for its
    first such action (the alert only asks yes/no). Each probe is ordered by completed_at so that
    it is read from the (campaign_id, completed_at) index: as EXISTS, PostgreSQL expects a
    pending row early in a sequential scan, but a campaign's actions are stored together, so the
    scan crossed every earlier campaign's."""
    if not campaign_ids:
        return set()
    first_pending = (
        select(Activity.id)
        .where(
            Activity.campaign_id == Campaign.id,
            Activity.completed_at.is_(None),
            Activity.outcome == Outcome.PENDING,
        )
        .order_by(Activity.completed_at)
        .limit(1)
        .correlate(Campaign)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Campaign.id, first_pending).where(Campaign.id.in_(campaign_ids))
    ).all()
    return {cid for cid, pending in rows if pending is not None}


def workspace_campaigns(
    session: Session, workspace_id: int, *, archived: bool, limit: int = 500
) -> list[Campaign]:
    """The workspace's campaigns in id order, the archived ones or the others, without their
    follow-up steps: the cards never show them (the relationship raises if one ever does)."""
    state = Campaign.state == CampaignState.ARCHIVED
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.workspace_id == workspace_id, state if archived else ~state)
            .order_by(Campaign.id)
            .limit(limit)
        )
    )


def count_archived(session: Session, *, workspace_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Campaign.workspace_id == workspace_id, Campaign.state == CampaignState.ARCHIVED
            )
        )
        or 0
    )


def _utc_day(session: Session, column: QueryableAttribute[datetime | None]) -> ColumnElement[Any]:
    """The UTC calendar day of a stored instant, computed by the database. SQLite keeps instants as
    naive UTC text ('YYYY-MM-DD HH:MM:SS…'), so the day is its first ten characters; PostgreSQL
    keeps timestamptz, so the day is taken in UTC whatever the connection's time zone."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.substr(column, 1, 10)


def actions_by_day(
    session: Session, *, workspace_id: int, since: datetime, until: datetime | None
) -> Sequence[Any]:
    """(UTC day, outcome, count) of the workspace's completed actions since `since`."""
    campaign_ids = select(Campaign.id).where(Campaign.workspace_id == workspace_id)
    day = _utc_day(session, Activity.completed_at)
    stmt = (
        select(day, Activity.outcome, func.count())
        .where(
            Activity.campaign_id.in_(campaign_ids),
            Activity.completed_at >= since,
            Activity.outcome != Outcome.PENDING,
            Activity.kind != ActivityKind.EVENT,
        )
        .group_by(day, Activity.outcome)
    )
    if until is not None:
        stmt = stmt.where(Activity.completed_at < until)
    return session.execute(stmt).all()
