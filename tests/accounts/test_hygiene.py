"""Accounts hygiene (SPEC §8; issue 15, items 9 and 10): an admin's password reset with a
one-time temporary password and a forced change; a user's own sessions; API keys that expire;
the audit log of admin actions, readable and filterable by admins only."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.service import create_user
from app.clock import FixedClock
from app.domain.statuses import Role
from app.models import User
from tests.builders import a_workspace
from tests.clients import Team, login


def user_id(session: Session, email: str) -> int:
    return next(u.id for u in session.query(User).filter(User.email == email))


def test_an_admin_resets_a_password_and_the_user_must_choose_a_new_one(
    app_client: TestClient, session: Session, team: Team
) -> None:
    app = app_client.app
    with TestClient(app) as rep:
        login(rep, team.rep_email)
        assert rep.get("/", follow_redirects=False).status_code == 200
        csrf = login(app_client, team.admin_email)
        reset = app_client.post(
            f"/admin/users/{user_id(session, team.rep_email)}/reset-password",
            data={"csrf_token": csrf},
        )
        assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
        temporary = re.search(r'<pre class="token">([^<]+)</pre>', reset.text)
        assert temporary
        assert "Temporary password for" not in app_client.get("/admin/users").text  # shown once
        # The rep's session ended; the old password no longer works; the temporary one does...
        assert rep.get("/", follow_redirects=False).status_code == 303
        rep.cookies.clear()
        rep_csrf = login(rep, team.rep_email, temporary.group(1))
        # ... but every page leads to the password form first.
        first = rep.get("/campaigns/1", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/account"
        assert "An admin reset your password" in rep.get("/account").text
        changed = rep.post(
            "/account/password",
            data={
                "csrf_token": rep_csrf,
                "current_password": temporary.group(1),
                "new_password": "my-own-password",
            },
            follow_redirects=False,
        )
        assert changed.status_code == 303
        assert rep.get("/", follow_redirects=False).status_code == 200
    log = app_client.get("/admin/audit").text
    assert "Password reset by an admin" in log and team.rep_email in log


def test_a_user_sees_their_sessions_and_ends_the_others(app_client: TestClient, team: Team) -> None:
    app = app_client.app
    with TestClient(app) as laptop, TestClient(app) as phone:
        login(laptop, team.rep_email)
        login(phone, team.rep_email)
        csrf = login(app_client, team.rep_email)
        account = app_client.get("/account").text
        assert account.count("Signed in") == 3 and "(this browser)" in account
        other = re.findall(r'action="/account/sessions/(\d+)/end"', account)
        assert len(other) == 2
        ended = app_client.post(f"/account/sessions/{other[0]}/end", data={"csrf_token": csrf})
        assert "That session was ended" in ended.text
        assert app_client.get("/account").text.count("Signed in") == 2
        rest = app_client.post("/account/sessions/end-others", data={"csrf_token": csrf})
        assert "1 other session ended" in rest.text
        assert laptop.get("/", follow_redirects=False).status_code == 303
        assert phone.get("/", follow_redirects=False).status_code == 303
        assert app_client.get("/", follow_redirects=False).status_code == 200


def test_api_keys_may_expire(app_client: TestClient, team: Team, clock: FixedClock) -> None:
    csrf = login(app_client, team.admin_email)
    past = app_client.post(
        "/admin/api-keys", data={"csrf_token": csrf, "name": "old", "expires_on": "2020-01-01"}
    )
    assert past.status_code == 422 and "in the past" in past.text
    day = (clock() + timedelta(days=2)).date().isoformat()
    created = app_client.post(
        "/admin/api-keys", data={"csrf_token": csrf, "name": "temp", "expires_on": day}
    )
    token = re.search(r'<pre class="token" id="new-token">([^<]+)</pre>', created.text)
    assert token
    auth = {"Authorization": f"Bearer {token.group(1)}"}
    assert app_client.get("/api/v1/workspace", headers=auth).status_code == 200
    clock.advance(days=2, hours=13)  # 23:00 on the last day: still works
    assert app_client.get("/api/v1/workspace", headers=auth).status_code == 200
    clock.advance(hours=1)  # the day after: expired, like a revoked key
    assert app_client.get("/api/v1/workspace", headers=auth).status_code == 401
    login(app_client, team.admin_email)  # the admin's session idled out meanwhile
    assert "Expired" in app_client.get("/admin/api-keys").text


def test_the_audit_log_records_admin_actions_for_admins_only(
    app_client: TestClient, session: Session, team: Team
) -> None:
    other = a_workspace(session)
    create_user(
        session, workspace_id=other.id, email="them@x.io", password="password-123", role=Role.ADMIN
    )
    session.flush()
    csrf = login(app_client, team.admin_email)
    app_client.post("/admin/api-keys", data={"csrf_token": csrf, "name": "crm"})
    app_client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "new@x.io", "password": "password-123", "role": "rep"},
    )
    app_client.post(
        f"/campaigns/{team.campaign.id}/state", data={"csrf_token": csrf, "state": "archived"}
    )
    app_client.post(
        "/admin/workspace",
        data={"csrf_token": csrf, "name": "Renamed", "withdraw_after_days": "20"},
    )
    log = app_client.get("/admin/audit").text
    for label in (
        "API key created",
        "User added",
        "Campaign archived",
        "Workspace settings changed",
    ):
        assert label in log, label
    assert team.admin_email in log and "Berlin CTOs" in log
    only_keys = app_client.get("/admin/audit", params={"action": "api_key.created"}).text
    assert "<td>API key created</td>" in only_keys and "<td>User added</td>" not in only_keys
    # Another workspace's admin sees none of it; a rep cannot open it.
    app_client.cookies.clear()
    login(app_client, "them@x.io")
    assert "<td>API key created</td>" not in app_client.get("/admin/audit").text
    app_client.cookies.clear()
    login(app_client, team.rep_email)
    assert app_client.get("/admin/audit", follow_redirects=False).status_code == 403
