from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.service import create_user
from app.domain.statuses import Role
from app.models import Campaign, Workspace
from tests.builders import a_campaign, a_sender, a_workspace

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


@pytest.fixture
def team(session: Session) -> Team:
    workspace = a_workspace(session)
    admin = create_user(
        session,
        workspace_id=workspace.id,
        email=f"boss{workspace.id}@x.io",
        password=PASSWORD,
        role=Role.ADMIN,
    )
    rep = create_user(
        session,
        workspace_id=workspace.id,
        email=f"rep{workspace.id}@x.io",
        password=PASSWORD,
        role=Role.REP,
    )
    campaign = a_campaign(session, workspace, a_sender(session, workspace), name="Berlin CTOs")
    session.flush()
    return Team(
        workspace=workspace, admin_email=admin.email, rep_email=rep.email, campaign=campaign
    )
