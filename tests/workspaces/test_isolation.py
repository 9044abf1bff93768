"""Workspaces apart: another workspace's senders, campaigns and contacts are 404 through every
API route, in a path or in a body, and nothing of theirs changes."""

from __future__ import annotations

from tests.clients import Api


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
