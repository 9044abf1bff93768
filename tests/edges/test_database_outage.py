"""A database outage answers 503 with Retry-After, never a 500, and shows nobody its error text:
probes, the API (problem+json) and the pages (an error page that needs no database)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from psycopg.errors import DeadlockDetected
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from tests.edges.conftest import routes_of


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database that cannot be reached: a SQLite file in a directory that does not exist, or a
    PostgreSQL server on a port nobody listens on. Neither needs a running server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'absent' / 'tracker.db'}"
    else:
        url = f"postgresql+psycopg://tracker:secret-password@127.0.0.1:{closed_port()}/tracker"
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def outage(unreachable: Engine) -> Iterator[TestClient]:
    settings = Settings(database_url="sqlite://", secret_key="x" * 32, check_migrations=False)
    app = create_app(settings, engine=unreachable)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_no_internals(text: str) -> None:
    for leak in ("sqlite", "psycopg", "OperationalError", "connection", "127.0.0.1", "absent"):
        assert leak not in text
    assert "secret-password" not in text and "tracker.db" not in text


def test_healthz_says_unavailable_and_nothing_more(outage: TestClient) -> None:
    response = outage.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert outage.get("/livez").status_code == 200


def test_the_api_answers_503_problem_with_retry_after(
    outage: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = outage.get("/api/v1/campaigns", headers={"Authorization": "Bearer ctk_x"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["status"] == 503 and body["title"] == "Service unavailable"
    assert_no_internals(response.text)
    # The operator finds the cause in the log, with the request's id.
    [record] = [r for r in caplog.records if r.getMessage().startswith("database unavailable")]
    assert "/api/v1/campaigns" in record.getMessage()
    assert getattr(record, "request_id", None) == response.headers["x-request-id"]


def test_a_page_answers_a_503_page_without_the_database(outage: TestClient) -> None:
    # A session cookie makes the page look its viewer up in the database.
    outage.cookies.set("tracker_session", "some-session-token")
    response = outage.get("/campaigns/1")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "5"
    assert "503" in response.text and "Service Unavailable" in response.text
    assert "Sign out" not in response.text  # rendered for nobody: the viewer is unknown
    assert_no_internals(response.text)


def test_a_form_post_answers_503_too(outage: TestClient) -> None:
    outage.cookies.set("tracker_session", "some-session-token")
    response = outage.post(
        "/campaigns/1/contacts/bulk", data={"action": "mute", "contact_id": "1", "csrf_token": "x"}
    )
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert_no_internals(response.text)


def test_a_pool_timeout_is_an_outage_too(app_client: TestClient) -> None:
    """Every pooled connection busy past the pool's timeout: 503, as for a server that is away."""

    def exhausted() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached, connection timed out")

    routes_of(app_client).add_api_route("/api/v1/_exhausted", exhausted)
    routes_of(app_client).add_api_route("/_exhausted", exhausted)
    response = app_client.get("/api/v1/_exhausted")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "QueuePool" not in response.text
    page = app_client.get("/_exhausted")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")


def test_a_deadlock_is_a_clash_to_send_again_not_an_outage(app_client: TestClient) -> None:
    """PostgreSQL rolled the request's transaction back whole (a deadlock or a serialization
    failure): 503 with Retry-After 1 and words that say to send it again, not "unavailable"."""

    def clashed() -> None:
        raise OperationalError("UPDATE contacts ...", {}, DeadlockDetected("deadlock detected"))

    routes_of(app_client).add_api_route("/api/v1/_clashed", clashed)
    response = app_client.get("/api/v1/_clashed")
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert "send it again" in response.json()["detail"]
    assert "UPDATE" not in response.text and "deadlock" not in response.text


def test_a_failing_statement_is_still_a_bug_not_an_outage(app_client: TestClient) -> None:
    """Only connection failures are outages: a constraint violation that escapes a service is a
    500 (a bug to fix), and shows nothing of the statement either."""

    def broken() -> None:
        raise IntegrityError("INSERT INTO contacts ...", {}, Exception("UNIQUE constraint failed"))

    routes_of(app_client).add_api_route("/api/v1/_broken", broken)
    response = app_client.get("/api/v1/_broken")
    assert response.status_code == 500
    assert "INSERT" not in response.text and "UNIQUE" not in response.text
