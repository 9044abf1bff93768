"""The API's common ground: body caps (413), problem+json for bad input (422) and for a wrong
method (405), the OpenAPI document and its docs page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from tests.clients import Api, limited_client, make_api

PROBLEM = "application/problem+json"


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
