"""Every answer carries an X-Request-ID (the caller's own when it is well formed), and the log line
of that request carries the same id (SPEC §8)."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from tests.edges.conftest import Admin, routes_of

WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,64}")


def access_records(caplog: pytest.LogCaptureFixture, request_id: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "app.access" and getattr(r, "request_id", None) == request_id
    ]


def test_every_kind_of_answer_carries_a_request_id(admin: Admin) -> None:
    client = admin.client
    answers = {
        "api": client.get(f"/api/v1/campaigns/{admin.campaign.id}", headers=admin.auth),
        "page": client.get(f"/campaigns/{admin.campaign.id}"),
        "healthz": client.get("/healthz"),
        "livez": client.get("/livez"),
        "static": client.get("/static/css/app.css"),
        "404 api": client.get("/api/v1/nope", headers=admin.auth),
        "404 page": client.get("/no-such-page"),
        "401": client.get("/api/v1/campaigns"),
        "422": client.get("/api/v1/campaigns?colour=red", headers=admin.auth),
        "413": client.post(
            "/api/v1/senders",
            content=b"{" + b" " * (5 * 1024 * 1024 + 1) + b"}",
            headers={**admin.auth, "Content-Type": "application/json"},
        ),
        "405": client.delete("/healthz"),
        "redirect": TestClient(client.app).get("/campaigns/1", follow_redirects=False),
    }
    expected = {
        **{"404 api": 404, "404 page": 404, "401": 401, "422": 422, "413": 413, "405": 405},
        "redirect": 303,
    }
    ids = set()
    for name, response in answers.items():
        assert response.status_code == expected.get(name, 200), (name, response.text[:200])
        request_id = response.headers.get("x-request-id")
        assert request_id and WELL_FORMED.fullmatch(request_id), name
        ids.add(request_id)
    assert len(ids) == len(answers)  # one of its own per request


def test_an_unexpected_error_carries_one_too(app_client: TestClient) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    routes_of(app_client).add_api_route("/api/v1/_boom", boom)
    routes_of(app_client).add_api_route("/_boom", boom)
    for path in ("/api/v1/_boom", "/_boom"):
        response = app_client.get(path, headers={"X-Request-ID": "bug-report-7"})
        assert response.status_code == 500
        assert response.headers["x-request-id"] == "bug-report-7"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert "a bug" not in response.text
    assert "bug-report-7" in app_client.get("/_boom", headers={"X-Request-ID": "bug-report-7"}).text


@pytest.mark.parametrize(
    "given", ["abc", "0f8e4c1c-5d7a-4c43-b0a2-6f2d6f0f9c11", "lb.trace_42-A", "x" * 64]
)
def test_a_well_formed_request_id_is_echoed(app_client: TestClient, given: str) -> None:
    for path in ("/livez", "/login", "/api/v1/campaigns"):
        assert (
            app_client.get(path, headers={"X-Request-ID": given}).headers["x-request-id"] == given
        )


@pytest.mark.parametrize(
    "given",
    ["", "x" * 65, "has space", "semi;colon", "<script>", "ünïcode", "a/b", "line\tbreak", "ab%0a"],
)
def test_an_invalid_request_id_is_replaced(app_client: TestClient, given: str) -> None:
    response = app_client.get("/livez", headers={"X-Request-ID": given.encode()})
    replaced = response.headers["x-request-id"]
    assert replaced != given and WELL_FORMED.fullmatch(replaced)


def test_the_log_line_of_a_request_carries_its_id(
    admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    given = admin.client.get(
        f"/campaigns/{admin.campaign.id}", headers={"X-Request-ID": "trace-given-1"}
    )
    generated = admin.client.get("/api/v1/nope", headers=admin.auth)
    [line] = access_records(caplog, "trace-given-1")
    assert given.headers["x-request-id"] == "trace-given-1"
    assert line.getMessage().startswith(f"GET /campaigns/{admin.campaign.id} 200 ")
    [line] = access_records(caplog, generated.headers["x-request-id"])
    assert line.getMessage().startswith("GET /api/v1/nope 404 ")
    # A HEAD request is logged as what it was.
    head = admin.client.head("/livez", headers={"X-Request-ID": "probe-1"})
    [line] = access_records(caplog, head.headers["x-request-id"])
    assert line.getMessage().startswith("HEAD /livez 200 ")


def test_the_query_string_stays_out_of_the_log(
    admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    """Searches name people: the access line logs the path alone."""
    caplog.set_level(logging.INFO, logger="app.access")
    response = admin.client.get(f"/campaigns/{admin.campaign.id}?q=jane.doe%40example.com")
    [line] = access_records(caplog, response.headers["x-request-id"])
    assert "jane" not in line.getMessage()


def test_records_outside_a_request_carry_a_dash(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("app.test").info("between requests")
    [record] = [r for r in caplog.records if r.getMessage() == "between requests"]
    assert getattr(record, "request_id", None) == "-"
