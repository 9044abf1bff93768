"""The external executor's protocol over HTTP (SPEC §5): lease due actions, report each result."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import EngineMode
from app.engine.runner import run_tick
from tests.clients import Api, person
from tests.conftest import T0

TUESDAY_9 = T0.replace(hour=9) + timedelta(days=1)


def lease(api: Api, sender_id: int, **body: Any) -> httpx.Response:
    return api.post(f"/api/v1/senders/{sender_id}/actions/lease", body)


def leased(api: Api, sender_id: int, **body: Any) -> list[dict[str, Any]]:
    response = lease(api, sender_id, **body)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def report(api: Api, action_id: int, **body: Any) -> httpx.Response:
    return api.post(f"/api/v1/actions/{action_id}/result", body)


def log(api: Api, contact_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/contacts/{contact_id}/activity")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def contact(api: Api, contact_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/contacts/{contact_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def setup(
    api: Api, n: int, *, limits: dict[str, int] | None = None, **campaign: Any
) -> tuple[int, list[dict[str, Any]]]:
    sender = api.sender(limits=limits or {})
    created = api.campaign(sender_id=sender["id"], **campaign)
    response = api.add(created["id"], [person(i, company="Acme") for i in range(n)])
    assert response.status_code == 200, response.text
    return sender["id"], response.json()["contacts"]


def parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


def test_a_lease_hands_out_due_actions_within_the_senders_caps(api: Api) -> None:
    sender_id, contacts = setup(api, 10, limits={"daily_profile_visits": 5})
    items = leased(api, sender_id, limit=100, lease_seconds=120)
    assert len(items) == 5
    assert {i["kind"] for i in items} == {"profile_visit"}
    assert len({i["contact_id"] for i in items}) == 5
    urls = {c["id"]: c["linkedin_url"] for c in contacts}
    assert all(urls[i["contact_id"]] == i["linkedin_url"] for i in items)
    assert len({i["lease_token"] for i in items}) == 1
    assert {parse(i["leased_until"]) for i in items} == {T0 + timedelta(seconds=120)}
    # The day's five are out: nothing more today, even with a fresh request.
    assert leased(api, sender_id, limit=100) == []


def test_leased_actions_are_hidden_until_the_lease_expires_then_leased_again(
    api: Api, clock: FixedClock
) -> None:
    sender_id, _ = setup(api, 10, limits={"daily_profile_visits": 5})
    first = leased(api, sender_id, limit=3, lease_seconds=60)
    second = leased(api, sender_id, limit=100, lease_seconds=60)
    assert len(first) == 3 and len(second) == 2
    assert not {i["id"] for i in first} & {i["id"] for i in second}
    assert leased(api, sender_id, limit=100) == []

    clock.advance(seconds=61)
    again = leased(api, sender_id, limit=100, lease_seconds=60)
    assert {i["id"] for i in again} == {i["id"] for i in first + second}
    old_tokens = {i["lease_token"] for i in first + second}
    assert {i["lease_token"] for i in again}.isdisjoint(old_tokens)

    # The old lease can no longer report; the new one can.
    action = first[0]
    stale = report(
        api, action["id"], lease_token=action["lease_token"], outcome="success", degree=2
    )
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert contact(api, action["contact_id"])["status"] == "not_verified"
    token = next(i["lease_token"] for i in again if i["id"] == action["id"])
    fresh = report(api, action["id"], lease_token=token, outcome="success", degree=2)
    assert fresh.status_code == 200, fresh.text
    assert contact(api, action["contact_id"])["status"] == "not_connected"


def test_a_result_is_applied_once_and_a_repeat_changes_nothing(api: Api, clock: FixedClock) -> None:
    sender_id, _ = setup(api, 1, connection_template="Hi {first_name} from {company}")
    [visit] = leased(api, sender_id)
    body = {"lease_token": visit["lease_token"], "outcome": "success", "degree": 2}
    clock.advance(seconds=30)
    response = report(api, visit["id"], **body)
    assert response.status_code == 200, response.text
    entry = response.json()
    assert entry["kind"] == "profile_visit" and entry["outcome"] == "success"
    assert (entry["status_from"], entry["status_to"]) == ("not_verified", "not_connected")
    assert parse(entry["completed_at"]) == T0 + timedelta(seconds=30)
    assert entry["waiting_reason"] is None and entry["expected_at"] is None
    before = contact(api, visit["contact_id"])
    before_log = log(api, visit["contact_id"])
    assert before["status"] == "not_connected"

    clock.advance(seconds=30)
    repeat = report(api, visit["id"], **body)
    assert repeat.status_code == 200, repeat.text
    assert repeat.json() == entry
    assert contact(api, visit["contact_id"]) == before
    assert log(api, visit["contact_id"]) == before_log

    # A different second report is a conflict, and changes nothing either.
    conflicting = report(
        api, visit["id"], lease_token=visit["lease_token"], outcome="error", error_code="other"
    )
    assert conflicting.status_code == 409
    assert contact(api, visit["contact_id"]) == before

    # Verified, the contact is now due an invite carrying the rendered note.
    [invite] = leased(api, sender_id)
    assert invite["kind"] == "connection_request"
    assert invite["message"] == "Hi P0 from Acme"
    response = report(api, invite["id"], lease_token=invite["lease_token"], outcome="success")
    assert response.status_code == 200, response.text
    assert (response.json()["status_from"], response.json()["status_to"]) == (
        "not_connected",
        "invite_sent",
    )
    assert response.json()["message"] == "Hi P0 from Acme"
    assert contact(api, invite["contact_id"])["status"] == "invite_sent"


def test_an_error_result_records_the_error_on_the_contact_and_its_log(api: Api) -> None:
    sender_id, _ = setup(api, 1)
    [visit] = leased(api, sender_id)
    response = report(
        api,
        visit["id"],
        lease_token=visit["lease_token"],
        outcome="error",
        error_code="other",
        message="Profile page did not load",
    )
    assert response.status_code == 200, response.text
    entry = response.json()
    assert entry["outcome"] == "error"
    assert entry["error"]["code"] == "other"
    assert entry["error"]["message"] == "Profile page did not load"
    shown = contact(api, visit["contact_id"])
    assert shown["status"] == "not_verified" and shown["error"]["code"] == "other"
    # It is retried later, and the log says so.
    retry = next(a for a in log(api, visit["contact_id"]) if a["outcome"] == "pending")
    assert retry["kind"] == "profile_visit"
    assert parse(retry["scheduled_for"]) == T0 + timedelta(hours=1)


def test_an_error_without_an_error_code_is_422_and_leaves_the_action_pending(api: Api) -> None:
    sender_id, _ = setup(api, 1)
    [visit] = leased(api, sender_id)
    response = report(api, visit["id"], lease_token=visit["lease_token"], outcome="error")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert contact(api, visit["contact_id"])["status"] == "not_verified"
    pending = [a for a in log(api, visit["contact_id"]) if a["kind"] == "profile_visit"]
    assert [a["outcome"] for a in pending] == ["pending"]
    ok = report(api, visit["id"], lease_token=visit["lease_token"], outcome="success", degree=3)
    assert ok.status_code == 200, ok.text


def test_a_wrong_lease_token_is_409_and_applies_nothing(api: Api) -> None:
    sender_id, _ = setup(api, 1)
    [visit] = leased(api, sender_id)
    response = report(api, visit["id"], lease_token="not-the-token", outcome="success", degree=2)
    assert response.status_code == 409
    assert contact(api, visit["contact_id"])["status"] == "not_verified"


def test_another_workspaces_senders_and_actions_are_404(api: Api, other_api: Api) -> None:
    sender_id, _ = setup(api, 1)
    other_sender, _ = setup(other_api, 1)
    [theirs] = leased(other_api, other_sender)

    assert lease(api, other_sender).status_code == 404
    response = report(
        api, theirs["id"], lease_token=theirs["lease_token"], outcome="success", degree=2
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    # Their action was untouched and they can still report it.
    assert (
        report(
            other_api, theirs["id"], lease_token=theirs["lease_token"], outcome="success", degree=2
        ).status_code
        == 200
    )
    assert lease(api, 999_999_999).status_code == 404
    assert report(api, 999_999_999, lease_token="x", outcome="success").status_code == 404
    assert len(leased(api, sender_id)) == 1


def test_lease_request_bounds_are_validated(api: Api) -> None:
    sender_id, _ = setup(api, 1)
    for body in ({"limit": 0}, {"limit": 101}, {"lease_seconds": 5}, {"lease_seconds": 3601}):
        response = lease(api, sender_id, **body)
        assert response.status_code == 422, body
        assert "errors" in response.json()


def test_a_note_too_long_for_the_tier_is_never_handed_out(api: Api) -> None:
    sender = api.sender(tier="basic")
    created = api.campaign(
        sender_id=sender["id"], connection_template="Hi {first_name}, I admire {company}."
    )
    response = api.add(
        created["id"],
        [
            person(1, company="C" * 195, source="search"),
            person(2, company="Acme", source="search"),
        ],
    )
    long, short = response.json()["contacts"]
    items = leased(api, sender["id"], limit=10)
    assert [i["contact_id"] for i in items] == [short["id"]]
    shown = contact(api, long["id"])
    assert shown["status"] == "not_connected"
    assert shown["error"]["code"] == "message_too_long"
    assert shown["error"]["label"] == "Connection message length"
    [failed] = [a for a in log(api, long["id"]) if a["kind"] == "connection_request"]
    assert failed["outcome"] == "error" and failed["error"]["code"] == "message_too_long"
    assert "200" in failed["error"]["message"]


def test_the_activity_log_says_why_a_pending_action_waits_and_when_it_goes(
    api: Api, session: Session, session_factory: sessionmaker[Session]
) -> None:
    sender_id, contacts = setup(api, 8, limits={"daily_profile_visits": 5})
    items = leased(api, sender_id, limit=100)
    assert len(items) == 5
    for item in items:
        body = {"lease_token": item["lease_token"], "outcome": "success", "degree": 2}
        assert report(api, item["id"], **body).status_code == 200
    # With an external executor the engine still ticks (TRACKER_ENGINE=external): it explains.
    session.flush()
    run_tick(session_factory, now=T0, mode=EngineMode.EXTERNAL)
    done = {i["contact_id"] for i in items}
    waiting = [c for c in contacts if c["id"] not in done]
    assert len(waiting) == 3
    for c in waiting:
        entries = log(api, c["id"])
        assert [a["kind"] for a in entries] == ["profile_visit", "import"]
        pending = entries[0]
        assert pending["outcome"] == "pending" and pending["completed_at"] is None
        assert pending["waiting_reason"] == "daily_cap"
        assert pending["waiting_reason_label"]
        assert parse(pending["expected_at"]) == TUESDAY_9
    for c in contacts:
        if c["id"] in done:
            [visit] = [a for a in log(api, c["id"]) if a["kind"] == "profile_visit"]
            assert visit["outcome"] == "success" and visit["waiting_reason"] is None


def test_actions_still_leased_do_not_push_back_when_the_others_are_expected(
    api: Api, session: Session, session_factory: sessionmaker[Session]
) -> None:
    sender_id, contacts = setup(api, 8, limits={"daily_profile_visits": 5})
    handed_out = {i["contact_id"] for i in leased(api, sender_id, limit=100)}
    session.flush()
    run_tick(session_factory, now=T0, mode=EngineMode.EXTERNAL)
    for c in contacts:
        if c["id"] not in handed_out:
            [pending, _] = log(api, c["id"])
            assert pending["waiting_reason"] == "daily_cap"
            assert parse(pending["expected_at"]) == TUESDAY_9


def test_right_after_a_lease_the_actions_left_behind_say_why_they_wait(api: Api) -> None:
    sender_id, contacts = setup(api, 8, limits={"daily_profile_visits": 5})
    handed_out = {i["contact_id"] for i in leased(api, sender_id, limit=100)}
    for c in contacts:
        if c["id"] not in handed_out:
            [pending, _] = log(api, c["id"])
            assert pending["outcome"] == "pending"
            assert pending["waiting_reason"] == "daily_cap"
            assert pending["expected_at"] is not None
