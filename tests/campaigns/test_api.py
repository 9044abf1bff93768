"""Campaigns through the API: life cycle and statistics, template errors, follow-up steps."""

from __future__ import annotations

from tests.clients import Api


def test_campaign_life_cycle_and_stats(api: Api) -> None:
    campaign = api.campaign(running=False, connection_template="Hi {first_name}!")
    assert campaign["state"] == "draft" and campaign["started_at"] is None
    assert campaign["stats"] == {
        "not_verified": 0,
        "not_connected": 0,
        "invite_sent": 0,
        "connected": 0,
        "withdrawn": 0,
        "total": 0,
        "errors": 0,
        "errors_by_code": {},
        "invited": 0,
        "accepted": 0,
        "already_connected": 0,
        "replied": 0,
        "acceptance_rate": None,
    }
    url = f"/api/v1/campaigns/{campaign['id']}"
    running = api.patch(url, {"state": "running"}).json()
    assert running["state"] == "running" and running["started_at"]
    assert api.patch(url, {"state": "paused"}).json()["state"] == "paused"
    assert api.patch(url, {"state": "archived"}).json()["state"] == "archived"
    refused = api.patch(url, {"state": "running"})
    assert refused.status_code == 409
    assert "archived" in refused.json()["detail"]
    assert api.patch(url, {"state": "draft"}).status_code == 422


def test_campaign_stats_count_statuses_and_errors(api: Api) -> None:
    campaign = api.campaign()
    created = api.add(
        campaign["id"], [{"linkedin_url": f"linkedin.com/in/someone-{i}"} for i in range(4)]
    ).json()
    first, second = created["contacts"][0]["id"], created["contacts"][1]["id"]
    api.post(f"/api/v1/contacts/{first}/events", {"event": "profile_visited", "degree": 2})
    api.post(f"/api/v1/contacts/{second}/events", {"event": "profile_visited", "degree": 1})
    api.post(
        f"/api/v1/contacts/{first}/events",
        {"event": "action_failed", "error_code": "email_required"},
    )
    stats = api.get(f"/api/v1/campaigns/{campaign['id']}").json()["stats"]
    assert stats["not_verified"] == 2 and stats["not_connected"] == 1 and stats["connected"] == 1
    assert (
        stats["total"] == 4
        and stats["errors"] == 1
        and stats["errors_by_code"] == {"email_required": 1}
    )


def test_template_errors_name_the_placeholder(api: Api) -> None:
    sender = api.sender()
    response = api.post(
        "/api/v1/campaigns",
        {
            "name": "x",
            "sender_id": sender["id"],
            "connection_template": "Hi {firstname}",
            "follow_up_steps": [{"delay_days": 1, "template": "Yo {nick}"}],
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert "{firstname}" in errors["connection_template"][0]
    assert "{nick}" in errors["follow_up_steps.0.template"][0]
    too_long = api.post(
        "/api/v1/campaigns",
        {"name": "x", "sender_id": sender["id"], "connection_template": "x" * 250},
    )
    assert (
        too_long.status_code == 422 and "200" in too_long.json()["errors"]["connection_template"][0]
    )


def test_campaign_patch_replaces_follow_up_steps(api: Api) -> None:
    campaign = api.campaign(
        follow_up_steps=[{"delay_days": 1, "template": "a"}, {"delay_days": 2, "template": "b"}]
    )
    url = f"/api/v1/campaigns/{campaign['id']}"
    body = api.patch(
        url, {"follow_up_steps": [{"delay_days": 3, "template": "c {first_name}"}], "name": "New"}
    ).json()
    assert body["follow_up_steps"] == [{"delay_days": 3, "template": "c {first_name}"}]
    assert api.get(url).json()["name"] == "New"
