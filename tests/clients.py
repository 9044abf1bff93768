"""Clients for the tests of every feature folder: `Api` (a workspace's API key and a client that
sends it), `limited_client` (an app with settings of its own) and the dashboard's sign-in (`login`,
the `Team` of an admin and a rep). Their fixtures, `api`, `other_api` and `team`, are in
tests/conftest.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from app.models import Campaign, Workspace
from tests.builders import a_workspace, an_api_key


@dataclass
class Api:
    """A workspace with an API key, and a client that sends it."""

    client: TestClient
    workspace: Workspace
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.get(url, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.post(
            url, json=json, headers={**self.auth, **kw.pop("headers", {})}, **kw
        )

    def patch(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.patch(
            url, json=json, headers={**self.auth, **kw.pop("headers", {})}, **kw
        )

    def sender(self, **data: Any) -> dict[str, Any]:
        response = self.post("/api/v1/senders", {"name": "Sender", **data})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def campaign(self, running: bool = True, **data: Any) -> dict[str, Any]:
        if "sender_id" not in data:
            data["sender_id"] = self.sender()["id"]
        response = self.post("/api/v1/campaigns", {"name": "Campaign", **data})
        assert response.status_code == 201, response.text
        campaign = dict(response.json())
        if running:
            response = self.patch(f"/api/v1/campaigns/{campaign['id']}", {"state": "running"})
            assert response.status_code == 200, response.text
            campaign = dict(response.json())
        return campaign

    def add(self, campaign_id: int, contacts: list[dict[str, Any]], **kw: Any) -> httpx.Response:
        return self.post(f"/api/v1/campaigns/{campaign_id}/contacts", {"contacts": contacts}, **kw)


def make_api(session: Session, client: TestClient) -> Api:
    workspace = a_workspace(session)
    token = an_api_key(session, workspace)
    session.flush()
    return Api(client=client, workspace=workspace, token=token)


def limited_client(
    session_factory: sessionmaker[Session], clock: FixedClock, **overrides: object
) -> TestClient:
    """A client of an app with its own settings (a rate limit, a body cap), on the test's database."""
    settings = Settings(database_url="sqlite://", secret_key="x" * 32, **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings, session_factory=session_factory, clock=clock))


def person(i: int, **kw: Any) -> dict[str, Any]:
    return {"linkedin_url": f"https://www.linkedin.com/in/person-{i}", "first_name": f"P{i}", **kw}


PASSWORD = "password-123"


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token (read from the page)."""
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/account")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    return csrf.group(1)


@dataclass
class Team:
    workspace: Workspace
    admin_email: str
    rep_email: str
    campaign: Campaign
