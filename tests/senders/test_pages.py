"""The senders page: reps read it, admins edit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.clients import Team, login


@pytest.mark.parametrize("path", ["/senders"])
def test_rep_reads_senders_admin_edits(app_client: TestClient, team: Team, path: str) -> None:
    csrf = login(app_client, team.rep_email)
    assert app_client.get(path).status_code == 200
    refused = app_client.post(
        f"/senders/{team.campaign.sender_id}", data={"csrf_token": csrf, "name": "x"}
    )
    assert refused.status_code == 403


def test_sender_edit_by_admin(app_client: TestClient, team: Team, session: Session) -> None:
    csrf = login(app_client, team.admin_email)
    data = {
        "csrf_token": csrf,
        "name": "Renamed",
        "tier": "premium",
        "timezone": "Europe/Berlin",
        "start": "08:30",
        "end": "17:00",
        "days": ["1", "2", "3"],
        "daily_invites": "10",
        "weekly_invites": "80",
        "daily_profile_visits": "20",
        "daily_follow_ups": "20",
        "daily_inmails": "20",
        "daily_withdrawals": "40",
    }
    ok = app_client.post(f"/senders/{team.campaign.sender_id}", data=data, follow_redirects=False)
    assert ok.status_code == 303
    bad = app_client.post(
        f"/senders/{team.campaign.sender_id}", data={**data, "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422 and "timezone" in bad.text.lower()
