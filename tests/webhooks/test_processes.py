"""Webhook delivery across real `contact-tracker worker` processes (SPEC §4 Events: at least once,
from any number of processes): a worker killed with SIGKILL in the middle of its deliveries loses
nothing, and four workers sharing one PostgreSQL database never make the same attempt twice.

Each worker is the real CLI, with the development flag so it may reach the receiver on 127.0.0.1;
the receiver is a real HTTP server in this process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from app.campaigns.schemas import CampaignCreate
from app.campaigns.service import create_campaign
from app.contacts.service import add_contacts
from app.db import utcnow
from app.models import WebhookAttempt, WebhookDelivery
from app.webhooks.schemas import WebhookIn
from app.webhooks.service import Keys, create_webhook
from tests.builders import a_sender, a_workspace
from tests.conftest import BACKENDS, PG_URL
from tests.live import committed, drop_workspace
from tests.webhooks.receiver import Receiver, Reply, receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "process-test-secret-0123456789"


def worker_env(engine: Engine) -> dict[str, str]:
    return {
        **os.environ,
        "TRACKER_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TRACKER_SECRET_KEY": SECRET_KEY,
        "TRACKER_WEBHOOK_ALLOW_PRIVATE": "true",
        "TRACKER_LOG_LEVEL": "WARNING",
        "TRACKER_ENGINE_INTERVAL_SECONDS": "3600",
    }


@contextmanager
def workers(engine: Engine, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=worker_env(engine),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def setup_events(engine: Engine, url: str, contacts: int) -> tuple[int, int]:
    """A committed workspace subscribed to contact.created at `url`, then `contacts` new contacts
    (one event each). Returns (workspace id, webhook id)."""
    with committed(engine) as session:
        workspace = a_workspace(session)
        campaign = create_campaign(
            session,
            workspace_id=workspace.id,
            data=CampaignCreate(name="Hooks", sender_id=a_sender(session, workspace).id),
        )
        webhook, _secret = create_webhook(
            session,
            workspace_id=workspace.id,
            data=WebhookIn(url=url, event_types=["contact.created"]),
            keys=Keys(secret_key=SECRET_KEY, allow_private=True),
            now=utcnow(),
        )
        ids = (workspace.id, webhook.id)
    for start in range(0, contacts, 100):
        with committed(engine) as session:
            add_contacts(
                session,
                workspace_id=ids[0],
                campaign_id=campaign.id,
                items=[
                    {"linkedin_url": f"https://www.linkedin.com/in/hook-{i}"}
                    for i in range(start, min(start + 100, contacts))
                ],
                now=utcnow(),
            )
    return ids


def delivered(engine: Engine, webhook_id: int) -> int:
    with committed(engine) as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == "delivered"
                )
            )
            or 0
        )


def received_ids(hooks: Receiver) -> Counter[str]:
    with hooks.lock:
        return Counter(r.headers["webhook-id"] for r in hooks.received)


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.mark.parametrize("db_engine", BACKENDS, indirect=True)
def test_a_worker_killed_mid_delivery_loses_nothing(db_engine: Engine, hooks: Receiver) -> None:
    total = 40
    hooks.default = Reply(200, delay_seconds=0.4)  # slow enough to kill a worker mid-batch
    workspace_id, webhook_id = setup_events(db_engine, hooks.url + "/hook", total)
    try:
        with workers(db_engine, 1) as (first,):
            wait_until(lambda: len(hooks.received) >= 4)  # it is delivering now
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        at_kill = received_ids(hooks)
        assert 0 < len(at_kill) < total
        # The dead worker's leases would lapse after ~2 minutes; move them to now rather than wait.
        with committed(db_engine) as session:
            leased = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.webhook_id == webhook_id,
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.lease_until.is_not(None),
                )
                .values(lease_until=utcnow())
            )
            assert leased.rowcount > 0  # type: ignore[attr-defined]  # it died holding some
        hooks.default = Reply(200)
        with workers(db_engine, 1):
            wait_until(lambda: delivered(db_engine, webhook_id) == total)
        got = received_ids(hooks)
        assert len(got) == total  # every event arrived, at least once
        bodies = {json.loads(r.body)["id"] for r in hooks.received}
        assert bodies == set(got)
    finally:
        drop_workspace(db_engine, workspace_id)


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: SQLite has one writer at a time")
@pytest.mark.parametrize("db_engine", ["postgresql"], indirect=True)
def test_four_workers_never_make_the_same_attempt_twice(db_engine: Engine, hooks: Receiver) -> None:
    total = 300
    workspace_id, webhook_id = setup_events(db_engine, hooks.url + "/hook", total)
    try:
        with workers(db_engine, 4):
            wait_until(lambda: delivered(db_engine, webhook_id) == total, timeout=120)
            time.sleep(1.0)  # any duplicate still in flight would land now
        got = received_ids(hooks)
        assert len(got) == total and set(got.values()) == {1}  # each event exactly once
        with committed(db_engine) as session:
            attempts = session.execute(
                select(WebhookAttempt.delivery_id, WebhookAttempt.status_code).where(
                    WebhookAttempt.webhook_id == webhook_id
                )
            ).all()
        # Each delivery succeeded exactly once; any other attempt of it is a recorded failure (a
        # retry after the overloaded receiver refused a connection), never a second send.
        ok = Counter(d for d, status in attempts if status is not None and 200 <= status < 300)
        assert len(ok) == total and set(ok.values()) == {1}
    finally:
        drop_workspace(db_engine, workspace_id)
