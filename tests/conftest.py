"""Test databases: every DB test runs on SQLite, and on PostgreSQL when TRACKER_TEST_DATABASE_URL names one.

Each backend is migrated once per run with `alembic upgrade head`; each test then runs inside one
transaction that is rolled back (`join_transaction_mode="create_savepoint"`), so services and requests
that commit only release savepoints.

The clients every feature folder uses are here too: `api` and `other_api` (two workspaces, each with
an API key) and `team` (an admin and a rep to sign in to the dashboard); see tests/clients.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app import migrations
from app.accounts import passwords
from app.accounts.service import create_user
from app.clock import FixedClock
from app.config import Settings
from app.db import make_engine
from app.domain.statuses import Role
from app.lifecycle import counts
from app.lifecycle import guard as lifecycle_guard
from app.main import create_app
from tests.builders import a_campaign, a_sender, a_workspace
from tests.clients import PASSWORD, Api, Team, make_api

PG_URL = os.environ.get("TRACKER_TEST_DATABASE_URL")

# Still argon2id, with the cheapest parameters: tests create hundreds of users, and the production
# profile (64 MiB, 3 passes) would spend minutes of the suite hashing passwords.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
# Hypothesis: CI runs a fixed profile (derandomized, bounded examples); HYPOTHESIS_PROFILE=dev
# explores new random examples on a developer's machine.
hypothesis_settings.register_profile("ci", derandomize=True, max_examples=40, print_blob=True)
hypothesis_settings.register_profile("dev", max_examples=100)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# Every test runs with the lifecycle guard on: a status written outside app.lifecycle fails.
lifecycle_guard.install()
counts.install()
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


def backend_url(backend: str, tmp_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / 'test.db'}"
    assert PG_URL
    return PG_URL


def reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session", params=BACKENDS)
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    backend: str = request.param
    url = backend_url(backend, tmp_path_factory.mktemp(backend))
    engine = make_engine(url)
    if backend == "postgresql":
        reset_postgres(engine)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def backend(db_engine: Engine) -> str:
    return db_engine.dialect.name


@pytest.fixture
def connection(db_engine: Engine) -> Iterator[Connection]:
    with db_engine.connect() as conn:
        trans = conn.begin()
        yield conn
        if trans.is_active:
            trans.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="sqlite://", secret_key="test-secret-key-0123456789")


@pytest.fixture
def app_client(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    app = create_app(settings, session_factory=session_factory, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(session: Session, app_client: TestClient) -> Iterator[Api]:
    yield make_api(session, app_client)


@pytest.fixture
def other_api(session: Session, app_client: TestClient) -> Iterator[Api]:
    yield make_api(session, app_client)


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
