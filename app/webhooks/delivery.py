"""Delivering the event log to the subscriptions, at least once (SPEC §4 Events), from `serve` and
`worker` alike, with any number of processes.

1. Fan-out: each enabled subscription's `cursor_seq` follows its workspace's log (numbered events
   only: a prefix that never changes, so a seq cursor is safe); the events of its types become
   deliveries, a page per transaction. A replay walks its range the same way.
2. Claim: due deliveries are taken with FOR UPDATE SKIP LOCKED and leased to this process, and the
   transaction COMMITS: no row lock and no transaction is held across an HTTP call.
3. Deliver, outside any transaction, a few at a time (app.webhooks.network: the SSRF-safe client,
   a 15 s deadline per attempt).
4. Record each outcome in a new transaction: the attempt's row; delivered on a 2xx; else the next
   try on the schedule (Retry-After honoured when longer), or failed at its end; 410 disables the
   subscription; five days of nothing but failures disables it with the reason shown to admins.

A process killed between 2 and 4 loses nothing: its lease lapses and another process sends again
(receivers deduplicate by `webhook-id`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.events import repository as events_repository
from app.events.numbering import Numberer
from app.events.schemas import event_read
from app.models import Webhook, WebhookDelivery
from app.webhooks import network, repository, signing
from app.webhooks.service import Keys, set_enabled, signing_secrets

log = logging.getLogger(__name__)

# After the 1st, 2nd … 7th failed attempt; after the 8th the delivery has failed.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_RETRY_AFTER = timedelta(hours=24)
DISABLE_AFTER_FAILING = timedelta(days=5)
DEADLINE_SECONDS = 15.0
FANOUT_PAGE = 1000
CLAIM_BATCH = 32
CONCURRENCY = 8


def next_try(attempts: int, now: datetime, retry_after: float | None) -> datetime | None:
    """When to try again after `attempts` failed attempts (None: the schedule is over)."""
    if attempts > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempts - 1]
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return now + delay


# ---------------------------------------------------------------- fan-out


def _fan_out_one(session: Session, webhook: Webhook, now: datetime) -> int:
    types = list(webhook.event_types) or None
    made = 0
    last, _purged = events_repository.head(session, webhook.workspace_id)
    ranges = []
    if webhook.cursor_seq < last:
        ranges.append(("cursor", webhook.cursor_seq, last))
    if webhook.replay_after is not None and webhook.replay_until is not None:
        ranges.append(("replay", webhook.replay_after, webhook.replay_until))
    for kind, after, upto in ranges:
        events = events_repository.numbered_page(
            session,
            workspace_id=webhook.workspace_id,
            after=after,
            upto=upto,
            limit=FANOUT_PAGE,
            types=types,
        )
        reached = events[-1].seq or upto if len(events) == FANOUT_PAGE else upto
        repository.insert_deliveries(
            session,
            [
                {
                    "webhook_id": webhook.id,
                    "workspace_id": webhook.workspace_id,
                    "event_uid": e.uid,
                    "event_seq": e.seq,
                    "event_type": e.type,
                    "event_recorded_at": e.recorded_at,
                    "body": event_read(e).model_dump_json(),
                    "state": repository.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for e in events
            ],
        )
        made += len(events)
        if kind == "cursor":
            webhook.cursor_seq = reached
        elif reached >= upto:
            webhook.replay_after = webhook.replay_until = None
        else:
            webhook.replay_after = reached
    return made


def fan_out(factory: sessionmaker[Session], *, now: datetime, limit: int = 50) -> int:
    """One page of new (or replayed) events per subscription behind, as deliveries."""
    with factory.begin() as session:
        return sum(
            _fan_out_one(session, webhook, now)
            for webhook in repository.webhooks_behind(session, limit)
        )


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    webhook_id: int
    url: str
    uid: str
    body: bytes
    secrets: list[str]
    attempts: int


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def claim(
    factory: sessionmaker[Session], *, now: datetime, keys: Keys, limit: int = CLAIM_BATCH
) -> list[Claimed]:
    lease = timedelta(seconds=DEADLINE_SECONDS * (1 + limit // CONCURRENCY) + 30)
    with factory.begin() as session:
        rows = repository.claim_due(
            session, now=now, owner=owner_name(), lease_until=now + lease, limit=limit
        )
        return [
            Claimed(
                delivery_id=d.id,
                webhook_id=w.id,
                url=w.url,
                uid=d.event_uid,
                body=d.body.encode(),
                secrets=signing_secrets(w, keys, now),
                attempts=d.attempts,
            )
            for d, w in rows
        ]


def send(claimed: Claimed, keys: Keys) -> network.Answer:
    """One attempt, signed with the real time of this attempt."""
    headers = signing.headers(
        claimed.secrets, msg_id=claimed.uid, timestamp=int(time.time()), body=claimed.body
    )
    return network.post(
        claimed.url,
        body=claimed.body,
        headers=headers,
        allow_private=keys.allow_private,
        resolver=keys.resolver,
        deadline=keys.deadline,
    )


def record(
    factory: sessionmaker[Session], claimed: Claimed, answer: network.Answer, *, now: datetime
) -> None:
    record_many(factory, [(claimed, answer)], now=now)


def record_many(
    factory: sessionmaker[Session],
    outcomes: list[tuple[Claimed, network.Answer]],
    *,
    now: datetime,
) -> None:
    """Record a batch of outcomes in ONE transaction: each subscription's row locked once (before
    its deliveries, the order set_enabled takes them in), one commit for the batch."""
    with factory.begin() as session:
        webhooks = {
            wid: repository.webhook_for_update(session, wid)
            for wid in sorted({c.webhook_id for c, _ in outcomes})
        }
        for claimed, answer in sorted(outcomes, key=lambda o: o[0].delivery_id):
            webhook = webhooks[claimed.webhook_id]
            delivery = repository.delivery_for_update(session, claimed.delivery_id)
            if delivery is None or webhook is None:
                continue  # the subscription was deleted meanwhile
            _record_one(session, delivery, webhook, answer, now=now)


def _record_one(
    session: Session,
    delivery: WebhookDelivery,
    webhook: Webhook,
    answer: network.Answer,
    *,
    now: datetime,
) -> None:
    """One outcome: the attempt's row, then delivered, retried, failed or the subscription disabled."""
    repository.add_attempt(
        session,
        {
            "delivery_id": delivery.id,
            "webhook_id": webhook.id,
            "attempted_at": now,
            "status_code": answer.status,
            "duration_ms": answer.duration_ms,
            "excerpt": answer.excerpt[:1024],
            "error": (answer.error or "")[:500] or None,
        },
    )
    if delivery.state != repository.PENDING:
        return  # delivered by another process whose lease overlapped, or cancelled
    delivery.lease_until = delivery.lease_owner = None
    delivery.last_status = answer.status
    delivery.last_error = (answer.error or "")[:500] or None
    if answer.status is not None and 200 <= answer.status < 300:
        delivery.state = repository.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        webhook.failing_since = None
        return
    if answer.status == 410:
        delivery.state = repository.FAILED
        delivery.next_attempt_at = None
        set_enabled(
            session,
            webhook,
            enabled=False,
            now=now,
            reason="The receiver answered 410 Gone: it asked for no more deliveries",
        )
        return
    webhook.failing_since = webhook.failing_since or now
    retry_after = answer.retry_after if answer.status in (429, 503) else None
    again = next_try(delivery.attempts, now, retry_after)
    if again is None:
        delivery.state = repository.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = again
    if now - webhook.failing_since >= DISABLE_AFTER_FAILING:
        set_enabled(
            session,
            webhook,
            enabled=False,
            now=now,
            reason=f"Every delivery failed for 5 days (since {webhook.failing_since:%Y-%m-%d %H:%M} UTC)",
        )


def deliver_due(
    factory: sessionmaker[Session],
    *,
    clock: Callable[[], datetime],
    keys: Keys,
    pool: ThreadPoolExecutor | None = None,
    limit: int = CLAIM_BATCH,
) -> int:
    """Claim a batch, send it (CONCURRENCY at a time), record each outcome; returns how many."""
    claimed = claim(factory, now=clock(), keys=keys, limit=limit)
    if not claimed:
        return 0
    own = pool is None
    pool = pool or ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="webhook")
    try:
        futures = [(c, pool.submit(send, c, keys)) for c in claimed]
        outcomes = [(c, future.result()) for c, future in futures]
        record_many(factory, outcomes, now=clock())
    finally:
        if own:
            pool.shutdown()
    return len(claimed)


class Deliverer:
    """The background job: number what waits, fan out, deliver until nothing is due."""

    def __init__(
        self, factory: sessionmaker[Session], *, clock: Callable[[], datetime], keys: Keys
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.keys = keys
        self.numberer = Numberer(factory)
        self.pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="webhook")

    def subscribed(self) -> bool:
        """Whether any subscription is enabled (read without SQLite's write lock): with none, a
        pass numbers nothing and fans nothing out (the events' own job numbers the log)."""
        with self.numberer.reader() as session:
            return repository.any_enabled(session)

    def __call__(self, stopping: threading.Event | None = None) -> int:
        if not self.subscribed():
            return 0  # nothing to deliver: no numbering, no fan-out
        self.numberer(stopping)
        sent = 0
        while stopping is None or not stopping.is_set():
            made = fan_out(self.factory, now=self.clock())
            done = deliver_due(self.factory, clock=self.clock, keys=self.keys, pool=self.pool)
            sent += done
            if not made and done < CLAIM_BATCH:
                break
        return sent
