"""Signing in to the dashboard and what a session may do (SPEC §8): fresh HttpOnly session cookies,
logout, throttling, idle expiry, roles, CSRF tokens, users and API keys."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.security import SESSION_COOKIE
from app.clock import FixedClock
from tests.clients import PASSWORD, Team, login

HX = {"HX-Request": "true"}


def test_pages_need_a_session(app_client: TestClient) -> None:
    response = app_client.get("/campaigns/1?status=connected", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcampaigns%2F1%3Fstatus%3Dconnected"
    hx = app_client.get("/", headers=HX, follow_redirects=False)
    assert hx.headers.get("HX-Redirect", "").startswith("/login")


def test_login_sets_a_fresh_httponly_session_and_logout_revokes_it(
    app_client: TestClient, team: Team
) -> None:
    app_client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    csrf = login(app_client, team.admin_email)
    token = next(
        c.value
        for c in app_client.cookies.jar
        if c.name == SESSION_COOKIE and c.value != "planted-by-an-attacker"
    )
    assert token and token != "planted-by-an-attacker" and len(token) >= 32
    set_cookie = app_client.post(
        "/login", data={}, follow_redirects=False
    )  # no form token: refused
    assert set_cookie.status_code == 403
    assert app_client.get("/", follow_redirects=False).status_code == 200
    app_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    app_client.cookies.clear()
    app_client.cookies.set(SESSION_COOKIE, token)
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_session_cookie_flags(app_client: TestClient, team: Team) -> None:
    form = app_client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = app_client.post(
        "/login",
        data={"email": team.admin_email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header


def test_wrong_password_then_throttling(app_client: TestClient, team: Team) -> None:
    for _ in range(5):
        form = app_client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        bad = app_client.post(
            "/login", data={"email": team.admin_email, "password": "nope-nope", "csrf_token": token}
        )
        assert bad.status_code == 401 and "Wrong email or password" in bad.text
    form = app_client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    throttled = app_client.post(
        "/login", data={"email": team.admin_email, "password": PASSWORD, "csrf_token": token}
    )
    assert throttled.status_code == 429 and "Try again" in throttled.text


def test_idle_sessions_expire(app_client: TestClient, team: Team, clock: FixedClock) -> None:
    login(app_client, team.rep_email)
    clock.advance(minutes=119)
    assert app_client.get("/", follow_redirects=False).status_code == 200
    clock.advance(minutes=121)
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_reps_get_no_admin_controls_and_403_on_admin_urls(
    app_client: TestClient, team: Team
) -> None:
    login(app_client, team.rep_email)
    for url in ("/", f"/campaigns/{team.campaign.id}", "/senders"):
        assert "data-admin" not in app_client.get(url).text
    for url in (
        "/admin/users",
        "/admin/api-keys",
        "/campaigns/new",
        f"/campaigns/{team.campaign.id}/edit",
    ):
        response = app_client.get(url)
        assert response.status_code == 403 and "Only an admin" in response.text


def test_forms_without_csrf_token_are_refused(
    app_client: TestClient, team: Team, session: Session
) -> None:
    csrf = login(app_client, team.admin_email)
    url = f"/campaigns/{team.campaign.id}/state"
    refused = app_client.post(url, data={"state": "running"}, follow_redirects=False)
    assert refused.status_code == 403
    session.refresh(team.campaign)
    assert team.campaign.state.value == "draft"
    wrong = app_client.post(
        url, data={"state": "running", "csrf_token": "x" + csrf}, follow_redirects=False
    )
    assert wrong.status_code == 403
    ok = app_client.post(url, data={"state": "running", "csrf_token": csrf}, follow_redirects=False)
    assert ok.status_code == 303
    session.refresh(team.campaign)
    assert team.campaign.state.value == "running"


def test_admin_manages_users_and_keys(app_client: TestClient, team: Team) -> None:
    csrf = login(app_client, team.admin_email)
    keys = app_client.post("/admin/api-keys", data={"csrf_token": csrf, "name": "CRM"})
    token = re.search(r'id="new-token">(ctk_[^<]+)<', keys.text)
    assert token and keys.headers["cache-control"] == "no-store"
    assert token.group(1) not in app_client.get("/admin/api-keys").text  # shown once
    added = app_client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "new@x.io", "password": "short", "role": "rep"},
    )
    assert added.status_code == 422 and "at least 8" in added.text
