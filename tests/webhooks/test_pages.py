"""The admin's webhook pages: subscribe (the secret shown once), test, rotate, replay, disable,
delete; reps are kept out and another workspace's webhooks are 404."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from tests.builders import an_api_key
from tests.clients import Api, Team, login
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import pump


def test_an_admin_subscribes_tests_rotates_replays_disables_and_deletes(
    app_client: TestClient,
    session: Session,
    team: Team,
    hook_receiver: Receiver,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    settings: Settings,
) -> None:
    csrf = login(app_client, team.admin_email)
    assert "No webhook yet" in app_client.get("/admin/webhooks").text
    bad = app_client.post(
        "/admin/webhooks", data={"csrf_token": csrf, "url": "ftp://x", "event_types": ["nope"]}
    )
    assert bad.status_code == 422 and "Nothing was created" in bad.text
    created = app_client.post(
        "/admin/webhooks",
        data={"csrf_token": csrf, "url": hook_receiver.url, "description": "CRM sync"},
    )
    assert created.status_code == 200
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", created.text)
    assert secret, created.text
    hook_id = int(re.search(r'href="/admin/webhooks/(\d+)"', created.text).group(1))  # type: ignore[union-attr]
    detail = app_client.get(f"/admin/webhooks/{hook_id}")
    assert "whsec_" not in detail.text  # shown once
    assert "No attempt yet" in detail.text

    sent = app_client.post(f"/admin/webhooks/{hook_id}/test", data={"csrf_token": csrf})
    assert "on its way" in sent.text
    pump(session_factory, clock, settings)
    (got,) = hook_receiver.received
    assert b"webhook.test" in got.body
    detail = app_client.get(f"/admin/webhooks/{hook_id}")
    assert "webhook.test" in detail.text and "delivered" in detail.text

    rotated = app_client.post(f"/admin/webhooks/{hook_id}/rotate", data={"csrf_token": csrf})
    assert "shown once" in rotated.text and "whsec_" in rotated.text

    replayed = app_client.post(
        f"/admin/webhooks/{hook_id}/replay", data={"csrf_token": csrf, "after": "-3"}
    )
    assert replayed.status_code == 422 and 'aria-invalid="true"' in replayed.text

    disabled = app_client.post(
        f"/admin/webhooks/{hook_id}/enabled", data={"csrf_token": csrf, "enabled": "false"}
    )
    assert "Disabled" in disabled.text
    listed = app_client.get("/admin/webhooks")
    assert "is disabled: Disabled by an admin" in listed.text

    gone = app_client.post(
        f"/admin/webhooks/{hook_id}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert app_client.get(f"/admin/webhooks/{hook_id}").status_code == 404


def test_reps_and_other_workspaces_are_kept_out(
    app_client: TestClient, session: Session, team: Team, api: Api
) -> None:
    theirs = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/"}).json()
    csrf = login(app_client, team.admin_email)
    assert app_client.get(f"/admin/webhooks/{theirs['id']}").status_code == 404
    for action in ("test", "rotate", "delete"):
        response = app_client.post(
            f"/admin/webhooks/{theirs['id']}/{action}", data={"csrf_token": csrf}
        )
        assert response.status_code == 404, action
    assert "127.0.0.1:9" not in app_client.get("/admin/webhooks").text
    assert api.get(f"/api/v1/webhooks/{theirs['id']}").status_code == 200
    # The team's own API key sees none of the other workspace's either.
    token = an_api_key(session, team.workspace)
    session.flush()
    mine = app_client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {token}"})
    assert mine.json()["items"] == []


def test_a_rep_cannot_open_the_webhooks_page(app_client: TestClient, team: Team) -> None:
    login(app_client, team.rep_email)
    response = app_client.get("/admin/webhooks", follow_redirects=False)
    assert response.status_code in (403, 404)
