"""Idempotency-Key: retries return the first answer and store nothing twice, also when they race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.models import Contact
from tests.builders import a_workspace, an_api_key
from tests.clients import Api, person
from tests.live import committed, drop_workspace, live_server


def count_contacts(session: Session, campaign_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign_id)
        )
        or 0
    )


def test_retry_with_same_key_returns_first_answer_and_stores_once(
    api: Api, session: Session
) -> None:
    campaign = api.campaign()
    body = [person(i) for i in range(5)]
    first = api.add(campaign["id"], body, headers={"Idempotency-Key": "batch-1"})
    retry = api.add(campaign["id"], body, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and first.json()["created"] == 5
    assert retry.headers["idempotent-replayed"] == "true"
    assert count_contacts(session, campaign["id"]) == 5
    # Without the key, the same body is a new request: everything is a duplicate now.
    again = api.add(campaign["id"], body).json()
    assert again["created"] == 0 and len(again["duplicates"]) == 5


def test_same_key_with_another_body_is_refused(api: Api, session: Session) -> None:
    campaign = api.campaign()
    api.add(campaign["id"], [person(1)], headers={"Idempotency-Key": "k"})
    response = api.add(campaign["id"], [person(2)], headers={"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert count_contacts(session, campaign["id"]) == 1


def test_keys_are_per_workspace(api: Api, other_api: Api) -> None:
    mine = api.post("/api/v1/senders", {"name": "A"}, headers={"Idempotency-Key": "same"})
    theirs = other_api.post("/api/v1/senders", {"name": "A"}, headers={"Idempotency-Key": "same"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_idempotent_create_of_sender_and_campaign(api: Api) -> None:
    a = api.post("/api/v1/senders", {"name": "S"}, headers={"Idempotency-Key": "s1"})
    b = api.post("/api/v1/senders", {"name": "S"}, headers={"Idempotency-Key": "s1"})
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert len(api.get("/api/v1/senders").json()["items"]) == 1


def test_failed_first_attempt_does_not_burn_the_key(api: Api) -> None:
    campaign = api.campaign()
    contact = api.add(campaign["id"], [person(1)]).json()["contacts"][0]
    url = f"/api/v1/contacts/{contact['id']}/events"
    refused = api.post(url, {"event": "invite_sent"}, headers={"Idempotency-Key": "e1"})
    assert refused.status_code == 409
    api.post(url, {"event": "profile_visited", "degree": 2})
    retried = api.post(url, {"event": "invite_sent"}, headers={"Idempotency-Key": "e1"})
    assert retried.status_code == 200 and retried.json()["contact"]["status"] == "invite_sent"


@pytest.fixture
def live(db_engine: Engine) -> Iterator[dict[str, Any]]:
    with committed(db_engine) as session:
        workspace = a_workspace(session)
        token = an_api_key(session, workspace)
        workspace_id = workspace.id
    try:
        with live_server(db_engine) as url:
            yield {"url": url, "auth": {"Authorization": f"Bearer {token}"}, "engine": db_engine}
    finally:
        drop_workspace(db_engine, workspace_id)


def race(n: int, send: Any) -> list[httpx.Response]:
    barrier = threading.Barrier(n)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            response = send(client)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


def test_concurrent_retries_of_one_key_store_once(live: dict[str, Any]) -> None:
    base, auth = live["url"], live["auth"]
    with httpx.Client(base_url=base, headers=auth) as client:
        sender = client.post("/api/v1/senders", json={"name": "S"}).json()
        campaign = client.post(
            "/api/v1/campaigns", json={"name": "C", "sender_id": sender["id"]}
        ).json()
    url = f"{base}/api/v1/campaigns/{campaign['id']}/contacts"
    body = {"contacts": [person(i) for i in range(200)]}
    responses = race(
        8, lambda c: c.post(url, json=body, headers={**auth, "Idempotency-Key": "race-1"})
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies) and bodies[0]["created"] == 200
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 7
    with committed(live["engine"]) as session:
        assert count_contacts(session, campaign["id"]) == 200


def test_concurrent_adds_of_the_same_people_without_a_key_never_error(live: dict[str, Any]) -> None:
    base, auth = live["url"], live["auth"]
    with httpx.Client(base_url=base, headers=auth) as client:
        sender = client.post("/api/v1/senders", json={"name": "S"}).json()
        campaign = client.post(
            "/api/v1/campaigns", json={"name": "C", "sender_id": sender["id"]}
        ).json()
    url = f"{base}/api/v1/campaigns/{campaign['id']}/contacts"
    body = {"contacts": [person(i) for i in range(300)]}
    responses = race(6, lambda c: c.post(url, json=body, headers=auth))
    assert [r.status_code for r in responses] == [200] * 6
    assert sum(r.json()["created"] for r in responses) == 300
    assert all(r.json()["created"] + len(r.json()["duplicates"]) == 300 for r in responses)
    with committed(live["engine"]) as session:
        assert count_contacts(session, campaign["id"]) == 300
