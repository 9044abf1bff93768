"""Webhook subscriptions (SPEC §4 Events): create (the secret shown once), change, delete, rotate
the secret, send a test, replay from a seq, read the delivery log and the backlog."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.errors import Gone, NotFound, ValidationFailed
from app.events import repository as events_repository
from app.events.numbering import NUMBER_BATCH, number_once
from app.events.outbox import new_uid
from app.events.types import EventType
from app.models import Webhook, WebhookDelivery
from app.webhooks import network, repository, secrets
from app.webhooks.schemas import (
    AttemptDelivery,
    AttemptList,
    AttemptRead,
    WebhookIn,
    WebhookRead,
    WebhookUpdate,
)

ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class Keys:
    """What webhook secrets are encrypted with: TRACKER_SECRET_KEY (and the previous one)."""

    secret_key: str
    previous: str | None = None
    allow_private: bool = False
    resolver: network.Resolver = network.system_resolver
    deadline: float = 15.0  # seconds per attempt, connect and read included

    def seal(self, secret: str) -> str:
        return secrets.encrypt(secret, secret_key=self.secret_key, previous=self.previous)

    def open(self, token: str) -> str:
        return secrets.decrypt(token, secret_key=self.secret_key, previous=self.previous)


def check_url(url: str, keys: Keys) -> str:
    url = url.strip()
    try:
        network.check_url(url, allow_private=keys.allow_private, resolver=keys.resolver)
    except network.UnsafeUrl as exc:
        raise ValidationFailed(f"Webhook URL refused: {exc}", {"url": [str(exc)]}) from exc
    return url


def log_head(session: Session, workspace_id: int) -> int:
    """The head of the workspace's log, every committed event numbered first (so "from now on"
    means after what has happened, not after what the numberer had reached)."""
    while number_once(session) >= NUMBER_BATCH:
        pass  # more waited than one batch: number them all
    return repository.event_head(session, workspace_id)


def get_webhook(session: Session, *, workspace_id: int, webhook_id: int) -> Webhook:
    webhook = repository.webhook_of(session, workspace_id, webhook_id)
    if webhook is None:
        raise NotFound(f"Webhook {webhook_id} not found")
    return webhook


def list_webhooks(session: Session, *, workspace_id: int) -> list[Webhook]:
    return repository.webhooks_of(session, workspace_id)


def create_webhook(
    session: Session, *, workspace_id: int, data: WebhookIn, keys: Keys, now: datetime
) -> tuple[Webhook, str]:
    """A subscription, sending the events recorded from now on; returns it and its secret."""
    url = check_url(data.url, keys)
    secret = secrets.new_secret()
    webhook = Webhook(
        workspace_id=workspace_id,
        url=url,
        description=data.description.strip(),
        event_types=data.event_types,
        enabled=data.enabled,
        secret=keys.seal(secret),
        cursor_seq=log_head(session, workspace_id),
        created_at=now,
        updated_at=now,
    )
    session.add(webhook)
    session.flush()
    return webhook, secret


def update_webhook(
    session: Session,
    *,
    workspace_id: int,
    webhook_id: int,
    data: WebhookUpdate,
    keys: Keys,
    now: datetime,
) -> Webhook:
    webhook = get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    if data.url is not None:
        webhook.url = check_url(data.url, keys)
    if data.event_types is not None:
        webhook.event_types = data.event_types
    if data.description is not None:
        webhook.description = data.description.strip()
    if data.enabled is not None and data.enabled is not webhook.enabled:
        set_enabled(session, webhook, enabled=data.enabled, now=now, reason="Disabled by a user")
    webhook.updated_at = now
    session.flush()
    return webhook


def set_enabled(
    session: Session, webhook: Webhook, *, enabled: bool, now: datetime, reason: str
) -> None:
    """Disabling cancels what waits; re-enabling starts from the head of the log (it sends
    nothing by itself: replay what was missed)."""
    webhook.enabled = enabled
    webhook.updated_at = now
    if enabled:
        webhook.cursor_seq = log_head(session, webhook.workspace_id)
        webhook.disabled_at = webhook.disabled_reason = webhook.failing_since = None
        webhook.replay_after = webhook.replay_until = None
    else:
        webhook.disabled_at = now
        webhook.disabled_reason = reason[:300]
        repository.cancel_pending(session, webhook.id)


def delete_webhook(session: Session, *, workspace_id: int, webhook_id: int) -> None:
    session.delete(get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id))
    session.flush()


def rotate_secret(
    session: Session, *, workspace_id: int, webhook_id: int, keys: Keys, now: datetime
) -> tuple[str, datetime]:
    """A new secret; for 24 h deliveries carry the old one's signature too."""
    webhook = get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    secret = secrets.new_secret()
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_until = now + ROTATION_OVERLAP
    webhook.secret = keys.seal(secret)
    webhook.updated_at = now
    session.flush()
    return secret, now + ROTATION_OVERLAP


def signing_secrets(webhook: Webhook, keys: Keys, now: datetime) -> list[str]:
    found = [keys.open(webhook.secret)]
    if (
        webhook.previous_secret
        and webhook.previous_secret_until
        and now < webhook.previous_secret_until
    ):
        found.append(keys.open(webhook.previous_secret))
    return found


def send_test(
    session: Session, *, workspace_id: int, webhook_id: int, now: datetime
) -> WebhookDelivery:
    """A `webhook.test` event to this subscription only (not in the log), sent by the deliverers."""
    webhook = get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    if not webhook.enabled:
        raise ValidationFailed(
            "This webhook is disabled: enable it to send a test", {"enabled": ["Enable it first"]}
        )
    uid = new_uid()
    body = {
        "id": uid,
        "seq": 0,
        "type": EventType.WEBHOOK_TEST.value,
        "occurred_at": now.isoformat(),
        "recorded_at": now.isoformat(),
        "workspace_id": workspace_id,
        "data": {"webhook_id": webhook.id, "message": "A test event from the contact tracker"},
    }
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        workspace_id=workspace_id,
        event_uid=uid,
        event_seq=0,
        event_type=EventType.WEBHOOK_TEST.value,
        event_recorded_at=now,
        body=json.dumps(body, separators=(",", ":")),
        state=repository.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


def replay(
    session: Session, *, workspace_id: int, webhook_id: int, after: int
) -> tuple[Webhook, int]:
    """Send every event after `after` again, up to the head now (a background job, a page at a
    time). Raises Gone when `after` is inside the purged range."""
    webhook = get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    if not webhook.enabled:
        raise ValidationFailed(
            "This webhook is disabled: enable it, then replay", {"after": ["Enable it first"]}
        )
    last, purged = events_repository.head(session, workspace_id)
    if 0 < after < purged:
        raise Gone(
            f"Events up to seq {purged} were purged; replay from {purged} or later "
            "(after=0 sends every kept event)"
        )
    start = max(after, purged)
    if webhook.replay_after is not None and webhook.replay_until is not None:
        start = min(start, webhook.replay_after)
        last = max(last, webhook.replay_until)
    webhook.replay_after, webhook.replay_until = start, last
    if start >= last:
        webhook.replay_after = webhook.replay_until = None
    session.flush()
    return webhook, last


def webhook_read(session: Session, webhook: Webhook) -> WebhookRead:
    pending, oldest = repository.backlog(session, webhook.id)
    lags = repository.recent_lags(session, webhook.id)
    return WebhookRead(
        id=webhook.id,
        url=webhook.url,
        description=webhook.description,
        event_types=list(webhook.event_types),
        enabled=webhook.enabled,
        disabled_at=webhook.disabled_at,
        disabled_reason=webhook.disabled_reason,
        failing_since=webhook.failing_since,
        previous_secret_until=webhook.previous_secret_until,
        backlog=pending,
        oldest_pending_recorded_at=oldest,
        lag_p50_seconds=round(statistics.median(lags), 3) if lags else None,
        replaying=webhook.replay_after is not None,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
    )


def attempts(
    session: Session, *, workspace_id: int, webhook_id: int, cursor: str | None, limit: int
) -> AttemptList:
    get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    before = None
    if cursor:
        if not cursor.isdigit():
            raise ValidationFailed("Unknown cursor", {"cursor": ["Pass back a next_cursor"]})
        before = int(cursor)
    rows = repository.attempts_page(session, webhook_id=webhook_id, before_id=before, limit=limit)
    items = [
        AttemptRead(
            id=a.id,
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            duration_ms=a.duration_ms,
            excerpt=a.excerpt,
            error=a.error,
            delivery=AttemptDelivery(
                id=d.id,
                event_id=d.event_uid,
                event_type=d.event_type,
                event_seq=d.event_seq,
                state=d.state,
                attempts=d.attempts,
            ),
        )
        for a, d in rows
    ]
    return AttemptList(items=items, next_cursor=str(items[-1].id) if len(items) == limit else None)
