"""Every POST under /api/v1 honours Idempotency-Key (README, REST API): the first answer replayed
with `Idempotent-Replayed: true`, the same key with another request refused with 422, the key
scoped to the workspace. A walk over the route table proves it for every POST operation, so a
route added later cannot forget it; then the routes whose retries matter most, end to end: an
upload (fingerprinted while it streams), cancel and undo, a lease and a result."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.api_caller import Idempotency
from app.api import API_PREFIX
from app.clock import FixedClock
from app.config import Settings
from app.idempotency.fingerprint import BodyFingerprint, FormFingerprint, request_fingerprint
from app.imports.running import run_pending_imports
from app.main import create_app
from app.models import Activity, ContactImport, IdempotencyKey
from app.senders.schemas import SenderRead
from tests.builders import a_workspace, an_api_key
from tests.clients import Api, make_api, person
from tests.conftest import T0
from tests.live import committed, drop_workspace, live_server

PROBLEM = "application/problem+json"
REPLAYED = "idempotent-replayed"


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url="sqlite://",
        secret_key="test-secret-key-0123456789",
        data_dir=str(tmp_path / "data"),
        **overrides,
    )


@pytest.fixture
def client(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    """The app with its upload folder in tmp_path (never the repository's data/)."""
    app = create_app(settings_for(tmp_path), session_factory=session_factory, clock=clock)
    # Webhook URLs resolve without DNS (the SSRF rules are tested in tests/webhooks).
    app.state.webhook_resolver = lambda _host, _port: ["93.184.215.14"]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api(session: Session, client: TestClient) -> Api:
    return make_api(session, client)


@pytest.fixture
def other_api(session: Session, client: TestClient) -> Api:
    return make_api(session, client)


def stored_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "data" / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def csv_file(start: int, stop: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["First Name", "LinkedIn URL"])
    writer.writerows(
        [f"P{i}", f"https://www.linkedin.com/in/person-{i}"] for i in range(start, stop)
    )
    return buffer.getvalue().encode()


def multipart(
    fields: dict[str, str], file: tuple[str, bytes], *, boundary: str, file_first: bool = False
) -> bytes:
    """A multipart body written by hand, so a test chooses the boundary and the order of parts."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    filename, content = file
    file_part = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
    )
    ordered = [file_part, *parts] if file_first else [*parts, file_part]
    return b"".join(ordered) + f"--{boundary}--\r\n".encode()


def chunked(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_upload(api: Api, body: bytes | Iterator[bytes], boundary: str, key: str | None) -> Any:
    headers = {**api.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/api/v1/imports", content=body, headers=headers)


def upload(api: Api, campaign_id: int, content: bytes, key: str | None = None) -> Any:
    headers = {**api.auth, **({"Idempotency-Key": key} if key else {})}
    return api.client.post(
        "/api/v1/imports",
        files={"file": ("leads.csv", content, "text/csv")},
        data={"campaign_id": str(campaign_id)},
        headers=headers,
    )


def imports_of(session: Session, workspace_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ContactImport)
            .where(ContactImport.workspace_id == workspace_id)
        )
        or 0
    )


# ---------------------------------------------------------------- the walk over every POST

# A valid body for each JSON request schema a POST takes. A new schema without one fails the walk
# by name: add a body here, and let its route take IdempotencyDep.
JSON_BODIES: dict[str, dict[str, Any]] = {
    "SenderCreate": {"name": "Walk"},
    "CampaignCreate": {"name": "Walk", "sender_id": 999_999},
    "BulkContactsIn": {"contacts": [person(1)]},
    "ContactEventIn": {"event": "reply_received"},
    "LeaseRequest": {"limit": 1},
    "ActionResultIn": {"lease_token": "walk", "outcome": "success", "degree": 2},
    "WebhookIn": {"url": "https://hooks.example.com/walk", "event_types": []},
    "ReplayIn": {"after": 0},
}
# Multipart forms, by path: the fields beside the file, and the file.
FORMS: dict[str, tuple[dict[str, str], tuple[str, bytes]]] = {
    f"{API_PREFIX}/imports": ({"campaign_id": "999999"}, ("walk.csv", csv_file(0, 2))),
}
# Routes in files this change does not own; each xfail is strict, so it fails the day its route
# honours the key, and must then be removed.
# Routes allowed not to honour the key yet (each a strict xfail: it fails the day it does). Empty.
NOT_YET: dict[str, str] = {}


def post_routes() -> list[str]:
    """Every POST path of the app's route table under /api/v1, included routers flattened, whether
    or not the OpenAPI document shows it."""
    app = create_app(Settings(database_url="sqlite://", secret_key="walk-secret-0123456789"))
    return sorted(
        route.path
        for route in iter_route_contexts(app.routes)
        if route.path is not None
        and "POST" in (route.methods or ())
        and route.path.startswith(API_PREFIX + "/")
    )


POST_ROUTES = post_routes()


def test_the_walk_sees_every_post_route() -> None:
    assert len(POST_ROUTES) >= 13, POST_ROUTES
    assert f"{API_PREFIX}/imports" in POST_ROUTES
    assert f"{API_PREFIX}/senders/{{sender_id}}/actions/lease" in POST_ROUTES


@pytest.fixture
def openapi(api: Api) -> dict[str, Any]:
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def walk_request(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """The URL, the httpx arguments and the fingerprint of a valid request to the operation. Ids
    name nothing (the key is claimed before the work, so they never matter to a replay)."""
    url = re.sub(r"\{[^}]+\}", "999999", path)
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        assert name in JSON_BODIES, (
            f"POST {path}: add a valid {name or 'inline'} body to JSON_BODIES"
        )
        body = json.dumps(JSON_BODIES[name]).encode()
        kwargs = {"content": body, "headers": {"Content-Type": "application/json"}}
        return url, kwargs, request_fingerprint("POST", url, body)
    if "multipart/form-data" in content:
        assert path in FORMS, f"POST {path}: add a valid form to FORMS"
        fields, (filename, data) = FORMS[path]
        form = FormFingerprint("POST", url)
        for name, value in fields.items():
            form.begin_part(name, None)
            form.update(value.encode())
            form.end_part()
        form.begin_part("file", filename)
        form.update(data)
        form.end_part()
        kwargs = {"data": fields, "files": {"file": (filename, data, "text/csv")}}
        return url, kwargs, form.hexdigest()
    assert not content, f"POST {path}: teach the walk its {sorted(content)} body"
    return url, {}, request_fingerprint("POST", url, b"")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[p]))
        if p in NOT_YET
        else p
        for p in POST_ROUTES
    ],
)
def test_every_post_operation_honours_the_idempotency_key(
    path: str,
    api: Api,
    other_api: Api,
    session: Session,
    openapi: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Proved without building anything the operation works on: the key is claimed before the
    work, so an answer stored beforehand under the key of exactly this request must come back,
    whatever the ids name, and a key stored for another request must be refused."""
    assert path in openapi["paths"], "every POST route is in the OpenAPI document"
    operation = openapi["paths"][path]["post"]
    headers = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
    assert ("header", "Idempotency-Key") in headers, "the operation documents the header"

    url, kwargs, fingerprint = walk_request(path, operation)
    # A first answer stored under one key for exactly this request, and another key used for
    # some other request: both in this workspace, before the request is sent.
    seeded = {"seeded": path}
    for key, request_hash in (("walk-same", fingerprint), ("walk-other", "0" * 64)):
        session.add(
            IdempotencyKey(
                workspace_id=api.workspace.id,
                key=key,
                request_hash=request_hash,
                status_code=201,
                response=seeded,
                created_at=T0,
            )
        )
    session.flush()

    def send(who: Api, key: str) -> httpx.Response:
        extra = kwargs.get("headers", {})
        rest = {k: v for k, v in kwargs.items() if k != "headers"}
        return who.client.post(url, headers={**who.auth, **extra, "Idempotency-Key": key}, **rest)

    replayed = send(api, "walk-same")
    assert (replayed.status_code, replayed.json()) == (201, seeded), replayed.text
    assert replayed.headers[REPLAYED] == "true"

    refused = send(api, "walk-other")
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert "Idempotency-Key" in refused.json()["errors"]

    # The key is the workspace's: another workspace's same key is a new request, run for real.
    theirs = send(other_api, "walk-same")
    assert REPLAYED not in theirs.headers and theirs.json() != seeded, theirs.text
    assert stored_files(tmp_path) == []  # an upload's copy is removed with every answer but 202


# ---------------------------------------------------------------- fingerprints


def test_a_form_fingerprint_ignores_the_order_of_parts_and_how_they_are_cut() -> None:
    def of(parts: list[tuple[str, str | None, list[bytes]]]) -> str:
        form = FormFingerprint("POST", "/api/v1/imports")
        for name, filename, pieces in parts:
            form.begin_part(name, filename)
            for piece in pieces:
                form.update(piece)
            form.end_part()
        return form.hexdigest()

    one = of([("campaign_id", None, [b"7"]), ("file", "a.csv", [b"URL\nx\n"])])
    assert one == of([("file", "a.csv", [b"UR", b"L\nx", b"\n"]), ("campaign_id", None, [b"7"])])
    assert one != of([("campaign_id", None, [b"8"]), ("file", "a.csv", [b"URL\nx\n"])])
    assert one != of([("campaign_id", None, [b"7"]), ("file", "b.csv", [b"URL\nx\n"])])
    assert one != of([("campaign_id", None, [b"7"]), ("file", None, [b"URL\nx\n"])])
    # Names, filenames and content are framed: nothing slides from one into the next.
    assert of([("ab", None, [b""])]) != of([("a", "b", [b""])])
    assert of([("a", None, [b"b"])]) != of([("ab", None, [b""])])


def test_a_streamed_body_fingerprint_is_the_whole_body_one() -> None:
    body = b'{"contacts": []}'
    streamed = BodyFingerprint("POST", "/api/v1/x")
    for piece in chunked(body, 3):
        streamed.update(piece)
    assert streamed.hexdigest() == request_fingerprint("POST", "/api/v1/x", body)
    assert request_fingerprint("POST", "/api/v1/y", body) != streamed.hexdigest()


# ---------------------------------------------------------------- uploads


def test_the_same_file_twice_with_one_key_makes_one_import(
    api: Api, session: Session, tmp_path: Path
) -> None:
    campaign_id = api.campaign()["id"]
    content = csv_file(0, 50)
    fields = {"campaign_id": str(campaign_id), "on_duplicate": "skip"}
    first = post_upload(
        api, multipart(fields, ("leads.csv", content), boundary="first-AAAA"), "first-AAAA", "imp-1"
    )
    assert first.status_code == 202, first.text
    assert REPLAYED not in first.headers
    # The retry draws another boundary and puts the file first.
    retry_body = multipart(fields, ("leads.csv", content), boundary="retry-BBBB", file_first=True)
    retry = post_upload(api, retry_body, "retry-BBBB", "imp-1")
    assert retry.status_code == 202, retry.text
    assert retry.json() == first.json() and retry.headers[REPLAYED] == "true"
    assert imports_of(session, api.workspace.id) == 1
    assert len(stored_files(tmp_path)) == 1  # the retry's copy is gone
    assert [i["id"] for i in api.get("/api/v1/imports").json()["items"]] == [first.json()["id"]]

    # Another file, or the same file under another name, with the same key: 422, nothing stored.
    for other in (
        multipart(fields, ("leads.csv", csv_file(0, 51)), boundary="x1"),
        multipart(fields, ("other.csv", content), boundary="x1"),
        multipart({**fields, "on_duplicate": "fill"}, ("leads.csv", content), boundary="x1"),
    ):
        refused = post_upload(api, other, "x1", "imp-1")
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith(PROBLEM)
        assert "different request" in refused.json()["detail"]
    assert imports_of(session, api.workspace.id) == 1
    assert len(stored_files(tmp_path)) == 1

    # Without a key the same file is another import, as before.
    assert upload(api, campaign_id, content).status_code == 202
    assert imports_of(session, api.workspace.id) == 2


def test_a_refused_upload_does_not_burn_its_key(api: Api, session: Session) -> None:
    content = csv_file(0, 3)
    missing = upload(api, 999_999, content, key="imp-2")
    assert missing.status_code == 404
    campaign_id = api.campaign()["id"]
    # Another campaign_id is another request: the refused one stored nothing under the key.
    created = upload(api, campaign_id, content, key="imp-2")
    assert created.status_code == 202, created.text
    assert REPLAYED not in created.headers
    assert imports_of(session, api.workspace.id) == 1


def test_an_upload_without_a_valid_api_key_is_refused_before_its_body_is_read(
    api: Api, tmp_path: Path
) -> None:
    pulled = 0
    body = multipart({"campaign_id": "1"}, ("a.csv", csv_file(0, 500)), boundary="zz")

    def pieces() -> Iterator[bytes]:
        nonlocal pulled
        for piece in chunked(body, 1000):
            pulled += 1
            yield piece

    response = api.client.post(
        "/api/v1/imports",
        content=pieces(),
        headers={
            "Authorization": "Bearer not-a-key",
            "Content-Type": "multipart/form-data; boundary=zz",
            "Idempotency-Key": "anon",
        },
    )
    assert response.status_code == 401
    assert pulled == 0  # not a byte of the upload was read
    assert stored_files(tmp_path) == []


def test_the_upload_form_is_checked_as_before(api: Api, tmp_path: Path) -> None:
    campaign_id = api.campaign()["id"]
    only_id = f'--b\r\nContent-Disposition: form-data; name="campaign_id"\r\n\r\n{campaign_id}\r\n--b--\r\n'
    no_file = post_upload(api, only_id.encode(), "b", None)
    assert no_file.status_code == 422 and no_file.json()["errors"] == {"file": ["Field required"]}
    bad_id = upload(api, 0, csv_file(0, 2))
    assert bad_id.status_code == 422 and "campaign_id" in bad_id.json()["errors"]
    not_form = api.post("/api/v1/imports", {"campaign_id": campaign_id})
    assert not_form.status_code == 422
    assert "multipart/form-data" in not_form.json()["detail"]
    cut = multipart({"campaign_id": str(campaign_id)}, ("a.csv", csv_file(0, 5)), boundary="cut")
    truncated = post_upload(api, cut[:-20], "cut", None)
    assert truncated.status_code == 422, truncated.text
    two_files = (
        multipart(
            {"campaign_id": str(campaign_id)}, ("a.csv", csv_file(0, 2)), boundary="two"
        ).removesuffix(b"--two--\r\n")
        + b'--two\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n\r\nx\r\n'
        + b"--two--\r\n"
    )
    twice = post_upload(api, two_files, "two", None)
    assert twice.status_code == 422 and "one file" in twice.json()["detail"].lower()
    not_a_file = post_upload(
        api,
        multipart({"campaign_id": "1", "file": "x"}, ("a.csv", b"URL"), boundary="f"),
        "f",
        None,
    )
    assert not_a_file.status_code == 422 and "must be a file" in not_a_file.json()["detail"]
    id_twice = (
        f'--d\r\nContent-Disposition: form-data; name="campaign_id"\r\n\r\n{campaign_id}\r\n'
    ).encode() + multipart(
        {"campaign_id": str(campaign_id)}, ("a.csv", csv_file(0, 2)), boundary="d"
    )
    duplicate = post_upload(api, id_twice, "d", None)
    assert duplicate.status_code == 422 and "sent twice" in duplicate.json()["detail"]
    assert stored_files(tmp_path) == []


@pytest.fixture
def live(db_engine: Engine, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with committed(db_engine) as session:
        workspace = a_workspace(session)
        token = an_api_key(session, workspace)
        workspace_id = workspace.id
    try:
        with live_server(db_engine, data_dir=str(tmp_path / "data")) as url:
            yield {"url": url, "auth": {"Authorization": f"Bearer {token}"}, "id": workspace_id}
    finally:
        drop_workspace(db_engine, workspace_id)


def test_concurrent_uploads_of_one_key_make_one_import(
    live: dict[str, Any], db_engine: Engine, tmp_path: Path
) -> None:
    base, auth = live["url"], live["auth"]
    with httpx.Client(base_url=base, headers=auth) as client:
        sender = client.post("/api/v1/senders", json={"name": "S"}).json()
        campaign = client.post(
            "/api/v1/campaigns", json={"name": "C", "sender_id": sender["id"]}
        ).json()
    content = csv_file(0, 2000)
    barrier = threading.Barrier(4)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            response = client.post(
                f"{base}/api/v1/imports",
                files={"file": ("leads.csv", content, "text/csv")},
                data={"campaign_id": str(campaign["id"])},
                headers={**auth, "Idempotency-Key": "race-upload"},
            )
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in responses] == [202] * 4, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get(REPLAYED) == "true" for r in responses) == 3
    with committed(db_engine) as session:
        assert imports_of(session, live["id"]) == 1
    assert len(stored_files(tmp_path)) == 1


def test_a_large_upload_with_a_key_streams_and_is_never_held_in_memory(
    live: dict[str, Any], db_engine: Engine, tmp_path: Path
) -> None:
    """Over a real socket, in pieces: the server hashes and spools the parts as they arrive."""
    base, auth = live["url"], live["auth"]
    with httpx.Client(base_url=base, headers=auth, timeout=120) as client:
        sender = client.post("/api/v1/senders", json={"name": "S"}).json()
        campaign = client.post(
            "/api/v1/campaigns", json={"name": "C", "sender_id": sender["id"]}
        ).json()
        row = b"Somebody,https://www.linkedin.com/in/somebody-with-a-long-slug-%08d\r\n"
        size = 16 * 1024 * 1024
        rows = size // len(row % 0)

        def body(boundary: str, per_piece: int) -> Iterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="campaign_id"\r\n\r\n'
                f"{campaign['id']}\r\n--{boundary}\r\nContent-Disposition: form-data; "
                'name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
                "First Name,LinkedIn URL\r\n"
            ).encode()
            for start in range(0, rows, per_piece):
                yield b"".join(row % i for i in range(start, min(rows, start + per_piece)))
            yield f"\r\n--{boundary}--\r\n".encode()

        def send(boundary: str, per_piece: int) -> httpx.Response:
            return client.post(
                "/api/v1/imports",
                content=body(boundary, per_piece),
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Idempotency-Key": "big-1",
                },
            )

        tracemalloc.start()
        try:
            first = send("first-boundary", 1000)
            retry = send("retry-boundary", 333)  # another boundary, cut in other pieces
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert first.status_code == 202, first.text
    assert retry.status_code == 202 and retry.json() == first.json()
    assert retry.headers[REPLAYED] == "true"
    assert peak < 8 * 1024 * 1024, f"peak {peak:,} bytes for two {size:,}-byte uploads"
    with committed(db_engine) as session:
        assert imports_of(session, live["id"]) == 1
    [stored] = stored_files(tmp_path)
    assert stored.stat().st_size > size - 1024


# ---------------------------------------------------------------- cancel and undo


def test_a_retried_cancel_answers_the_first_cancel(api: Api) -> None:
    campaign_id = api.campaign()["id"]
    created = upload(api, campaign_id, csv_file(0, 5)).json()
    url = f"/api/v1/imports/{created['id']}/cancel"
    first = api.post(url, headers={"Idempotency-Key": "cancel-1"})
    assert first.status_code == 200 and first.json()["state"] == "cancelled"
    retry = api.post(url, headers={"Idempotency-Key": "cancel-1"})
    assert retry.status_code == 200 and retry.json() == first.json()
    assert retry.headers[REPLAYED] == "true"
    # Without the key, a second cancel is what it always was.
    assert api.post(url).status_code == 409
    # The key names the first cancel: another import's cancel under it is refused.
    other = upload(api, campaign_id, csv_file(5, 9)).json()
    refused = api.post(
        f"/api/v1/imports/{other['id']}/cancel", headers={"Idempotency-Key": "cancel-1"}
    )
    assert refused.status_code == 422
    assert api.get(f"/api/v1/imports/{other['id']}").json()["state"] == "queued"


def test_a_retried_undo_answers_the_first_undo(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    campaign_id = api.campaign()["id"]
    created = upload(api, campaign_id, csv_file(0, 6)).json()
    assert run_pending_imports(session_factory, clock=clock) == 1
    stats = api.get(f"/api/v1/campaigns/{campaign_id}").json()["stats"]
    assert stats["total"] == 6
    url = f"/api/v1/imports/{created['id']}/undo"
    first = api.post(url, headers={"Idempotency-Key": "undo-1"})
    assert first.status_code == 200, first.text
    assert first.json()["undone_at"] is not None
    retry = api.post(url, headers={"Idempotency-Key": "undo-1"})
    assert retry.status_code == 200 and retry.json() == first.json()
    assert retry.headers[REPLAYED] == "true"
    fresh = api.post(url)
    assert fresh.status_code == 409 and "already undone" in fresh.json()["detail"]
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["stats"]["total"] == 0


# ---------------------------------------------------------------- the executor's protocol


def lease(api: Api, sender_id: int, key: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(f"/api/v1/senders/{sender_id}/actions/lease", body, headers=headers)


def test_a_replayed_lease_returns_the_same_actions_and_leases_nothing_more(
    api: Api, session: Session
) -> None:
    sender = api.sender(limits={"daily_profile_visits": 5})
    campaign = api.campaign(sender_id=sender["id"])
    assert api.add(campaign["id"], [person(i) for i in range(10)]).status_code == 200

    first = lease(api, sender["id"], "lease-1", limit=3, lease_seconds=120)
    assert first.status_code == 200, first.text
    items = first.json()["items"]
    assert len(items) == 3
    retry = lease(api, sender["id"], "lease-1", limit=3, lease_seconds=120)
    assert retry.status_code == 200 and retry.headers[REPLAYED] == "true"
    assert retry.json() == first.json()  # the same actions, under the same lease token
    ids = [i["id"] for i in items]
    attempts = session.scalars(select(Activity.attempts).where(Activity.id.in_(ids))).all()
    assert attempts == [1, 1, 1]  # leased once, not again

    # The day's cap is five: the replay took none of the two left.
    rest = lease(api, sender["id"], limit=100).json()["items"]
    assert len(rest) == 2 and not {i["id"] for i in rest} & set(ids)
    assert lease(api, sender["id"], limit=100).json()["items"] == []
    # The key names the first lease: another limit under it is refused.
    refused = lease(api, sender["id"], "lease-1", limit=4, lease_seconds=120)
    assert refused.status_code == 422


def test_a_replayed_result_returns_the_first_answer_not_a_409(api: Api) -> None:
    sender = api.sender()
    campaign = api.campaign(sender_id=sender["id"])
    api.add(campaign["id"], [person(1)])
    [visit] = lease(api, sender["id"]).json()["items"]
    url = f"/api/v1/actions/{visit['id']}/result"
    body = {"lease_token": visit["lease_token"], "outcome": "success", "degree": 2}
    first = api.post(url, body, headers={"Idempotency-Key": "result-1"})
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "success"
    # Another executor's report of another outcome meanwhile conflicts with the applied one...
    other = {"lease_token": visit["lease_token"], "outcome": "error", "error_code": "other"}
    conflict = api.post(url, other)
    assert conflict.status_code == 409 and "already reported" in conflict.json()["detail"]
    # ...and the retry of the first report still gets the first answer, not that 409.
    retry = api.post(url, body, headers={"Idempotency-Key": "result-1"})
    assert retry.status_code == 200 and retry.json() == first.json()
    assert retry.headers[REPLAYED] == "true"
    contact = api.get(f"/api/v1/contacts/{visit['contact_id']}").json()
    assert contact["status"] == "not_connected"
    # The same key with the other outcome is another request: 422, not a replay.
    assert api.post(url, other, headers={"Idempotency-Key": "result-1"}).status_code == 422


# ---------------------------------------------------------------- the header, and sealed answers


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_key_is_refused(api: Api, key: str) -> None:
    response = api.post("/api/v1/senders", {"name": "S"}, headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert api.get("/api/v1/senders").json()["items"] == []


class ReversedBase64:
    """A stand-in for a real cipher: what matters is that the stored answer is not the answer."""

    def seal(self, secret: str) -> str:
        return base64.b64encode(secret.encode()[::-1]).decode()

    def open(self, token: str) -> str:
        return base64.b64decode(token)[::-1].decode()


def test_an_answer_that_carries_a_secret_is_stored_sealed(api: Api, session: Session) -> None:
    def idempotency() -> Idempotency:
        return Idempotency(
            session=session, workspace_id=api.workspace.id, key="sealed-1", now=T0, fingerprint="f"
        )

    answer = SenderRead.model_validate(api.sender(name="Secret holder"))
    runs = []

    def work() -> tuple[int, SenderRead]:
        runs.append(1)
        return 201, answer

    first = idempotency().run(work, sealer=ReversedBase64())
    stored = session.scalars(
        select(IdempotencyKey.response).where(IdempotencyKey.key == "sealed-1")
    ).one()
    assert stored is not None and set(stored) == {"sealed"}
    assert "Secret holder" not in json.dumps(stored)
    again = idempotency().run(work, sealer=ReversedBase64())
    assert runs == [1] and again.body == first.body
    assert again.headers[REPLAYED] == "true"
