"""An upload token is bound to the workspace and the user that uploaded the file (issue 15, item
13): another workspace's admin — or another admin of the same workspace — holding the token
previews and commits nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.service import create_user
from app.clock import FixedClock
from app.config import Settings
from app.domain.statuses import Role
from app.main import create_app
from app.models import ContactImport
from tests.builders import a_campaign, a_workspace
from tests.clients import PASSWORD, Team, login

CSV = b"First Name,LinkedIn URL\nAda,https://www.linkedin.com/in/ada\n"


@pytest.fixture
def client(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    settings = Settings(
        database_url="sqlite://",
        secret_key="test-secret-key-0123456789",
        data_dir=str(tmp_path / "data"),
    )
    app = create_app(settings, session_factory=session_factory, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def upload(client: TestClient, csrf: str, campaign_id: int) -> str:
    response = client.post(
        "/imports/upload",
        data={"csrf_token": csrf, "campaign_id": str(campaign_id)},
        files={"file": ("leads.csv", CSV, "text/csv")},
    )
    assert response.status_code == 200, response.text[:500]
    token = re.search(r'name="token" value="([0-9a-f]{32})"', response.text)
    assert token, response.text[:2000]
    return token.group(1)


def imports(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ContactImport)) or 0)


def test_a_token_works_only_for_its_workspace_and_user(
    client: TestClient, session: Session, team: Team
) -> None:
    csrf = login(client, team.admin_email)
    token = upload(client, csrf, team.campaign.id)
    client.post("/logout", data={"csrf_token": csrf})

    other = a_workspace(session)
    create_user(
        session, workspace_id=other.id, email="intruder@x.io", password=PASSWORD, role=Role.ADMIN
    )
    create_user(
        session,
        workspace_id=team.workspace.id,
        email="colleague@x.io",
        password=PASSWORD,
        role=Role.ADMIN,
    )
    their_campaign = a_campaign(session, other)
    session.flush()
    # Each with a campaign of their own workspace: the file must not reach it.
    for email, campaign_id in (
        ("intruder@x.io", their_campaign.id),
        ("colleague@x.io", team.campaign.id),
    ):
        csrf = login(client, email)
        form = {"csrf_token": csrf, "token": token, "campaign_id": str(campaign_id)}
        preview = client.post("/imports/preview", data=form)
        assert preview.status_code == 422 and "upload expired" in preview.text
        assert "Ada" not in preview.text
        commit = client.post("/imports/commit", data={**form, "map_1": "linkedin_url"})
        assert commit.status_code == 422 and "upload expired" in commit.text
        assert imports(session) == 0
        client.post("/logout", data={"csrf_token": csrf})

    csrf = login(client, team.admin_email)
    mine = client.post(
        "/imports/commit",
        data={
            "csrf_token": csrf,
            "token": token,
            "campaign_id": str(team.campaign.id),
            "map_0": "first_name",
            "map_1": "linkedin_url",
        },
        follow_redirects=False,
    )
    assert mine.status_code == 303, mine.text[:500]
    assert imports(session) == 1
