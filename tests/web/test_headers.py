"""Every page carries SPEC §8's security headers: a strict CSP, nosniff, same-origin referrers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.clients import Team


def test_security_headers_on_every_page(app_client: TestClient, team: Team) -> None:
    for response in (
        app_client.get("/login"),
        app_client.get("/api/docs"),
        app_client.get("/healthz"),
    ):
        csp = response.headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "unsafe-inline" not in csp
            and "frame-ancestors 'none'" in csp
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in app_client.get("/login").text  # no inline script anywhere
