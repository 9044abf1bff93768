"""The event log (SPEC §4 Events) through the API, on SQLite and PostgreSQL: each kind of change
writes its event with the documented `data` in the change's transaction, and `GET /events` reads
them in order (paging, type filters, `after=latest`, retention's 410, workspaces apart).

The out-of-order commits of PostgreSQL are in tests/events/test_out_of_order.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.contacts.schemas import ContactEventIn
from app.contacts.service import report_event
from app.engine.sweeps import withdraw_stale_invites
from app.events.service import purge_expired
from app.models import Event
from tests.clients import Api, person
from tests.conftest import T0

SUMMARY_KEYS = {
    "id",
    "campaign_id",
    "linkedin_url",
    "first_name",
    "last_name",
    "email",
    "company",
    "status",
}


def events(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Every event of the workspace, following `next_after` to the end."""
    params = {"after": 0, "limit": 1000, **params}
    found: list[dict[str, Any]] = []
    while True:
        response = api.get("/api/v1/events", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["items"]
        if not body["items"]:
            return found
        params["after"] = body["next_after"]


def of_type(api: Api, type_: str) -> list[dict[str, Any]]:
    return [e for e in events(api) if e["type"] == type_]


def head(api: Api) -> int:
    return int(api.get("/api/v1/events", params={"after": "latest"}).json()["next_after"])


def added(api: Api, n: int = 1, **campaign: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    c = api.campaign(**campaign)
    response = api.add(c["id"], [person(i, email=f"p{i}@example.com") for i in range(n)])
    assert response.status_code == 200, response.text
    return c, response.json()["contacts"]


def report(api: Api, contact_id: int, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/api/v1/contacts/{contact_id}/events", body)
    assert response.status_code == 200, response.text
    return dict(response.json())


# ---------------------------------------------------------------- each kind of change


def test_a_bulk_add_writes_contact_created_with_the_summary(api: Api) -> None:
    campaign, contacts = added(api, 3)
    created = of_type(api, "contact.created")
    assert [e["data"]["contact"]["id"] for e in created] == [c["id"] for c in contacts]
    first = created[0]
    assert first["id"].startswith("evt_") and first["workspace_id"] == api.workspace.id
    assert first["occurred_at"] == first["recorded_at"]
    assert first["data"] == {
        "contact": {
            "id": contacts[0]["id"],
            "campaign_id": campaign["id"],
            "linkedin_url": "https://www.linkedin.com/in/person-0",
            "first_name": "P0",
            "last_name": None,
            "email": "p0@example.com",
            "company": None,
            "status": "not_verified",
        },
        "source": "api",
        "cause": "api",
    }
    seqs = [e["seq"] for e in events(api)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_an_integrations_reports_write_status_reply_and_activity_events(
    api: Api, clock: FixedClock
) -> None:
    _campaign, (contact,) = added(api)
    cid = contact["id"]
    report(api, cid, {"event": "profile_visited", "degree": 2})
    report(api, cid, {"event": "invite_sent"})
    clock.advance(days=2)
    report(api, cid, {"event": "invite_accepted", "occurred_at": "2026-03-03T09:30:00Z"})
    report(api, cid, {"event": "reply_received"})
    changes = of_type(api, "contact.status_changed")
    assert [(e["data"]["from"], e["data"]["to"], e["data"]["cause"]) for e in changes] == [
        ("not_verified", "not_connected", "event"),
        ("not_connected", "invite_sent", "event"),
        ("invite_sent", "connected", "event"),
    ]
    assert all(set(e["data"]["contact"]) == SUMMARY_KEYS for e in changes)
    assert changes[-1]["data"]["contact"]["status"] == "connected"
    # Reported in the past: occurred_at says so; recorded_at (retention counts from it) is now.
    assert changes[-1]["occurred_at"].startswith("2026-03-03T09:30:00")
    assert changes[-1]["recorded_at"].startswith("2026-03-04T10:00")
    (replied,) = of_type(api, "contact.replied")
    assert replied["data"]["contact"]["id"] == cid and replied["data"]["occurred_at"]
    completed = of_type(api, "activity.completed")
    assert [e["data"]["kind"] for e in completed] == [
        "profile_visit",
        "connection_request",
        "event",
        "event",
    ]
    assert {e["data"]["outcome"] for e in completed} == {"success"}
    assert all(e["data"]["error"] is None and e["data"]["activity_id"] for e in completed)
    # A second reply is not a first reply.
    report(api, cid, {"event": "reply_received"})
    assert len(of_type(api, "contact.replied")) == 1


def test_a_failed_action_completes_with_its_error(api: Api) -> None:
    _campaign, (contact,) = added(api)
    report(api, contact["id"], {"event": "profile_visited", "degree": 2})
    report(
        api,
        contact["id"],
        {"event": "action_failed", "error_code": "email_required", "message": "Needs an email"},
    )
    failed = of_type(api, "activity.completed")[-1]["data"]
    assert failed["outcome"] == "error" and failed["kind"] == "connection_request"
    assert failed["error"] == {
        "code": "email_required",
        "label": failed["error"]["label"],
        "message": "Needs an email",
    }
    assert failed["error"]["label"]


def test_the_sweep_writes_its_withdrawals_set_based(
    api: Api, session: Session, clock: FixedClock
) -> None:
    _campaign, contacts = added(api, 3)
    for c in contacts:
        report(api, c["id"], {"event": "profile_visited", "degree": 2})
        report(api, c["id"], {"event": "invite_sent"})
    before = head(api)
    assert withdraw_stale_invites(session, now=clock() + timedelta(days=21)) == 3
    session.flush()
    swept = events(api, after=before)
    assert [(e["type"], e["data"]["to"], e["data"]["cause"]) for e in swept] == [
        ("contact.status_changed", "withdrawn", "engine")
    ] * 3
    assert sorted(e["data"]["contact"]["id"] for e in swept) == sorted(c["id"] for c in contacts)
    assert {e["data"]["contact"]["status"] for e in swept} == {"withdrawn"}


def test_campaign_state_changes_are_events(api: Api) -> None:
    campaign = api.campaign(running=False)
    api.patch(f"/api/v1/campaigns/{campaign['id']}", {"state": "running"})
    api.patch(f"/api/v1/campaigns/{campaign['id']}", {"state": "paused"})
    api.patch(f"/api/v1/campaigns/{campaign['id']}", {"name": "Renamed"})  # no state change
    assert [e["data"] for e in of_type(api, "campaign.state_changed")] == [
        {"campaign_id": campaign["id"], "from": "draft", "to": "running"},
        {"campaign_id": campaign["id"], "from": "running", "to": "paused"},
    ]


# ---------------------------------------------------------------- nothing without its change


def test_a_refused_change_writes_no_event(api: Api) -> None:
    _campaign, (contact,) = added(api)
    mark = head(api)
    response = api.post(f"/api/v1/contacts/{contact['id']}/events", {"event": "invite_accepted"})
    assert response.status_code == 409
    assert events(api, after=mark) == []


def test_a_rolled_back_change_writes_no_event(api: Api, session: Session) -> None:
    _campaign, (contact,) = added(api)
    mark = head(api)
    with session.begin_nested() as savepoint:
        # The same change the API makes, in a transaction that then rolls back.
        report_event(
            session,
            workspace_id=api.workspace.id,
            contact_id=contact["id"],
            data=ContactEventIn(event="profile_visited", degree=2),
            now=T0,
        )
        session.flush()
        assert session.scalar(select(func.count()).select_from(Event)) > 0
        savepoint.rollback()
    assert events(api, after=mark) == []
    assert api.get(f"/api/v1/contacts/{contact['id']}").json()["status"] == "not_verified"


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(bind, "before_cursor_execute", record)


def test_a_bulk_add_of_1000_writes_its_events_in_one_statement(api: Api, session: Session) -> None:
    campaign = api.campaign()
    with statements(session) as seen:
        response = api.add(campaign["id"], [person(i) for i in range(1000)])
    assert response.status_code == 200 and response.json()["created"] == 1000
    # SQLite writes them into the log, numbered; PostgreSQL as one batch for its numberer, in the
    # statement that inserts the contacts.
    into = ("INSERT INTO EVENTS ", "INSERT INTO EVENT_BATCHES ")
    event_inserts = [s for s in seen if any(i in s.upper() for i in into)]
    assert len(event_inserts) == 1
    assert len(of_type(api, "contact.created")) == 1000


# ---------------------------------------------------------------- reading


def test_pages_follow_next_after_without_gaps_or_repeats(api: Api) -> None:
    added(api, 25)
    all_events = events(api)
    paged: list[dict[str, Any]] = []
    after = 0
    while True:
        body = api.get("/api/v1/events", params={"after": after, "limit": 7}).json()
        if not body["items"]:
            assert body["next_after"] == after
            break
        assert len(body["items"]) <= 7
        paged += body["items"]
        after = body["next_after"]
    assert paged == all_events
    assert [e["seq"] for e in paged] == list(range(1, len(paged) + 1))


def test_a_type_filter_moves_next_after_past_what_it_skipped(api: Api) -> None:
    campaign, (contact,) = added(api)
    report(api, contact["id"], {"event": "profile_visited", "degree": 2})
    last = head(api)
    body = api.get("/api/v1/events", params={"after": 0, "type": "contact.created"}).json()
    assert [e["type"] for e in body["items"]] == ["contact.created"]
    assert body["next_after"] == last  # past the campaign and activity events it skipped
    # Comma-separated and repeated both work; an unknown type is a 422 saying what to use.
    both = api.get(
        "/api/v1/events", params={"type": "contact.created,campaign.state_changed"}
    ).json()
    assert {e["type"] for e in both["items"]} == {"contact.created", "campaign.state_changed"}
    bad = api.get("/api/v1/events", params={"type": "contact.exploded"})
    assert bad.status_code == 422 and "contact.status_changed" in bad.text


def test_after_latest_starts_at_the_head(api: Api) -> None:
    added(api, 2)
    body = api.get("/api/v1/events", params={"after": "latest"}).json()
    assert body == {"items": [], "next_after": len(events(api))}
    campaign = api.campaign(running=False)
    api.patch(f"/api/v1/campaigns/{campaign['id']}", {"state": "running"})
    newer = api.get("/api/v1/events", params={"after": body["next_after"]}).json()["items"]
    assert [e["type"] for e in newer] == ["campaign.state_changed"]


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", "01"])
def test_a_malformed_after_is_a_422(api: Api, after: str) -> None:
    response = api.get("/api/v1/events", params={"after": after})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_another_workspaces_events_are_invisible(api: Api, other_api: Api) -> None:
    added(api, 3)
    assert events(other_api) == []
    added(other_api, 1)
    theirs = events(other_api)
    assert [e["seq"] for e in theirs] == list(range(1, len(theirs) + 1))  # numbered apart
    assert {e["workspace_id"] for e in theirs} == {other_api.workspace.id}
    assert all(e["data"].get("contact", {}).get("id") != 0 for e in theirs)
    mine = {e["id"] for e in events(api)}
    assert mine.isdisjoint(e["id"] for e in theirs)


def test_retention_purges_from_the_oldest_and_answers_410_inside_the_purged_range(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    added(api, 3)  # created, then the campaign's own events: seq 1..n
    old = len(events(api))
    clock.advance(days=20)
    added(api, 2)
    total = len(events(api))
    clock.advance(days=11)  # the first batch is 31 days old, the second 11
    assert purge_expired(session_factory, now=clock(), retention_days=30) == old
    kept = events(api)
    assert [e["seq"] for e in kept] == list(range(old + 1, total + 1))
    # Inside the purged range: 410 with a problem saying what to do.
    gone = api.get("/api/v1/events", params={"after": 1})
    assert gone.status_code == 410
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert "after=0" in gone.json()["detail"]
    # At the edge (every purged event read) and at 0: the kept events, nothing lost.
    at_edge = api.get("/api/v1/events", params={"after": old}).json()
    assert at_edge["items"] == kept
    assert api.get("/api/v1/events", params={"after": 0}).json()["items"] == kept
    # seq never restarts: the next event follows the last one, not the kept count.
    added(api, 1)
    assert events(api)[-1]["seq"] > total
