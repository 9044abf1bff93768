"""Sign-in throttling (SPEC §8; issue 15, items 1–3), on SQLite and PostgreSQL.

The owner on a known device is never slowed by an attack; unknown devices back off per account;
one office's typos do not lock out a colleague at the same address; every attempt is counted in
one atomic statement before its password is checked, so parallel guesses cannot slip past; a
refusal is 429 with Retry-After; and the hash never runs inside a write transaction."""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.accounts import sessions, throttle
from app.accounts.service import create_user
from app.clock import FixedClock
from app.domain.statuses import Role
from tests.builders import a_workspace
from tests.clients import PASSWORD, Team
from tests.live import committed, drop_workspace, live_server

WRONG = "not-the-password"


def attempt(client: TestClient | httpx.Client, email: str, password: str) -> Any:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def test_unknown_devices_back_off_per_account_with_retry_after(
    app_client: TestClient, team: Team, clock: FixedClock
) -> None:
    for _ in range(throttle.FREE_ATTEMPTS):
        assert attempt(app_client, team.admin_email, WRONG).status_code == 401
    refused = attempt(app_client, team.admin_email, PASSWORD)  # even the right one, for now
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "Try again in 1 seconds" in refused.text
    clock.advance(seconds=1)
    assert attempt(app_client, team.admin_email, WRONG).status_code == 401  # the 6th: then 2 s
    refused = attempt(app_client, team.admin_email, PASSWORD)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    clock.advance(seconds=2)
    assert attempt(app_client, team.admin_email, PASSWORD).status_code == 303
    app_client.cookies.clear()  # signed out, and an unknown device again
    # A success starts the account's count again.
    assert attempt(app_client, team.admin_email, WRONG).status_code == 401


def test_the_owner_on_a_known_device_is_not_locked_out(
    app_client: TestClient, team: Team, session_factory: Any, clock: FixedClock, settings: Any
) -> None:
    assert attempt(app_client, team.admin_email, PASSWORD).status_code == 303
    assert throttle.DEVICE_COOKIE in app_client.cookies  # this browser is known from now on
    app_client.cookies.delete("tracker_session")
    app = app_client.app
    with TestClient(app) as attacker:  # another browser: no device cookie
        codes = [attempt(attacker, team.admin_email, WRONG).status_code for _ in range(12)]
        assert codes == [401] * throttle.FREE_ATTEMPTS + [429] * (12 - throttle.FREE_ATTEMPTS)
        assert attempt(attacker, team.admin_email, PASSWORD).status_code == 429
    # The owner's browser signs in at once, though the account is under attack.
    assert attempt(app_client, team.admin_email, PASSWORD).status_code == 303
    # ... and that does not lift the back-off of unknown devices. A forged or foreign device
    # cookie is just an unknown device.
    with TestClient(app) as forger:
        forger.cookies.set(throttle.DEVICE_COOKIE, "abc.def.0123456789abcdef0123456789abcdef")
        assert attempt(forger, team.admin_email, PASSWORD).status_code == 429


def test_one_users_typos_do_not_lock_out_a_colleague_at_the_same_address(
    app_client: TestClient, team: Team
) -> None:
    for _ in range(8):
        attempt(app_client, team.rep_email, WRONG)
    assert attempt(app_client, team.rep_email, WRONG).status_code == 429
    assert attempt(app_client, team.admin_email, PASSWORD).status_code == 303


def test_a_high_ceiling_per_address(
    app_client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ADDRESS_LIMIT", 6)
    workspace = a_workspace(session)
    for i in range(7):
        create_user(
            session,
            workspace_id=workspace.id,
            email=f"u{i}@office.io",
            password=PASSWORD,
            role=Role.REP,
        )
    session.flush()
    answers = [attempt(app_client, f"u{i}@office.io", WRONG).status_code for i in range(7)]
    assert answers == [401] * 6 + [429]  # one wrong password each, from one address


def test_the_current_password_check_is_throttled_too(app_client: TestClient, team: Team) -> None:
    from tests.clients import login

    csrf = login(app_client, team.rep_email)
    codes = [
        app_client.post(
            "/account/password",
            data={"csrf_token": csrf, "current_password": WRONG, "new_password": "n3w-password!"},
        ).status_code
        for _ in range(throttle.PASSWORD_CHECK_LIMIT + 1)
    ]
    assert codes == [422] * throttle.PASSWORD_CHECK_LIMIT + [429]


# ---------------------------------------------------------------- with real commits


@pytest.fixture
def live_admin(db_engine: Engine) -> Iterator[tuple[Engine, str]]:
    with committed(db_engine) as session:
        workspace = a_workspace(session)
        user = create_user(
            session,
            workspace_id=workspace.id,
            email=f"owner-{secrets.token_hex(6)}@x.io",  # counters outlive the workspace
            password=PASSWORD,
            role=Role.ADMIN,
        )
        email = user.email
    try:
        yield db_engine, email
    finally:
        drop_workspace(db_engine, workspace.id)


@pytest.mark.slow
def test_thirty_parallel_wrong_guesses_check_at_most_the_free_ones(
    live_admin: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, email = live_admin
    checked: list[int] = []
    real_verify = sessions.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        checked.append(1)
        return real_verify(password_hash, password)

    monkeypatch.setattr(sessions, "verify_password", counting)
    with live_server(engine) as base:
        clients = [httpx.Client(base_url=base) for _ in range(30)]
        forms = []
        for client in clients:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            forms.append({"email": email, "password": WRONG, "csrf_token": token.group(1)})
        gate = threading.Barrier(30)
        codes: list[int] = []

        def guess(i: int) -> None:
            gate.wait()
            codes.append(clients[i].post("/login", data=forms[i]).status_code)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for client in clients:
            client.close()
    assert Counter(codes) == {401: throttle.FREE_ATTEMPTS, 429: 30 - throttle.FREE_ATTEMPTS}
    assert len(checked) == throttle.FREE_ATTEMPTS  # the rest were refused before any hash


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_another_connection_can_write_while_a_sign_in_hashes(
    live_admin: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite has one write lock: a sign-in that hashed inside its transaction held every other
    writer off for the length of the hash. While the hash runs here, another connection takes the
    write lock at once (no busy wait)."""
    engine, email = live_admin
    path = engine.url.database
    assert path
    probes: list[str] = []
    real_verify = sessions.verify_password

    def probing(password_hash: str | None, password: str) -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if anyone writes
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            other.close()
        return real_verify(password_hash, password)

    monkeypatch.setattr(sessions, "verify_password", probing)
    with live_server(engine) as base, httpx.Client(base_url=base) as client:
        assert attempt(client, email, WRONG).status_code == 401
        assert attempt(client, email, PASSWORD).status_code == 303
    assert probes == ["free", "free"]
