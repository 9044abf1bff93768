"""Deployment behind a reverse proxy (SPEC §8; issue 15, item 5): forwarded headers are believed
only from TRACKER_TRUSTED_PROXIES; behind TLS (TRACKER_PUBLIC_URL is https) cookies are Secure with
the __Host- prefix and HSTS is sent."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.accounts import sessions
from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from tests.clients import PASSWORD, Team


def client_for(
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    *,
    base_url: str = "http://testserver",
    **settings: object,
) -> TestClient:
    """`base_url` https: the browser's side of TLS (it sends Secure cookies back only there)."""
    config = Settings(
        database_url="sqlite://",
        secret_key="test-secret-key-0123456789",
        **settings,  # type: ignore[arg-type]
    )
    return TestClient(
        create_app(config, session_factory=session_factory, clock=clock), base_url=base_url
    )


@pytest.fixture
def seen_addresses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The client address each sign-in attempt was counted under (the throttle's key)."""
    seen: list[str] = []
    real = sessions.throttle.reserve

    def spy(session: Session, *, ip: str, **kw: object) -> None:
        seen.append(ip)
        real(session, ip=ip, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(sessions.throttle, "reserve", spy)
    yield seen


def sign_in(client: TestClient, email: str, headers: dict[str, str] | None = None) -> object:
    form = client.get("/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text[:300]
    return client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
        headers=headers,
        follow_redirects=False,
    )


def test_forwarded_headers_count_only_from_a_trusted_proxy(
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    team: Team,
    seen_addresses: list[str],
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    with client_for(session_factory, clock) as direct:  # no trusted proxy: a client's claim
        sign_in(direct, team.rep_email, forwarded)
    # TestClient connects from "testclient": trust it as the proxy.
    with client_for(
        session_factory,
        clock,
        base_url="https://testserver",
        trusted_proxies="testclient, 10.0.0.0/8",
    ) as proxied:
        response = sign_in(proxied, team.admin_email, forwarded)
    assert seen_addresses == ["testclient", "203.0.113.7"]
    # Through the trusted proxy the request was https: the session cookie is Secure.
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "__Host-tracker_session=" in cookie and "secure" in cookie.lower()


def test_over_https_cookies_are_host_prefixed_and_hsts_is_sent(
    session_factory: sessionmaker[Session], clock: FixedClock, team: Team
) -> None:
    with client_for(
        session_factory,
        clock,
        base_url="https://testserver",
        public_url="https://tracker.example.com",
    ) as client:
        form = client.get("/login")
        assert form.headers["strict-transport-security"].startswith("max-age=31536000")
        login_csrf = form.headers["set-cookie"]
        assert login_csrf.startswith("__Host-tracker_login_csrf=")
        assert "secure" in login_csrf.lower() and "path=/" in login_csrf.lower()
        assert "domain" not in login_csrf.lower()
        signed = sign_in(client, team.admin_email)
        cookies = signed.headers.get_list("set-cookie")  # type: ignore[attr-defined]
        assert any(c.startswith("__Host-tracker_session=") and "Secure" in c for c in cookies)
        assert any(c.startswith("__Host-tracker_device=") for c in cookies)
        # The browser sends them back under those names: signed in.
        session_value = next(
            c.split(";")[0].split("=", 1)[1]
            for c in cookies
            if c.startswith("__Host-tracker_session=")
        )
        assert session_value
        assert client.get("/", follow_redirects=False).status_code == 200


def test_over_plain_http_no_hsts_and_no_prefix(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with client_for(session_factory, clock) as client:
        form = client.get("/login")
        assert "strict-transport-security" not in form.headers
        assert form.headers["set-cookie"].startswith("tracker_login_csrf=")
