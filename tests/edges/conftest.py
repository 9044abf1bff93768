"""Shared by the edge tests: a signed-in admin with a campaign, in the per-test database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.service import create_user
from app.domain.statuses import Role
from app.models import Campaign
from tests.builders import a_campaign, a_sender, a_workspace, an_api_key
from tests.clients import PASSWORD, login


@dataclass
class Admin:
    """An admin signed in through `client`, with a campaign and an API key of the same workspace."""

    client: TestClient
    csrf: str
    campaign: Campaign
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def admin(session: Session, app_client: TestClient) -> Admin:
    workspace = a_workspace(session)
    user = create_user(
        session,
        workspace_id=workspace.id,
        email=f"edge-admin{workspace.id}@x.io",
        password=PASSWORD,
        role=Role.ADMIN,
    )
    campaign = a_campaign(session, workspace, a_sender(session, workspace), name="Edge case")
    token = an_api_key(session, workspace)
    session.flush()
    csrf = login(app_client, user.email)
    return Admin(client=app_client, csrf=csrf, campaign=campaign, token=token)


def routes_of(client: TestClient) -> FastAPI:
    """The app behind a test client, to add a route that fails in a given way."""
    assert isinstance(client.app, FastAPI)
    return client.app
