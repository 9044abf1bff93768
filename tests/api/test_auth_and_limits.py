"""Authentication, rate limiting, body size and problem+json on every error path."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.service import revoke_api_key
from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from app.models import ApiKey, ApiRateWindow
from tests.builders import a_workspace, an_api_key
from tests.clients import Api, make_api
from tests.conftest import T0
from tests.live import committed, drop_workspace, live_server

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_unknown_key_is_401(app_client: TestClient, headers: dict[str, str]) -> None:
    response = app_client.get("/api/v1/senders", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert (
        body["status"] == 401
        and body["title"]
        and "Bearer" in body["detail"]
        or "revoked" in body["detail"]
    )


def test_revoked_key_is_401(api: Api, session: Session) -> None:
    assert api.get("/api/v1/senders").status_code == 200
    from app.models import ApiKey

    key = session.query(ApiKey).filter_by(workspace_id=api.workspace.id).one()
    revoke_api_key(session, workspace_id=api.workspace.id, api_key_id=key.id, now=T0)
    session.flush()
    response = api.get("/api/v1/senders")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def limited_client(
    session_factory: sessionmaker[Session], clock: FixedClock, **overrides: object
) -> TestClient:
    settings = Settings(database_url="sqlite://", secret_key="x" * 32, **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings, session_factory=session_factory, clock=clock))


def test_rate_limit_answers_429_with_retry_after_then_recovers(
    session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with limited_client(session_factory, clock, api_rate_limit_per_minute=3) as client:
        api = make_api(session, client)
        clock.set(T0 + timedelta(seconds=15))
        answers = [api.get("/api/v1/senders") for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0"]
        assert answers[0].headers["ratelimit-limit"] == "3"
        assert answers[0].headers["ratelimit-reset"] == "45"
        response = api.get("/api/v1/senders")
        assert response.status_code == 429
        assert response.headers["ratelimit-remaining"] == "0"
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.headers["retry-after"] == "45"
        assert "3 requests" in response.json()["detail"]
        # A second key has its own budget.
        other = make_api(session, client)
        assert other.get("/api/v1/senders").status_code == 200
        clock.advance(seconds=45)
        assert api.get("/api/v1/senders").status_code == 200


def test_oversized_body_is_413_and_stores_nothing(
    session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with limited_client(session_factory, clock, api_body_max_bytes=2000) as client:
        api = make_api(session, client)
        campaign = api.campaign()
        contacts = [{"linkedin_url": f"linkedin.com/in/someone-{i}"} for i in range(100)]
        response = api.add(campaign["id"], contacts)
        assert response.status_code == 413
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "2,000 bytes" in response.json()["detail"]
        listed = api.get(f"/api/v1/campaigns/{campaign['id']}/contacts").json()
        assert listed["items"] == []


def test_chunked_oversized_body_is_413(
    session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with limited_client(session_factory, clock, api_body_max_bytes=1000) as client:
        api = make_api(session, client)

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"name": "'
            for _ in range(20):
                yield b"x" * 100
            yield b'"}'

        response = client.post(
            "/api/v1/senders",
            content=chunks(),
            headers={**api.auth, "Content-Type": "application/json"},
        )
        assert response.status_code == 413


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/v1/senders", "{not json"),
        ("post", "/api/v1/senders", '{"name": ""}'),
        ("post", "/api/v1/senders", '{"name": "x", "tier": "gold"}'),
        ("post", "/api/v1/senders", '{"name": "x", "timezone": "Mars/Olympus"}'),
        (
            "post",
            "/api/v1/senders",
            '{"name": "x", "working_hours": {"start": "18:00", "end": "09:00"}}',
        ),
        ("post", "/api/v1/senders", '{"name": "x", "limits": {"daily_invites": -1}}'),
        ("post", "/api/v1/senders", '{"name": "x", "surprise": 1}'),
        ("get", "/api/v1/senders?limit=0", None),
        ("get", "/api/v1/senders?limit=201", None),
        ("get", "/api/v1/senders?colour=blue", None),
        ("get", "/api/v1/senders?cursor=garbage", None),
    ],
)
def test_bad_input_is_422_problem_with_field_errors(
    api: Api, method: str, url: str, body: str | None
) -> None:
    kw = (
        {"content": body, "headers": {**api.auth, "Content-Type": "application/json"}}
        if body
        else {"headers": api.auth}
    )
    response = getattr(api.client, method)(url, **kw)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == 422 and problem["detail"]
    assert problem["errors"], problem
    assert api.get("/api/v1/senders").json()["items"] == []


def test_wrong_method_is_a_problem_not_a_framework_page(api: Api) -> None:
    response = api.client.delete("/api/v1/senders", headers=api.auth)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)


def test_openapi_and_docs_are_served(app_client: TestClient) -> None:
    schema = app_client.get("/api/v1/openapi.json").json()
    assert "/api/v1/campaigns/{campaign_id}/contacts" in schema["paths"]
    status_enum = schema["components"]["schemas"]["ContactRead"]["properties"]["status"]
    assert "ContactStatus" in str(status_enum)
    assert set(schema["components"]["schemas"]["ContactStatus"]["enum"]) == {
        "not_verified",
        "not_connected",
        "invite_sent",
        "connected",
        "withdrawn",
    }
    assert set(schema["components"]["schemas"]["ErrorCode"]["enum"]) == {
        "email_required",
        "message_too_long",
        "too_many_requests",
        "other",
    }
    post = schema["paths"]["/api/v1/campaigns/{campaign_id}/contacts"]["post"]
    assert {"401", "404", "409", "413", "422", "429"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["422"]["content"]
    docs = app_client.get("/api/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "<script>" not in docs.text


def test_real_server_counts_each_request_and_records_the_keys_last_use(
    db_engine: Engine,
) -> None:
    """Through the server's own sessions (on PostgreSQL: autocommit, one statement per request):
    the count is committed and shared, the key's last use is recorded, unknown keys count nothing."""
    with committed(db_engine) as session:
        workspace = a_workspace(session)
        token = an_api_key(session, workspace)
        workspace_id = workspace.id
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with live_server(db_engine, api_rate_limit_per_minute=3) as url:
            with httpx.Client(base_url=url, timeout=30) as client:
                for _attempt in range(3):
                    minute = datetime.now(UTC).replace(second=0, microsecond=0)
                    unknown = client.get("/api/v1/senders", headers={"Authorization": "Bearer x"})
                    codes = [
                        client.get("/api/v1/senders", headers=auth).status_code for _ in range(4)
                    ]
                    if datetime.now(UTC).replace(second=0, microsecond=0) == minute:
                        break  # all within one rate window
                    time.sleep(1)  # the window turned over mid-test: measure again
        assert unknown.status_code == 401
        assert codes == [200, 200, 200, 429]
        with committed(db_engine) as session:
            key = session.scalars(select(ApiKey).where(ApiKey.workspace_id == workspace_id)).one()
            assert key.last_used_at is not None
            assert key.last_used_at >= minute
            windows = session.scalars(
                select(ApiRateWindow).where(ApiRateWindow.api_key_id == key.id)
            ).all()
            assert [(w.window_start, w.count) for w in windows] == [(minute, 4)]
    finally:
        drop_workspace(db_engine, workspace_id)
