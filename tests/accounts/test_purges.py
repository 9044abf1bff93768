"""Nothing grows forever (SPEC §8; issue 15, item 11): the background jobs purge ended sessions,
idle sign-in counters, idempotency keys past 24 h and uploads abandoned at the preview."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts import jobs as account_jobs
from app.clock import FixedClock
from app.imports.upload import remove_abandoned_uploads
from app.models import IdempotencyKey, SigninCounter, WebSession
from tests.clients import Team, login, make_api
from tests.conftest import T0

IDLE = timedelta(minutes=120)


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def own_counters(session: Session) -> int:
    """This test's sign-in counters (those of the fixed clock's day): the live-server tests
    commit theirs, at the real time, into the same database."""
    before = (T0 + timedelta(days=1)).timestamp()
    return int(
        session.scalar(
            select(func.count())
            .select_from(SigninCounter)
            .where(SigninCounter.window_start < before)
        )
        or 0
    )


def test_ended_sessions_and_idle_counters_are_purged(
    app_client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    team: Team,
    clock: FixedClock,
) -> None:
    login(app_client, team.rep_email)
    app_client.cookies.clear()
    app_client.post("/login", data={"email": team.admin_email, "password": "x"})  # a counter
    assert count(session, WebSession) == 1 and own_counters(session) >= 1
    assert account_jobs.purge(session_factory, clock=clock, idle=IDLE) == (0, 0, 0)
    clock.advance(minutes=121)  # idle past the timeout; the counters' 15-minute window is over
    sessions, counters, _keys = account_jobs.purge(session_factory, clock=clock, idle=IDLE)
    assert (sessions, counters) != (0, 0)
    assert count(session, WebSession) == 0 and own_counters(session) == 0


def test_idempotency_keys_go_after_24_hours(
    app_client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
) -> None:
    api = make_api(session, app_client)
    for key in ("first", "second"):
        response = api.post("/api/v1/senders", {"name": key}, headers={"Idempotency-Key": key})
        assert response.status_code == 201
        clock.advance(hours=12)
    assert count(session, IdempotencyKey) == 2
    clock.advance(minutes=1)  # the first is just past 24 h old, the second 12 h
    assert account_jobs.purge(session_factory, clock=clock, idle=IDLE)[2] == 1
    assert count(session, IdempotencyKey) == 1


def test_uploads_abandoned_at_the_preview_are_removed_after_a_day(tmp_path: Path) -> None:
    folder = tmp_path / "imports"
    folder.mkdir()
    day_old = time.time() - 25 * 3600
    for token, sidecars, age in [
        ("a" * 32, (".json",), day_old),  # abandoned: goes
        ("b" * 32, (".json",), time.time()),  # being previewed now: stays
        ("c" * 32, (), day_old),  # committed (an import's file): stays
    ]:
        for suffix in (".csv", *sidecars):
            path = folder / f"{token}{suffix}"
            path.write_text("x")
            os.utime(path, (age, age))
    assert remove_abandoned_uploads(str(tmp_path)) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{'b' * 32}.csv", f"{'b' * 32}.json", f"{'c' * 32}.csv"]
    )
