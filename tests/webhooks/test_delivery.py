"""Deliveries to a real HTTP receiver on 127.0.0.1 (SPEC §4 Events), on SQLite and PostgreSQL,
verified by the Standard Webhooks reference library as a receiver would use it."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook as Verifier

from app.clock import FixedClock
from app.config import Settings
from app.events.numbering import number_pending
from app.webhooks import delivery
from app.webhooks.service import Keys
from tests.clients import Api, person
from tests.webhooks.receiver import Receiver, Reply


def keys(settings: Settings, **kw: Any) -> Keys:
    return Keys(secret_key=settings.secret_key, allow_private=True, **kw)


def pump(factory: sessionmaker[Session], clock: FixedClock, settings: Settings, **kw: Any) -> int:
    """What the background job does once: number, fan out, deliver what is due."""
    number_pending(factory)
    delivery.fan_out(factory, now=clock())
    return delivery.deliver_due(factory, clock=clock, keys=keys(settings, **kw))


def subscribe(api: Api, url: str, **kw: Any) -> dict[str, Any]:
    response = api.post("/api/v1/webhooks", {"url": url, **kw})
    assert response.status_code == 201, response.text
    return dict(response.json())


def attempts(api: Api, webhook_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))  # oldest first


def verified(secret: str, received: Any) -> dict[str, Any]:
    payload: dict[str, Any] = Verifier(secret).verify(received.body, received.headers)
    return payload


def test_an_event_is_delivered_signed_and_verified_by_the_reference_library(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url + "/hook", event_types=["contact.created"])
    assert hook["secret"].startswith("whsec_")
    campaign = api.campaign()
    api.add(campaign["id"], [person(1), person(2)])
    assert pump(session_factory, clock, settings) == 2
    assert len(hook_receiver.received) == 2
    events = api.get("/api/v1/events", params={"type": "contact.created"}).json()["items"]
    # Sent concurrently: not in order (receivers order by seq).
    arrived = sorted(hook_receiver.received, key=lambda r: json.loads(r.body)["seq"])
    for got, event in zip(arrived, events, strict=True):
        payload = verified(hook["secret"], got)
        assert payload == event  # the event's JSON, exactly as the log has it
        assert got.headers["webhook-id"] == event["id"]
        # The real time of the attempt, not the injected clock (receivers check the skew).
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 30
    # Nothing is sent twice.
    assert pump(session_factory, clock, settings) == 0
    log = attempts(api, hook["id"])
    assert [(a["status_code"], a["delivery"]["state"]) for a in log] == [(200, "delivered")] * 2
    assert log[0]["excerpt"] == "ok" and log[0]["duration_ms"] >= 0


def test_500_twice_then_200_arrives_on_the_third_attempt_with_all_three_logged(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url + "/hook", event_types=["campaign.state_changed"])
    hook_receiver.then(Reply(500, body=b"boom"), Reply(500, body=b"boom again"), Reply(200))
    api.campaign()  # draft -> running: one event
    assert pump(session_factory, clock, settings) == 1
    assert pump(session_factory, clock, settings) == 0  # not due for 5 s
    clock.advance(seconds=5)
    assert pump(session_factory, clock, settings) == 1
    clock.advance(minutes=4)
    assert pump(session_factory, clock, settings) == 0  # the second retry waits 5 min
    clock.advance(minutes=1)
    assert pump(session_factory, clock, settings) == 1
    assert len(hook_receiver.received) == 3
    ids = {r.headers["webhook-id"] for r in hook_receiver.received}
    assert len(ids) == 1  # the same event each time: receivers deduplicate by it
    for got in hook_receiver.received:  # each attempt signed afresh, each verifiable
        assert verified(hook["secret"], got)["type"] == "campaign.state_changed"
    log = attempts(api, hook["id"])
    assert [a["status_code"] for a in log] == [500, 500, 200]
    assert [a["excerpt"] for a in log[:2]] == ["boom", "boom again"]
    assert log[-1]["delivery"]["state"] == "delivered" and log[-1]["delivery"]["attempts"] == 3
    assert api.get(f"/api/v1/webhooks/{hook['id']}").json()["failing_since"] is None


def test_after_a_rotation_both_secrets_verify_for_24_hours(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url, event_types=["campaign.state_changed"])
    rotated = api.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret").json()
    assert rotated["secret"] != hook["secret"] and rotated["secret"].startswith("whsec_")
    api.campaign()
    pump(session_factory, clock, settings)
    (got,) = hook_receiver.received
    assert verified(rotated["secret"], got) == verified(hook["secret"], got)
    clock.advance(hours=24)
    api.campaign()
    pump(session_factory, clock, settings)
    later = hook_receiver.received[-1]
    assert verified(rotated["secret"], later)
    with pytest.raises(Exception, match="signature"):
        verified(hook["secret"], later)


def test_a_410_disables_the_subscription(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url)
    hook_receiver.then(Reply(410, body=b"gone"))
    campaign = api.campaign()  # one event: draft -> running
    pump(session_factory, clock, settings)
    assert len(hook_receiver.received) == 1
    read = api.get(f"/api/v1/webhooks/{hook['id']}").json()
    assert read["enabled"] is False and "410" in read["disabled_reason"] and read["backlog"] == 0
    (attempt,) = attempts(api, hook["id"])
    assert attempt["status_code"] == 410 and attempt["delivery"]["state"] == "failed"
    clock.advance(hours=1)
    api.add(campaign["id"], [person(i) for i in range(3)])
    pump(session_factory, clock, settings)
    assert len(hook_receiver.received) == 1  # nothing more goes to a receiver that said Gone


def test_a_redirect_is_not_followed(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url + "/hook", event_types=["campaign.state_changed"])
    hook_receiver.then(Reply(307, headers={"location": hook_receiver.url + "/elsewhere"}))
    api.campaign()
    pump(session_factory, clock, settings)
    assert [r.path for r in hook_receiver.received] == ["/hook"]
    (attempt,) = attempts(api, hook["id"])
    assert attempt["status_code"] == 307 and attempt["delivery"]["state"] == "pending"


def test_a_slow_drip_answer_is_cut_at_the_deadline(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url, event_types=["campaign.state_changed"])
    hook_receiver.then(Reply(200, body=b"x" * 100, drip_seconds=0.2))
    api.campaign()
    started = time.monotonic()
    pump(session_factory, clock, settings, deadline=1.0)
    assert time.monotonic() - started < 5  # 100 bytes at 0.2 s would take 20 s
    (attempt,) = attempts(api, hook["id"])
    assert "deadline" in attempt["error"] and attempt["delivery"]["state"] == "pending"


def test_retry_after_is_honoured_when_longer_than_the_schedule(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    subscribe(api, hook_receiver.url, event_types=["campaign.state_changed"])
    hook_receiver.then(Reply(503, headers={"retry-after": "600"}), Reply(200))
    api.campaign()
    pump(session_factory, clock, settings)
    clock.advance(minutes=5)
    assert pump(session_factory, clock, settings) == 0  # the schedule says 5 s; the receiver 10 min
    clock.advance(minutes=5)
    assert pump(session_factory, clock, settings) == 1
    assert len(hook_receiver.received) == 2


def test_the_schedule_ends_in_failed_and_five_failing_days_disable_with_a_reason(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url, event_types=["campaign.state_changed"])
    hook_receiver.default = Reply(500)
    api.campaign()
    for delay in [timedelta(0), *delivery.RETRY_DELAYS]:
        clock.set(clock() + delay)
        assert pump(session_factory, clock, settings) == 1
    assert pump(session_factory, clock, settings) == 0
    log = attempts(api, hook["id"])
    assert len(log) == 8 and log[-1]["delivery"]["state"] == "failed"
    assert api.get(f"/api/v1/webhooks/{hook['id']}").json()["enabled"] is True  # 27 h so far
    clock.advance(days=4)
    api.campaign()
    pump(session_factory, clock, settings)
    read = api.get(f"/api/v1/webhooks/{hook['id']}").json()
    assert read["enabled"] is False and "5 days" in read["disabled_reason"]


def test_replay_sends_every_event_after_a_seq_again(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    campaign = api.campaign()
    api.add(campaign["id"], [person(i) for i in range(4)])  # before the subscription
    hook = subscribe(api, hook_receiver.url, event_types=["contact.created"])
    pump(session_factory, clock, settings)
    assert hook_receiver.received == []  # a subscription gets what is recorded from now on
    response = api.post(f"/api/v1/webhooks/{hook['id']}/replay", {"after": 0})
    assert response.status_code == 202, response.text
    pump(session_factory, clock, settings)
    sent = [json.loads(r.body) for r in hook_receiver.received]
    assert [e["type"] for e in sent] == ["contact.created"] * 4
    logged = api.get("/api/v1/events", params={"type": "contact.created"}).json()["items"]
    assert sorted(e["seq"] for e in sent) == [e["seq"] for e in logged]  # not in order: by seq
    assert api.get(f"/api/v1/webhooks/{hook['id']}").json()["replaying"] is False


def test_a_test_event_goes_to_that_subscription_only(
    api: Api,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    hook = subscribe(api, hook_receiver.url + "/one")
    subscribe(api, hook_receiver.url + "/two")
    sent = api.post(f"/api/v1/webhooks/{hook['id']}/test")
    assert sent.status_code == 202, sent.text
    pump(session_factory, clock, settings)
    (got,) = hook_receiver.received
    assert got.path == "/one"
    payload = verified(hook["secret"], got)
    assert payload["type"] == "webhook.test" and payload["id"] == sent.json()["event_id"]
    assert api.get("/api/v1/events").json()["items"] == []  # not in the log
