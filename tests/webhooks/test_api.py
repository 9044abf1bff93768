"""The webhooks API (SPEC §4 Events): subscriptions, bad input as clear problems that change
nothing, workspace isolation, and the SSRF rules without the development flag."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import InvalidToken
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from app.models import Webhook
from app.webhooks.service import Keys, signing_secrets
from tests.clients import Api, make_api


def test_create_shows_the_secret_once_and_lists_without_it(api: Api) -> None:
    created = api.post(
        "/api/v1/webhooks",
        {
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["contact.created"],
            "description": "CRM",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) == 6 + 44
    assert body["enabled"] is True and body["backlog"] == 0 and body["lag_p50_seconds"] is None
    read = api.get(f"/api/v1/webhooks/{body['id']}").json()
    assert "secret" not in read and read["description"] == "CRM"
    assert [w["id"] for w in api.get("/api/v1/webhooks").json()["items"]] == [body["id"]]
    changed = api.patch(f"/api/v1/webhooks/{body['id']}", {"enabled": False})
    assert changed.json()["enabled"] is False and changed.json()["disabled_reason"]
    again = api.patch(f"/api/v1/webhooks/{body['id']}", {"enabled": True}).json()
    assert again["enabled"] is True and again["disabled_reason"] is None
    assert api.client.delete(f"/api/v1/webhooks/{body['id']}", headers=api.auth).status_code == 204
    assert api.get(f"/api/v1/webhooks/{body['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1/x", "event_types": ["contact.exploded"]}, "event_types"),
        ({"url": ""}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://127.0.0.1/x", "secret": "mine"}, "secret"),
    ],
)
def test_bad_input_is_a_problem_that_changes_nothing(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = api.post("/api/v1/webhooks", body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in key for key in response.json()["errors"])
    assert api.get("/api/v1/webhooks").json()["items"] == []


def test_replay_of_a_deleted_subscription_is_404_and_a_purged_range_410(api: Api) -> None:
    hook = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/"}).json()
    api.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=api.auth)
    response = api.post(f"/api/v1/webhooks/{hook['id']}/replay", {"after": 0})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    bad = api.post("/api/v1/webhooks/1/replay", {"after": -1})
    assert bad.status_code in (404, 422)


def test_another_workspaces_webhooks_are_404(api: Api, other_api: Api) -> None:
    hook = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/"}).json()
    base = f"/api/v1/webhooks/{hook['id']}"
    assert other_api.get(base).status_code == 404
    assert other_api.patch(base, {"enabled": False}).status_code == 404
    assert other_api.client.delete(base, headers=other_api.auth).status_code == 404
    assert other_api.post(f"{base}/replay", {"after": 0}).status_code == 404
    assert other_api.post(f"{base}/test").status_code == 404
    assert other_api.post(f"{base}/rotate-secret").status_code == 404
    assert other_api.get(f"{base}/deliveries").status_code == 404
    assert other_api.get("/api/v1/webhooks").json()["items"] == []
    assert api.get(base).json()["enabled"] is True


# ---------------------------------------------------------------- without the development flag

RESOLVES = {
    "hooks.example.com": ["93.184.215.14"],
    "sneaky.example.com": ["93.184.215.14", "10.1.2.3"],
}


@pytest.fixture
def strict_api(
    session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[Api]:
    settings = Settings(database_url="sqlite://", secret_key="test-secret-key-0123456789")
    app = create_app(settings, session_factory=session_factory, clock=clock)
    app.state.webhook_resolver = lambda host, _port: RESOLVES.get(host, [])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield make_api(session, client)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://localhost/x",
        "https://10.0.0.1/x",
        "https://100.100.100.200/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/x",
        "https://[64:ff9b::7f00:1]/x",
        "https://sneaky.example.com/x",
        "https://nowhere.example.com/x",
    ],
)
def test_urls_into_our_network_are_refused(strict_api: Api, url: str) -> None:
    response = strict_api.post("/api/v1/webhooks", {"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["errors"]["url"]
    assert strict_api.get("/api/v1/webhooks").json()["items"] == []


def test_a_public_https_url_is_accepted(strict_api: Api) -> None:
    response = strict_api.post("/api/v1/webhooks", {"url": "https://hooks.example.com/x"})
    assert response.status_code == 201, response.text
    moved = strict_api.patch(
        f"/api/v1/webhooks/{response.json()['id']}", {"url": "https://10.0.0.1/"}
    )
    assert moved.status_code == 422


def test_secrets_are_encrypted_at_rest_and_survive_a_key_change(api: Api, session: Session) -> None:
    created = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/"}).json()
    stored = session.get_one(Webhook, created["id"])
    session.refresh(stored)
    assert created["secret"] not in stored.secret and "whsec_" not in stored.secret
    old = Keys(secret_key="test-secret-key-0123456789")
    changed = Keys(secret_key="a-brand-new-key-9876543210", previous="test-secret-key-0123456789")
    now = stored.created_at
    assert signing_secrets(stored, old, now) == [created["secret"]]
    assert signing_secrets(stored, changed, now) == [created["secret"]]  # the previous key reads it
    with pytest.raises(InvalidToken):
        signing_secrets(stored, Keys(secret_key="a-brand-new-key-9876543210"), now)
