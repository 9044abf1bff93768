"""Ids past 64 bits and ids that are not numbers, in dashboard paths and forms: 404 or 422 as the
API answers them, never a 500 (issue 15, item 12)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.clients import Team, login

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/campaigns/{HUGE}",
        f"/campaigns/{HUGE}/edit",
        f"/campaigns/{HUGE}/export.csv",
        f"/contacts/{HUGE}",
        f"/imports/{HUGE}",
        f"/imports/{HUGE}/rejected.csv",
        f"/admin/webhooks/{HUGE}",
        "/campaigns/9223372036854775808",  # 2**63: one past PostgreSQL's bigint
    ],
)
def test_a_huge_id_in_a_page_path_is_404(app_client: TestClient, team: Team, path: str) -> None:
    login(app_client, team.admin_email)
    assert app_client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/campaigns/{HUGE}/state",
        f"/campaigns/{HUGE}/edit",
        f"/campaigns/{HUGE}/contacts/bulk",
        f"/admin/users/{HUGE}",
        f"/admin/api-keys/{HUGE}/revoke",
        f"/imports/{HUGE}/cancel",
        f"/imports/{HUGE}/undo",
        f"/senders/{HUGE}",
        f"/admin/webhooks/{HUGE}/test",
    ],
)
def test_a_huge_id_in_a_form_action_is_404(app_client: TestClient, team: Team, path: str) -> None:
    csrf = login(app_client, team.admin_email)
    assert app_client.post(path, data={"csrf_token": csrf}).status_code == 404


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/imports/preview", {"campaign_id": "abc", "token": "x"}),
        ("/imports/commit", {"campaign_id": "abc", "token": "x"}),
        ("/imports/preview", {"campaign_id": HUGE, "token": "x"}),
        ("/campaigns/{campaign}/contacts/bulk", {"contact_id": "abc", "action": "mute"}),
        ("/campaigns/{campaign}/contacts/bulk", {"contact_id": HUGE, "action": "mute"}),
        ("/campaigns/new", {"name": "X", "sender_id": "abc"}),
        ("/campaigns/new", {"name": "X", "sender_id": HUGE}),
    ],
)
def test_a_form_id_that_is_not_an_id_is_a_4xx(
    app_client: TestClient, team: Team, path: str, data: dict[str, str]
) -> None:
    csrf = login(app_client, team.admin_email)
    response = app_client.post(
        path.format(campaign=team.campaign.id), data={"csrf_token": csrf, **data}
    )
    assert response.status_code in (404, 422), response.text[:300]
