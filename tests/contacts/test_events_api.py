from __future__ import annotations

import pytest

from tests.clients import Api, person


def new_contact(api: Api, **campaign: object) -> tuple[dict, str]:
    c = api.campaign(**campaign)
    contact = api.add(c["id"], [person(1)]).json()["contacts"][0]
    return contact, f"/api/v1/contacts/{contact['id']}"


def test_connection_life_cycle_through_events_with_activity(api: Api) -> None:
    contact, url = new_contact(api)
    steps = [
        ({"event": "profile_visited", "degree": 2}, "not_connected"),
        ({"event": "invite_sent", "message": "Hi P1"}, "invite_sent"),
        ({"event": "invite_accepted"}, "connected"),
        ({"event": "message_sent", "message": "Thanks!"}, "connected"),
        ({"event": "reply_received"}, "connected"),
    ]
    for body, status in steps:
        response = api.post(f"{url}/events", body)
        assert response.status_code == 200, response.text
        assert response.json()["contact"]["status"] == status
    contact = api.get(url).json()
    assert contact["replied"] is True and contact["invited_at"] and contact["connected_at"]
    log = api.get(f"{url}/activity").json()["items"]
    assert [a["kind"] for a in log] == [
        "event",
        "follow_up",
        "event",
        "connection_request",
        "profile_visit",
        "import",
    ]
    assert log[3]["status_from"] == "not_connected" and log[3]["status_to"] == "invite_sent"
    assert log[1]["message"] == "Thanks!"
    assert all(a["outcome"] == "success" for a in log)
    assert log[-1]["id"] is None and log[-1]["detail"]["summary"] == "Added through the API"


def test_invalid_transition_is_409_naming_status_and_event(api: Api) -> None:
    contact, url = new_contact(api)
    response = api.post(f"{url}/events", {"event": "invite_accepted"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "not_verified" in problem["detail"] and "invite_accepted" in problem["detail"]
    assert problem["current_status"] == "not_verified" and problem["event"] == "invite_accepted"
    # Nothing was written.
    assert api.get(url).json()["status"] == "not_verified"
    assert [a["kind"] for a in api.get(f"{url}/activity").json()["items"]] == ["import"]


@pytest.mark.parametrize("campaign_type", ["inmail", "groups_events"])
def test_message_campaigns_never_send_invites(api: Api, campaign_type: str) -> None:
    contact, url = new_contact(api, type=campaign_type)
    assert api.post(f"{url}/events", {"event": "profile_visited", "degree": 1}).json()["contact"][
        "status"
    ] == ("not_connected")
    response = api.post(f"{url}/events", {"event": "invite_sent"})
    assert (
        response.status_code == 409
        and "never sends connection requests" in response.json()["detail"]
    )
    sent = api.post(f"{url}/events", {"event": "message_sent", "message": "Hello"}).json()
    assert sent["activity"]["kind"] == ("inmail" if campaign_type == "inmail" else "group_message")


def test_action_failed_records_the_error_with_its_label(api: Api) -> None:
    contact, url = new_contact(api)
    api.post(f"{url}/events", {"event": "profile_visited", "degree": 3})
    response = api.post(
        f"{url}/events",
        {"event": "action_failed", "error_code": "too_many_requests", "message": "Weekly limit"},
    )
    assert response.status_code == 200
    error = response.json()["contact"]["error"]
    assert error["code"] == "too_many_requests" and error["label"] == "Error"
    assert "Weekly limit" in error["message"] and "weekly invitation limit" in error["message"]
    activity = response.json()["activity"]
    assert activity["outcome"] == "error" and activity["outcome_label"] == "Error"
    email = api.post(
        f"{url}/events", {"event": "action_failed", "error_code": "email_required"}
    ).json()
    assert email["contact"]["error"]["label"] == "Email required"
    refused = api.post(f"{url}/events", {"event": "invite_sent"})
    assert refused.status_code == 409 and "email" in refused.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"event": "action_failed"},
        {"event": "profile_visited"},
        {"event": "profile_visited", "degree": 4},
        {"event": "invite_expired"},
        {"event": "nonsense"},
        {"event": "invite_sent", "occurred_at": "2999-01-01T00:00:00Z"},
        {"event": "invite_sent", "occurred_at": "2026-01-01T00:00:00"},
    ],
)
def test_malformed_events_are_422_and_change_nothing(api: Api, body: dict) -> None:
    contact, url = new_contact(api)
    api.post(f"{url}/events", {"event": "profile_visited", "degree": 2})
    response = api.post(f"{url}/events", body)
    assert response.status_code == 422, response.text
    assert api.get(url).json()["status"] == "not_connected"
