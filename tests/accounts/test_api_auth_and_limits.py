"""API keys: a missing, unknown or revoked key is a 401 problem; each key has its rate limit
(429 with Retry-After), counted and its last use recorded by a real server too."""

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
from app.models import ApiKey, ApiRateWindow
from tests.builders import a_workspace, an_api_key
from tests.clients import Api, limited_client, make_api
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
