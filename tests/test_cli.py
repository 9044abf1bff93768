"""The `contact-tracker` command end to end, as an admin runs it: real processes, a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.db import make_engine
from app.models import Contact, ContactImport
from tests.builders import a_campaign, a_workspace
from tests.live import committed

BIN = [sys.executable, "-m", "app"]


def run(
    env: dict[str, str], *args: str, ok: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*BIN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "TRACKER_SECRET_KEY": "cli-test-secret-0123456789",
        "TRACKER_ENGINE": "off",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_admin_commands_print_exactly_what_scripts_capture(env: dict[str, str]) -> None:
    run(env, "migrate")
    ws = run(
        env,
        "create-workspace",
        "Acme",
        "--admin-email",
        "a@acme.io",
        "--admin-password",
        "password-1",
    )
    assert ws.stdout.strip().isdigit() and ws.stdout.count("\n") == 1
    key = run(env, "create-api-key", "--workspace", ws.stdout.strip(), "--name", "crm")
    assert key.stdout.startswith("ctk_") and key.stdout.count("\n") == 1
    again = run(
        env,
        "create-workspace",
        "Acme",
        "--admin-email",
        "a@acme.io",
        "--admin-password",
        "password-1",
        ok=False,
    )
    assert again.returncode == 2 and "already exists" in again.stderr and again.stdout == ""
    missing = run(env, "create-api-key", "--workspace", "999", "--name", "x", ok=False)
    assert missing.returncode == 2 and "999" in missing.stderr


def test_serve_refuses_an_unmigrated_database(env: dict[str, str]) -> None:
    proc = run(env, "serve", "--port", str(free_port()), ok=False)
    assert proc.returncode == 2
    assert "contact-tracker migrate" in proc.stderr


def test_migrate_demo_serve_healthz(env: dict[str, str]) -> None:
    run(env, "migrate")
    demo = run(env, "demo")
    assert demo.stdout.strip().isdigit()
    assert "admin@demo.example" in demo.stderr
    port = free_port()
    server = subprocess.Popen(
        [*BIN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_set_password_from_stdin_ends_the_users_sessions(env: dict[str, str]) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select

    from app.accounts.passwords import verify_password
    from app.accounts.sessions import SessionPolicy, open_session
    from app.db import make_engine, make_sessionmaker
    from app.models import AuditEvent, User, WebSession

    run(env, "migrate")
    run(
        env,
        "create-workspace",
        "Acme",
        "--admin-email",
        "boss@acme.io",
        "--admin-password",
        "old-password-1",
    )
    engine = make_engine(env["TRACKER_DATABASE_URL"])
    factory = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with factory.begin() as session:
        user = session.scalars(select(User)).one()
        open_session(
            session,
            user_id=user.id,
            email=user.email,
            ip="127.0.0.1",
            device=None,
            now=now,
            policy=SessionPolicy(idle=timedelta(hours=2), absolute=timedelta(hours=24)),
            old_token=None,
        )
    short = run(env, "set-password", "boss@acme.io", ok=False, stdin="short\n")
    assert short.returncode == 2 and "8" in short.stderr  # what to fix; nothing changed
    unknown = run(env, "set-password", "nobody@acme.io", ok=False, stdin="a-long-password\n")
    assert unknown.returncode == 2 and "nobody@acme.io" in unknown.stderr
    done = run(env, "set-password", "boss@acme.io", ok=False, stdin="brand-new-password\n")
    assert done.returncode == 0, done.stderr
    with factory() as session:
        user = session.scalars(select(User)).one()
        assert verify_password(user.password_hash, "brand-new-password")
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
        (event,) = session.scalars(select(AuditEvent)).all()
        assert (event.action, event.actor, event.target) == (
            "user.password_set",
            "cli",
            "boss@acme.io",
        )
    engine.dispose()


def test_import_reads_the_encoding_it_is_given_and_refuses_an_unknown_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`--encoding` (issue 16): any usual name of SPEC §6's encodings; another is refused (exit 2)."""
    run(env, "migrate")
    engine = make_engine(env["TRACKER_DATABASE_URL"])
    try:
        with committed(engine) as session:
            campaign_id = a_campaign(session, a_workspace(session)).id
        source = tmp_path / "ru.csv"
        source.write_bytes(
            "First Name,Last Name,LinkedIn URL\r\nДмитрий,Иванов,https://www.linkedin.com/in/dmitry\r\n"
            "Ольга,Смирнова,https://www.linkedin.com/in/olga\r\n".encode("cp1251")
        )
        refused = run(
            env,
            "import",
            str(source),
            "--campaign",
            str(campaign_id),
            "--encoding",
            "koi8-r",
            ok=False,
        )
        assert refused.returncode == 2 and "Unknown encoding 'koi8-r'" in refused.stderr
        done = run(
            env, "import", str(source), "--campaign", str(campaign_id), "--encoding", "windows-1251"
        )
        assert "done: 2 rows read, 2 imported" in done.stderr
        with committed(engine) as session:
            names = set(session.execute(select(Contact.first_name, Contact.last_name)).all())
            encoding = session.scalars(select(ContactImport.encoding)).one()
        assert names == {("Дмитрий", "Иванов"), ("Ольга", "Смирнова")} and encoding == "cp1251"
    finally:
        engine.dispose()
