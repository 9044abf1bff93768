"""Sender accounts through the API: SPEC defaults, partial updates, cursor pages."""

from __future__ import annotations

from tests.clients import Api


def test_sender_created_with_spec_defaults(api: Api) -> None:
    response = api.post("/api/v1/senders", {"name": "Jane's LinkedIn"})
    assert response.status_code == 201
    sender = response.json()
    assert sender["tier"] == "basic" and sender["timezone"] == "UTC"
    assert sender["limits"] == {
        "daily_invites": 15,
        "weekly_invites": 100,
        "daily_profile_visits": 20,
        "daily_follow_ups": 20,
        "daily_inmails": 20,
        "daily_withdrawals": 40,
    }
    assert sender["working_hours"] == {
        "start": "09:00",
        "end": "18:00",
        "days": [1, 2, 3, 4, 5],
    }
    assert api.get(f"/api/v1/senders/{sender['id']}").json() == sender


def test_sender_patch_changes_only_what_is_sent(api: Api) -> None:
    sender = api.sender(tier="premium", timezone="Europe/Berlin")
    response = api.patch(
        f"/api/v1/senders/{sender['id']}",
        {
            "limits": {"daily_invites": 25},
            "working_hours": {"start": "08:00", "end": "17:00", "days": [1, 3, 5]},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["limits"]["daily_invites"] == 25 and body["limits"]["weekly_invites"] == 100
    assert body["working_hours"]["days"] == [1, 3, 5]
    assert body["tier"] == "premium" and body["timezone"] == "Europe/Berlin"


def test_senders_list_pages_by_cursor(api: Api) -> None:
    ids = [api.sender(name=f"S{i}")["id"] for i in range(5)]
    page = api.get("/api/v1/senders?limit=2").json()
    seen = [s["id"] for s in page["items"]]
    while page["next_cursor"]:
        page = api.get(f"/api/v1/senders?limit=2&cursor={page['next_cursor']}").json()
        seen += [s["id"] for s in page["items"]]
    assert seen == ids
