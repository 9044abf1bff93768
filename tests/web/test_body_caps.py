"""Every request body has a cap before it is read (SPEC §8; issue 15, item 4): dashboard forms a
small one, anonymous or not; the upload route reads its stream only after the session and CSRF
checks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from tests.clients import Team, login

CAP = 256 * 1024  # the forms' cap
BIG = 300 * 1024  # past it


@pytest.fixture
def client(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    settings = Settings(
        database_url="sqlite://",
        secret_key="test-secret-key-0123456789",
        data_dir=str(tmp_path / "data"),
        upload_max_bytes=1024 * 1024,
    )
    app = create_app(settings, session_factory=session_factory, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def post_counted(
    client: TestClient, path: str, *, content_type: str, total: int, head: bytes = b""
) -> tuple[int, int]:
    """POST `total` bytes to the app in 64 KiB messages, straight through ASGI (the test client
    would read the whole body before the app sees any): returns the status and how many bytes
    the app pulled."""
    chunk = 65536
    pulled = 0
    status = 0

    async def receive() -> dict[str, object]:
        nonlocal pulled
        if pulled >= total:
            return {"type": "http.disconnect"}
        body = head if pulled == 0 and head else b"x" * chunk
        pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": pulled < total}

    async def send(message: dict[str, object]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])  # type: ignore[call-overload]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", content_type.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    # In a thread of its own: the browser tests leave an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, client.app(scope, receive, send)).result()  # type: ignore[arg-type]
    return status, pulled


@pytest.mark.parametrize("path", ["/login", "/senders", "/admin/workspace", "/logout"])
def test_an_anonymous_oversized_form_is_refused_before_it_is_read(
    client: TestClient, path: str
) -> None:
    status, pulled = post_counted(
        client, path, content_type="application/x-www-form-urlencoded", total=50 * 1024 * 1024
    )
    # 413, or the way to the sign-in page for a route that checks the session first.
    assert status in (303, 413)
    assert pulled <= CAP + 65536  # 50 MB sent: at most the cap and the message that crossed it


def test_a_signed_in_form_past_the_cap_is_413(client: TestClient, team: Team) -> None:
    csrf = login(client, team.admin_email)
    response = client.post(
        "/admin/workspace", data={"csrf_token": csrf, "name": "x" * BIG, "withdraw_after_days": 20}
    )
    assert response.status_code == 413


def test_an_anonymous_upload_is_not_read(client: TestClient, tmp_path: Path) -> None:
    status, pulled = post_counted(
        client,
        "/imports/upload",
        content_type="multipart/form-data; boundary=b",
        total=900 * 1024,
        head=b"--b\r\n",
    )
    assert status == 303  # to the sign-in page
    assert pulled == 0  # the session check came first: not a byte read
    folder = tmp_path / "data" / "imports"
    assert not folder.exists() or not any(folder.iterdir())


def test_an_upload_with_a_wrong_csrf_token_stores_nothing(
    client: TestClient, team: Team, tmp_path: Path
) -> None:
    login(client, team.admin_email)
    response = client.post(
        "/imports/upload",
        data={"csrf_token": "forged", "campaign_id": str(team.campaign.id)},
        files={"file": ("a.csv", b"LinkedIn URL\n" + b"x" * 500_000, "text/csv")},
    )
    assert response.status_code == 403
    folder = tmp_path / "data" / "imports"
    assert not folder.exists() or not any(folder.iterdir())


def test_an_upload_past_its_cap_is_413_and_leaves_no_file(
    client: TestClient, team: Team, tmp_path: Path
) -> None:
    csrf = login(client, team.admin_email)
    response = client.post(
        "/imports/upload",
        data={"csrf_token": csrf, "campaign_id": str(team.campaign.id)},
        files={"file": ("a.csv", b"LinkedIn URL\n" + b"x" * (2 * 1024 * 1024), "text/csv")},
    )
    assert response.status_code == 413
    folder = tmp_path / "data" / "imports"
    assert not folder.exists() or not any(folder.iterdir())


def test_a_good_upload_still_previews(client: TestClient, team: Team) -> None:
    csrf = login(client, team.admin_email)
    response = client.post(
        "/imports/upload",
        data={"csrf_token": csrf, "campaign_id": str(team.campaign.id)},
        files={"file": ("a.csv", b"LinkedIn URL\nhttps://www.linkedin.com/in/ada\n", "text/csv")},
    )
    assert response.status_code == 200 and "linkedin.com/in/ada" in response.text
