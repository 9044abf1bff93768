"""The workspace's settings (SPEC §4 `GET/PATCH /workspace`): the API, the admin page with its
confirm step, and what the withdrawal threshold changes."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.domain.statuses import ActivityKind, ContactStatus
from app.models import Workspace
from app.workspaces import service
from app.workspaces.schemas import WorkspaceUpdate
from tests.builders import an_api_key
from tests.clients import Api, Team, login, person
from tests.conftest import T0
from tests.engine.helpers import at, make_world, sandbox_urls


def invite(api: Api, count: int) -> list[int]:
    """`count` contacts of a new campaign of `api`'s workspace, invited at T0 + 1 h."""
    created = api.campaign()
    contacts = api.add(created["id"], [person(i) for i in range(count)]).json()["contacts"]
    for contact in contacts:
        url = f"/api/v1/contacts/{contact['id']}/events"
        assert api.post(url, {"event": "profile_visited", "degree": 2}).status_code == 200
        assert api.post(url, {"event": "invite_sent"}).status_code == 200
    return [c["id"] for c in contacts]


# ---------------------------------------------------------------- the API


def test_get_and_patch_the_workspace(api: Api, other_api: Api) -> None:
    got = api.get("/api/v1/workspace").json()
    assert got["id"] == api.workspace.id and got["withdraw_after_days"] == 20
    changed = api.patch("/api/v1/workspace", {"withdraw_after_days": 10, "name": "  Acme  "})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["withdraw_after_days"], changed.json()["name"]) == (10, "Acme")
    # Only the fields given change.
    renamed = api.patch("/api/v1/workspace", {"name": "Acme EU"}).json()
    assert (renamed["withdraw_after_days"], renamed["name"]) == (10, "Acme EU")
    # Another workspace is untouched.
    assert other_api.get("/api/v1/workspace").json()["withdraw_after_days"] == 20


def test_out_of_range_or_bad_settings_are_422_and_change_nothing(api: Api) -> None:
    before = api.get("/api/v1/workspace").json()
    for body, field, words in [
        ({"withdraw_after_days": 6}, "withdraw_after_days", "greater than or equal to 7"),
        ({"withdraw_after_days": 31}, "withdraw_after_days", "less than or equal to 30"),
        ({"name": "   "}, "name", "Give the workspace a name"),
        ({"id": 5}, "id", "Extra inputs are not permitted"),
    ]:
        refused = api.patch("/api/v1/workspace", body)
        assert refused.status_code == 422, body
        [message] = refused.json()["errors"][field]
        assert words in message and not message.startswith("Value error"), message
    assert api.get("/api/v1/workspace").json() == before


# ---------------------------------------------------------------- what the threshold changes


def test_a_shorter_threshold_withdraws_older_invites_at_the_next_tick(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi")
    old, young = world.add(sandbox_urls(2, accepts=False), search=True)
    world.invited([old], sent_at=at(0))
    world.invited([young], sent_at=at(9))
    assert service.stale_at_once(session, workspace_id=world.workspace.id, days=10, now=at(12)) == 1
    world.tick(at(12))  # 20 days: nothing is stale yet
    assert world.statuses([old, young]) == [ContactStatus.INVITE_SENT] * 2

    service.update_workspace(
        session, workspace_id=world.workspace.id, data=WorkspaceUpdate(withdraw_after_days=10)
    )
    world.tick(at(12, 11))
    assert world.statuses([old, young]) == [ContactStatus.WITHDRAWN, ContactStatus.INVITE_SENT]
    kind = ActivityKind.WITHDRAW_INVITE
    [withdrawal] = world.done(kind, old) + world.pending(kind, old)
    assert withdrawal.detail["after_days"] == 10


# ---------------------------------------------------------------- the admin page


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_page_says_how_many_invites_go_stale_and_asks_first(
    session: Session, app_client: TestClient, api: Api, team: Team, clock: FixedClock
) -> None:
    # The admin's workspace is the API's: three invites sent at T0, one of them 12 days old.
    team_api = Api(
        client=api.client, workspace=team.workspace, token=an_api_key(session, team.workspace)
    )
    session.flush()
    invite(team_api, 2)
    clock.advance(days=5)
    invite(team_api, 1)
    clock.set(T0 + timedelta(days=12))
    csrf = login(app_client, team.admin_email)

    page = app_client.get("/admin/workspace")
    assert page.status_code == 200 and 'value="20"' in page.text
    preview = app_client.get(
        "/admin/workspace/stale?withdraw_after_days=10", headers={"HX-Request": "true"}
    )
    assert "2 open invitations would be withdrawn at once" in preview.text
    assert "<html" not in preview.text  # a fragment for htmx
    none = app_client.get("/admin/workspace/stale?withdraw_after_days=25")
    assert "no open invitation would be withdrawn" in none.text
    for bad in ("5", "31", "ten", ""):  # out of range or not a number: the range, no count
        hint = app_client.get(f"/admin/workspace/stale?withdraw_after_days={bad}")
        assert hint.status_code == 200 and "Between 7 and 30 days." in hint.text, bad

    asked = app_client.post(
        "/admin/workspace",
        data={"csrf_token": csrf, "name": team.workspace.name, "withdraw_after_days": "5"},
    )
    assert asked.status_code == 422 and "greater than or equal to 7" in asked.text

    asked = app_client.post(
        "/admin/workspace",
        data={"csrf_token": csrf, "name": team.workspace.name, "withdraw_after_days": "7"},
    )
    assert asked.status_code == 200
    assert "Withdraw invitations after 7 days?" in asked.text
    assert "3 open invitations</strong> already wait longer than 7 days" in asked.text
    session.expire_all()
    assert session.get_one(Workspace, team.workspace.id).withdraw_after_days == 20  # not yet

    applied = app_client.post(
        "/admin/workspace",
        data={
            "csrf_token": csrf,
            "name": team.workspace.name,
            "withdraw_after_days": "7",
            "confirmed": "true",
        },
        follow_redirects=False,
    )
    assert applied.status_code == 303
    session.expire_all()
    assert session.get_one(Workspace, team.workspace.id).withdraw_after_days == 7
    assert 'value="7"' in app_client.get("/admin/workspace?saved=1").text


def test_a_rep_cannot_change_the_settings(app_client: TestClient, team: Team) -> None:
    csrf = login(app_client, team.rep_email)
    assert app_client.get("/admin/workspace").status_code == 403
    refused = app_client.post(
        "/admin/workspace", data={"csrf_token": csrf, "withdraw_after_days": "7"}
    )
    assert refused.status_code == 403
