"""The webhooks' statements: subscriptions, fan-out of the log into deliveries, claiming due
deliveries (FOR UPDATE SKIP LOCKED and a lease), their attempts and the backlog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.models import EventHead, Webhook, WebhookAttempt, WebhookDelivery

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"


def webhooks_of(session: Session, workspace_id: int) -> list[Webhook]:
    return list(
        session.scalars(
            select(Webhook).where(Webhook.workspace_id == workspace_id).order_by(Webhook.id)
        )
    )


def webhook_of(session: Session, workspace_id: int, webhook_id: int) -> Webhook | None:
    return session.scalar(
        select(Webhook).where(Webhook.workspace_id == workspace_id, Webhook.id == webhook_id)
    )


def event_head(session: Session, workspace_id: int) -> int:
    return int(
        session.scalar(select(EventHead.last_seq).where(EventHead.workspace_id == workspace_id))
        or 0
    )


# ---------------------------------------------------------------- fan-out


def any_enabled(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Webhook.enabled))))


def webhooks_behind(session: Session, limit: int) -> list[Webhook]:
    """Enabled subscriptions with events to fan out (or a replay under way), locked for this
    fan-out; another process skips them (PostgreSQL; SQLite has one writer anyway)."""
    return list(
        session.scalars(
            select(Webhook)
            .join(EventHead, EventHead.workspace_id == Webhook.workspace_id)
            .where(
                Webhook.enabled,
                or_(EventHead.last_seq > Webhook.cursor_seq, Webhook.replay_after.is_not(None)),
            )
            .order_by(Webhook.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Webhook)
        )
    )


def insert_deliveries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(insert(WebhookDelivery), list(rows))


def cancel_pending(session: Session, webhook_id: int) -> int:
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == PENDING)
        .values(state=CANCELLED, next_attempt_at=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- delivery


def claim_due(
    session: Session, *, now: datetime, owner: str, lease_until: datetime, limit: int
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Due pending deliveries of enabled subscriptions, not leased by anyone (or whose lease
    lapsed: its process died), leased to `owner` until `lease_until`. Rows another process is
    claiming at this moment are skipped, never waited for."""
    rows = session.execute(
        select(WebhookDelivery, Webhook)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.state == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
            Webhook.enabled,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    for delivery, _webhook in rows:
        delivery.lease_until = lease_until
        delivery.lease_owner = owner
        delivery.attempts += 1
    session.flush()
    return [(d, w) for d, w in rows]


def delivery_for_update(session: Session, delivery_id: int) -> WebhookDelivery | None:
    return session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .with_for_update(key_share=True)
    )


def webhook_for_update(session: Session, webhook_id: int) -> Webhook | None:
    return session.scalar(
        select(Webhook).where(Webhook.id == webhook_id).with_for_update(key_share=True)
    )


def add_attempt(session: Session, row: Mapping[str, Any]) -> None:
    session.execute(insert(WebhookAttempt), [dict(row)])


# ---------------------------------------------------------------- reading


def attempts_page(
    session: Session, *, webhook_id: int, before_id: int | None, limit: int
) -> list[tuple[WebhookAttempt, WebhookDelivery]]:
    stmt = (
        select(WebhookAttempt, WebhookDelivery)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookAttempt.webhook_id == webhook_id)
    )
    if before_id is not None:
        stmt = stmt.where(WebhookAttempt.id < before_id)
    rows = session.execute(stmt.order_by(WebhookAttempt.id.desc()).limit(limit)).all()
    return [(a, d) for a, d in rows]


def backlog(session: Session, webhook_id: int) -> tuple[int, datetime | None]:
    """Pending deliveries, and when the oldest of their events was recorded."""
    row = session.execute(
        select(func.count(), func.min(WebhookDelivery.event_recorded_at)).where(
            WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == PENDING
        )
    ).one()
    return int(row[0]), row[1]


def recent_lags(session: Session, webhook_id: int, limit: int = 200) -> list[float]:
    """Seconds from an event's recording to its delivery, for the latest deliveries."""
    rows = session.execute(
        select(WebhookDelivery.event_recorded_at, WebhookDelivery.delivered_at)
        .where(
            and_(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.state == DELIVERED,
            )
        )
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    return [(d - r).total_seconds() for r, d in rows if d is not None]
