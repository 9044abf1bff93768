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


def test_other_workspaces_ids_are_404_everywhere(api: Api, other_api: Api) -> None:
    sender = other_api.sender()
    campaign = other_api.campaign(sender_id=sender["id"])
    contact = other_api.add(
        campaign["id"], [{"linkedin_url": "linkedin.com/in/hidden-person"}]
    ).json()["contacts"][0]
    for url in (
        f"/api/v1/senders/{sender['id']}",
        f"/api/v1/campaigns/{campaign['id']}",
        f"/api/v1/campaigns/{campaign['id']}/contacts",
        f"/api/v1/campaigns/{campaign['id']}/contacts?cursor=not-a-cursor",
        f"/api/v1/campaigns/{campaign['id']}/contacts?q=a%00b",
        f"/api/v1/contacts/{contact['id']}",
        f"/api/v1/contacts/{contact['id']}/activity",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"].startswith("application/problem+json")
    assert api.patch(f"/api/v1/senders/{sender['id']}", {"name": "mine"}).status_code == 404
    assert api.patch(f"/api/v1/campaigns/{campaign['id']}", {"state": "paused"}).status_code == 404
    assert (
        api.add(campaign["id"], [{"linkedin_url": "linkedin.com/in/intruder"}]).status_code == 404
    )
    assert (
        api.post(
            f"/api/v1/contacts/{contact['id']}/events", {"event": "invite_accepted"}
        ).status_code
        == 404
    )
    # In a body: a campaign cannot use another workspace's sender.
    response = api.post("/api/v1/campaigns", {"name": "x", "sender_id": sender["id"]})
    assert response.status_code == 404
    assert api.get("/api/v1/campaigns").json()["items"] == []
    # And nothing of theirs changed.
    assert other_api.get(f"/api/v1/senders/{sender['id']}").json()["name"] == "Sender"


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
