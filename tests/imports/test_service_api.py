"""CSV imports through the API and the service (SPEC §6), on SQLite and PostgreSQL.

Every upload goes through POST /api/v1/imports; the background job is run in-process with
`run_pending_imports` (it opens its own transactions: in these tests they are savepoints of the
test's one rolled-back transaction). Reads go through the API as a client sees them.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.contacts.service import add_contacts
from app.domain.statuses import DuplicatePolicy, ImportState
from app.imports import running, service
from app.imports.jobs import remove_old_files
from app.imports.running import run_pending_imports
from app.imports.upload import accept_file
from app.main import create_app
from app.models import Contact, ContactImport
from tests.builders import a_campaign, a_workspace
from tests.clients import Api, make_api
from tests.live import committed, drop_workspace

PROBLEM = "application/problem+json"
HEADER = ["First Name", "Last Name", "LinkedIn URL", "Email", "Company", "Position", "Notes"]


# ---------------------------------------------------------------- helpers


def csv_bytes(header: list[str], rows: list[list[str]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def url(slug: str) -> str:
    return f"https://www.linkedin.com/in/{slug}"


def people(start: int, stop: int) -> list[list[str]]:
    return [
        [f"First{i}", f"Last{i}", url(f"person-{i}"), f"p{i}@example.com", "Acme", "CTO", ""]
        for i in range(start, stop)
    ]


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url="sqlite://",
        secret_key="test-secret-key-0123456789",
        data_dir=str(tmp_path / "data"),
        **overrides,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    """The app with its upload folder in tmp_path (never the repository's data/)."""
    app = create_app(settings_for(tmp_path), session_factory=session_factory, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api(session: Session, client: TestClient) -> Api:
    return make_api(session, client)


@pytest.fixture
def other_api(session: Session, client: TestClient) -> Api:
    return make_api(session, client)


def upload(
    api: Api,
    campaign_id: int,
    content: bytes,
    *,
    filename: str = "contacts.csv",
    mapping: dict[str, str] | str | None = None,
    on_duplicate: str | None = None,
) -> httpx.Response:
    data: dict[str, str] = {"campaign_id": str(campaign_id)}
    if mapping is not None:
        data["mapping"] = mapping if isinstance(mapping, str) else json.dumps(mapping)
    if on_duplicate is not None:
        data["on_duplicate"] = on_duplicate
    return api.client.post(
        "/api/v1/imports",
        files={"file": (filename, content, "text/csv")},
        data=data,
        headers=api.auth,
    )


def queue(api: Api, campaign_id: int, content: bytes, **kw: Any) -> dict[str, Any]:
    response = upload(api, campaign_id, content, **kw)
    assert response.status_code == 202, response.text
    body = dict(response.json())
    assert body["state"] == "queued"
    return body


def run_all(
    session_factory: sessionmaker[Session], clock: FixedClock, batch_size: int = 5000
) -> int:
    return run_pending_imports(session_factory, clock=clock, batch_size=batch_size)


def job(api: Api, import_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/imports/{import_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def counts_of(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return body["rows_read"], body["imported"], body["duplicates"], body["invalid"]


def contacts(api: Api, campaign_id: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = api.get(f"/api/v1/campaigns/{campaign_id}/contacts", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        out += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def by_url(api: Api, campaign_id: int) -> dict[str, dict[str, Any]]:
    return {c["linkedin_url"]: c for c in contacts(api, campaign_id)}


def stats(api: Api, campaign_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["stats"])


def rejected(api: Api, body: dict[str, Any]) -> list[list[str]]:
    response = api.get(body["rejected_rows_url"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def stored_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------- the happy path, counted exactly


def test_upload_is_queued_then_runs_to_done_with_exact_counts(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock, data_dir: Path
) -> None:
    campaign = api.campaign()
    cid = campaign["id"]
    assert api.add(cid, [{"linkedin_url": url("already-here"), "first_name": "Kept"}]).is_success
    rows = [
        ["Ada", "Lovelace", url("ada"), "ada@example.com", "Analytical", "Countess", "met at expo"],
        ["Alan", "Turing", "linkedin.com/in/Alan-Turing/", "", "Bletchley", "", ""],
        ["Grace", "Hopper", "https://de.linkedin.com/in/grace?trk=x", "", "Navy", "Admiral", ""],
        ["Edsger", "Dijkstra", url("edsger"), "", "", "", ""],
        ["Barbara", "Liskov", url("barbara"), "", "MIT", "", "vip"],
        ["No", "Url", "", "no@example.com", "", "", ""],  # row 6: missing URL
        ["Acme", "Page", "https://www.linkedin.com/company/acme", "", "", "", ""],  # row 7
        ["Bad", "Mail", url("bad-mail"), "not-an-email", "", "", ""],  # row 8: invalid email
        ["Ada", "Again", "http://www.linkedin.com/in/ADA/", "", "", "", ""],  # in-file duplicate
        ["Old", "Friend", url("already-here"), "", "", "", ""],  # duplicate of the campaign
    ]
    created = queue(api, cid, csv_bytes(HEADER, rows), filename="leads.csv")
    assert created["id"] >= 1
    assert created["campaign_id"] == cid and created["filename"] == "leads.csv"
    assert counts_of(created) == (0, 0, 0, 0)
    assert created["encoding"] == "utf-8" and created["delimiter"] == ","
    assert created["mapping"]["2"] == "linkedin_url" and "6" not in created["mapping"]
    assert created["rejected_rows_url"] == f"/api/v1/imports/{created['id']}/rejected.csv"
    assert len(stored_files(data_dir)) == 1  # spooled to disk, waiting for the job
    assert job(api, created["id"])["state"] == "queued"
    assert len(contacts(api, cid)) == 1  # nothing is imported before the job runs

    assert run_all(session_factory, clock) == 1
    done = job(api, created["id"])
    assert done["state"] == "done"
    assert counts_of(done) == (10, 5, 2, 3)
    assert done["error"] is None and done["finished_at"] is not None

    found = by_url(api, cid)
    assert set(found) == {
        url("already-here"),
        url("ada"),
        url("alan-turing"),
        url("grace"),
        url("edsger"),
        url("barbara"),
    }
    ada = found[url("ada")]
    assert (ada["first_name"], ada["last_name"], ada["email"], ada["company"], ada["title"]) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        "Analytical",
        "Countess",
    )
    assert ada["custom_fields"] == {"Notes": "met at expo"}
    assert ada["source"] == "csv" and ada["status"] == "not_verified"
    assert found[url("edsger")]["company"] is None and found[url("edsger")]["custom_fields"] == {}
    assert found[url("already-here")]["first_name"] == "Kept"
    assert found[url("already-here")]["source"] == "api"
    assert stats(api, cid)["not_verified"] == 6 and stats(api, cid)["total"] == 6

    table = rejected(api, done)
    assert table[0] == [*HEADER, "row", "line", "reason"]
    assert [r[:7] for r in table[1:]] == [rows[5], rows[6], rows[7]]
    assert [r[7] for r in table[1:]] == ["6", "7", "8"]
    assert [r[8] for r in table[1:]] == ["line 7", "line 8", "line 9"]
    reasons = [r[9] for r in table[1:]]
    assert reasons[0] == "Missing LinkedIn profile URL"
    assert reasons[1].startswith("Invalid profile URL") and "company" in reasons[1].lower()
    assert reasons[2] == "'not-an-email' is not an email address"

    listed = api.get("/api/v1/imports").json()["items"]
    assert [i["id"] for i in listed] == [created["id"]] and listed[0]["state"] == "done"


def test_in_file_duplicates_count_as_duplicates_across_batches(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    rows = people(0, 7)
    rows.insert(1, ["Dup", "Same batch", url("person-0"), "", "", "", ""])  # row 2, batch 1
    rows.append(["Dup", "Later batch", url("PERSON-3") + "/", "", "", "", ""])  # row 9, batch 5
    rows.append(["Dup", "Later batch", url("person-6"), "", "", "", ""])  # row 10, batch 5
    created = queue(api, cid, csv_bytes(HEADER, rows), on_duplicate="overwrite")
    assert run_all(session_factory, clock, batch_size=2) == 1
    done = job(api, created["id"])
    assert done["state"] == "done"
    assert counts_of(done) == (10, 7, 3, 0)
    found = by_url(api, cid)
    assert len(found) == 7
    # The first row of a URL wins, even under "overwrite": later rows of the same file are duplicates.
    assert found[url("person-0")]["first_name"] == "First0"
    assert found[url("person-3")]["first_name"] == "First3"
    assert found[url("person-6")]["first_name"] == "First6"


def test_new_contacts_take_ids_in_file_order_and_keep_their_values_exactly(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    """What COPY carries on PostgreSQL (tabs, line breaks, backslashes, quotes, non-ASCII, empty
    cells, JSON) is stored as read; ids follow the file around a row already in the campaign."""
    cid = api.campaign()["id"]
    assert api.add(cid, [{"linkedin_url": url("already")}]).is_success
    tricky = ["Zoë\tTab", "Line\nBreak", url("tricky"), "", 'Back\\slash "Co"', "\\N", "a\tb\\c"]
    rows = [*people(0, 3), ["Again", "", url("already"), "", "", "", ""], tricky, *people(3, 6)]
    created = queue(api, cid, csv_bytes(HEADER, rows))
    assert run_all(session_factory, clock, batch_size=4) == 1
    assert counts_of(job(api, created["id"])) == (8, 7, 1, 0)
    found = by_url(api, cid)
    order = [url(f"person-{i}") for i in range(3)] + [url("tricky")]
    order += [url(f"person-{i}") for i in range(3, 6)]
    ids = [found[u]["id"] for u in order]
    assert ids == sorted(ids) and found[url("already")]["id"] < ids[0]
    stored = found[url("tricky")]
    assert (stored["first_name"], stored["last_name"]) == ("Zoë\tTab", "Line\nBreak")
    assert (stored["email"], stored["company"], stored["title"]) == (
        None,
        'Back\\slash "Co"',
        "\\N",
    )
    assert stored["custom_fields"] == {"Notes": "a\tb\\c"}


# ---------------------------------------------------------------- duplicate policies and undo


EXISTING = {
    "linkedin_url": url("jane"),
    "first_name": "Jane",
    "last_name": None,
    "email": None,
    "company": "OldCo",
    "title": None,
    "custom_fields": {"crm": "1", "blank": ""},
}
INCOMING_HEADER = ["LinkedIn URL", "First Name", "Last Name", "Email", "Company", "Title", "crm"]
INCOMING = ["https://linkedin.com/in/jane", "Janet", "Doe", "", "NewCo", "CEO", "2"]
EXPECTED = {
    "skip": ("Jane", None, None, "OldCo", None, {"crm": "1", "blank": ""}),
    "fill": ("Jane", "Doe", None, "OldCo", "CEO", {"crm": "1", "blank": ""}),
    "overwrite": ("Janet", "Doe", None, "NewCo", "CEO", {"crm": "2", "blank": ""}),
}


def fields(contact: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        contact[k]
        for k in ("first_name", "last_name", "email", "company", "title", "custom_fields")
    )


@pytest.mark.parametrize("policy", ["skip", "fill", "overwrite"])
def test_duplicate_policies(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock, policy: str
) -> None:
    cid = api.campaign()["id"]
    added = {k: v for k, v in EXISTING.items() if v is not None}
    assert api.add(cid, [added]).is_success
    created = queue(api, cid, csv_bytes(INCOMING_HEADER, [INCOMING], ","), on_duplicate=policy)
    assert created["on_duplicate"] == policy
    run_all(session_factory, clock)
    done = job(api, created["id"])
    assert done["state"] == "done" and counts_of(done) == (1, 0, 1, 0)
    (jane,) = contacts(api, cid)
    assert fields(jane) == EXPECTED[policy]
    assert jane["source"] == "api"  # still the contact that was there


def test_fill_keeps_an_empty_custom_value_fillable(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    assert api.add(cid, [{"linkedin_url": url("kim"), "custom_fields": {"crm": ""}}]).is_success
    created = queue(
        api,
        cid,
        csv_bytes(["URL", "crm", "region"], [[url("kim"), "77", "EMEA"]]),
        on_duplicate="fill",
    )
    run_all(session_factory, clock)
    assert job(api, created["id"])["duplicates"] == 1
    (kim,) = contacts(api, cid)
    assert kim["custom_fields"] == {"crm": "77", "region": "EMEA"}


@pytest.mark.parametrize(
    "batch_size",
    [
        100,
        1,
    ],
)
def test_repeated_rows_for_an_existing_contact_merge_the_same_whatever_the_batch_size(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock, batch_size: int
) -> None:
    cid = api.campaign()["id"]
    assert api.add(cid, [{"linkedin_url": url("jane"), "company": "OldCo"}]).is_success
    rows = [
        [url("jane"), "", "", "", "FirstRowCo", "", ""],
        [url("jane"), "", "", "", "SecondRowCo", "", ""],
    ]
    created = queue(api, cid, csv_bytes(INCOMING_HEADER, rows), on_duplicate="overwrite")
    run_all(session_factory, clock, batch_size=batch_size)
    assert counts_of(job(api, created["id"])) == (2, 0, 2, 0)
    # Duplicates within the file are skipped (SPEC §6): the file's first row for a URL decides.
    assert contacts(api, cid)[0]["company"] == "FirstRowCo"


@pytest.mark.parametrize(
    "batch_size",
    [
        100,
        1,
    ],
)
def test_a_later_row_never_merges_even_when_the_first_changed_nothing(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock, batch_size: int
) -> None:
    cid = api.campaign()["id"]
    assert api.add(cid, [{"linkedin_url": url("jane"), "company": "OldCo"}]).is_success
    rows = [
        [url("jane"), "", "", "", "OldCo", "", ""],  # the file's first row: nothing to fill
        [url("jane"), "", "", "", "", "CEO", ""],  # a later row of the same person
    ]
    created = queue(api, cid, csv_bytes(INCOMING_HEADER, rows), on_duplicate="fill")
    run_all(session_factory, clock, batch_size=batch_size)
    assert counts_of(job(api, created["id"])) == (2, 0, 2, 0)
    assert contacts(api, cid)[0]["title"] is None


def test_rejected_rows_csv_neutralises_formulas(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    rows = [['=HYPERLINK("http://evil")', "x", "@SUM(A1)", "", "", "", ""]]
    created = queue(api, cid, csv_bytes(HEADER, rows))
    run_all(session_factory, clock)
    table = rejected(api, job(api, created["id"]))
    assert table[1][0] == '\'=HYPERLINK("http://evil")'
    assert table[1][2] == "'@SUM(A1)"
    assert table[1][9].startswith("Invalid profile URL")


def test_rejected_rows_csv_streams_every_row_past_its_batches(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    """The download is read a thousand rows at a time: 2,345 rejected rows all come back, in
    file order, each once."""
    cid = api.campaign()["id"]
    rows = [[f"not a url {i}", f"N{i}", "", "", "", "", ""] for i in range(2345)]
    created = queue(api, cid, csv_bytes(HEADER, rows))
    run_all(session_factory, clock, batch_size=1000)
    table = rejected(api, job(api, created["id"]))
    assert table[0][-3:] == ["row", "line", "reason"]
    assert [r[-3] for r in table[1:]] == [str(n) for n in range(1, 2346)]
    assert [r[1] for r in table[1:]] == [f"N{i}" for i in range(2345)]


def test_ended_imports_files_are_removed_after_the_retention_and_rejections_keep_their_header(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock, data_dir: Path
) -> None:
    """The import-files job removes an ended import's upload once it is older than the retention; a
    queued one keeps its file whatever its age; the rejected rows still name the file's columns."""
    cid = api.campaign()["id"]
    ended = queue(api, cid, csv_bytes(HEADER, [["not a url", "N", "", "", "", "", ""]]))
    run_all(session_factory, clock)
    waiting = queue(api, cid, csv_bytes(HEADER, people(0, 3)))
    assert len(stored_files(data_dir)) == 2
    clock.advance(days=29)
    remove_old_files(session_factory, clock=clock, retention=timedelta(days=30))
    assert len(stored_files(data_dir)) == 2  # not old enough yet

    clock.advance(days=2)
    remove_old_files(session_factory, clock=clock, retention=timedelta(days=30))
    assert len(stored_files(data_dir)) == 1  # the queued import's file stays
    with session_factory() as session:
        removed = session.get_one(ContactImport, ended["id"])
        assert removed.file_removed_at == clock()
        assert session.get_one(ContactImport, waiting["id"]).file_removed_at is None
    assert job(api, ended["id"])["file_removed_at"] is not None
    table = rejected(api, job(api, ended["id"]))
    assert table[0] == [*HEADER, "row", "line", "reason"]
    assert table[1][1] == "N"
    assert run_all(session_factory, clock) == 1  # the waiting import still runs from its file
    assert job(api, waiting["id"])["imported"] == 3


def test_rejected_rows_csv_neutralises_the_files_own_header(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    header = [*HEADER[:-1], '=HYPERLINK("http://evil")']
    created = queue(api, cid, csv_bytes(header, [["not a url", "N", "", "", "", "", "x"]]))
    run_all(session_factory, clock)
    table = rejected(api, job(api, created["id"]))
    assert table[0][len(HEADER) - 1] == '\'=HYPERLINK("http://evil")'


def test_removing_an_old_imports_file_keeps_its_header_when_none_was_stored(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock, data_dir: Path
) -> None:
    """An import queued before headers were kept on the import: its header is read from the file
    before the file goes, so the rejected rows keep their column names."""
    cid = api.campaign()["id"]
    ended = queue(api, cid, csv_bytes(HEADER, [["not a url", "N", "", "", "", "", ""]]))
    run_all(session_factory, clock)
    with session_factory.begin() as session:
        session.get_one(ContactImport, ended["id"]).header = None
    clock.advance(days=31)
    with session_factory() as session:  # a clean-up whose commit fails deletes nothing
        paths = service.files_to_remove(session, now=clock(), retention=timedelta(days=30))
        session.rollback()
    assert paths == stored_files(data_dir) and len(paths) == 1
    remove_old_files(session_factory, clock=clock, retention=timedelta(days=30))
    assert stored_files(data_dir) == []
    assert rejected(api, job(api, ended["id"]))[0] == [*HEADER, "row", "line", "reason"]


def test_undo_removes_new_contacts_restores_fields_and_stats(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    before_rows = [
        {"linkedin_url": url("jane"), "first_name": "Jane", "company": "OldCo"},
        {"linkedin_url": url("untouched"), "first_name": "Una", "title": "CFO"},
    ]
    assert api.add(cid, before_rows).is_success
    before = by_url(api, cid)
    stats_before = stats(api, cid)
    assert stats_before["total"] == 2

    rows = [
        [url("jane"), "Janet", "Doe", "", "NewCo", "CEO", "x"],
        [url("untouched"), "Una", "", "", "", "", ""],  # a duplicate that changes nothing
        *[[url(f"new-{i}"), f"N{i}", "", "", "", "", ""] for i in range(4)],
        ["not a url", "", "", "", "", "", ""],
    ]
    created = queue(api, cid, csv_bytes(INCOMING_HEADER, rows), on_duplicate="overwrite")
    run_all(session_factory, clock, batch_size=3)
    done = job(api, created["id"])
    assert counts_of(done) == (7, 4, 2, 1)
    after = by_url(api, cid)
    assert len(after) == 6 and after[url("jane")]["company"] == "NewCo"
    assert stats(api, cid)["total"] == 6 and stats(api, cid)["not_verified"] == 6

    clock.advance(minutes=5)
    response = api.post(f"/api/v1/imports/{created['id']}/undo")
    assert response.status_code == 200, response.text
    assert response.json()["undone_at"] is not None
    restored = by_url(api, cid)
    assert set(restored) == set(before)
    for key, contact in before.items():
        assert fields(restored[key]) == fields(contact), key
    assert stats(api, cid) == stats_before

    again = api.post(f"/api/v1/imports/{created['id']}/undo")
    assert again.status_code == 409 and "already undone" in again.json()["detail"]


def test_undo_of_a_queued_import_is_refused(api: Api) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 2)))
    response = api.post(f"/api/v1/imports/{created['id']}/undo")
    assert response.status_code == 409
    assert "cancel it first" in response.json()["detail"]


# ---------------------------------------------------------------- cancel


def test_cancel_a_queued_import_imports_nothing(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 20)))
    response = api.post(f"/api/v1/imports/{created['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert run_all(session_factory, clock) == 0
    body = job(api, created["id"])
    assert body["state"] == "cancelled" and counts_of(body) == (0, 0, 0, 0)
    assert contacts(api, cid) == [] and stats(api, cid)["total"] == 0
    again = api.post(f"/api/v1/imports/{created['id']}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_cancel_a_running_import_stops_it_before_its_next_batch(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 20)))
    with session_factory.begin() as s:
        claimed = running.claim_next(s, now=clock(), import_id=created["id"])
        assert claimed is not None and claimed.state is ImportState.RUNNING
    assert job(api, created["id"])["state"] == "running"
    assert api.post(f"/api/v1/imports/{created['id']}/cancel").json()["state"] == "cancelled"
    result = running.run_import(session_factory, import_id=created["id"], clock=clock)
    assert result.state is ImportState.CANCELLED
    assert contacts(api, cid) == [] and counts_of(job(api, created["id"]))[1] == 0


# ---------------------------------------------------------------- files refused whole


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\r\n \r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "binary"),
        (b"Name,Company\nAda,Analytical\n", "profile-URL column"),
    ],
    ids=["empty", "blank-lines", "binary", "no-url-column"],
)
def test_a_file_refused_whole_is_422_and_stores_nothing(
    api: Api, session: Session, data_dir: Path, content: bytes, words: str
) -> None:
    cid = api.campaign()["id"]
    response = upload(api, cid, content)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert words in response.json()["detail"]
    assert api.get("/api/v1/imports").json()["items"] == []
    assert session.scalar(select(func.count()).select_from(ContactImport)) == 0
    assert stored_files(data_dir) == []


def test_no_url_column_names_the_columns_it_found(api: Api) -> None:
    cid = api.campaign()["id"]
    response = upload(api, cid, b"Vorname;Firma\nAda;Analytical\n")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "LinkedIn URL" in detail and "Vorname" in detail and "Firma" in detail


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ("{not json", "not JSON"),
        ('["linkedin_url"]', "JSON object"),
        ('{"URL": "phone"}', "Unknown field"),
        ('{"Nope": "linkedin_url"}', "Unknown column"),
        ('{"Name": "first_name"}', "No profile-URL column"),
        ('{"URL": "linkedin_url", "Name": "linkedin_url"}', "mapped twice"),
    ],
)
def test_a_bad_mapping_is_422_and_stores_nothing(
    api: Api, data_dir: Path, mapping: str, words: str
) -> None:
    cid = api.campaign()["id"]
    response = upload(api, cid, csv_bytes(["Name", "URL"], [["Ada", url("ada")]]), mapping=mapping)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert api.get("/api/v1/imports").json()["items"] == []
    assert stored_files(data_dir) == []


def test_unknown_or_archived_campaign_stores_nothing(api: Api, data_dir: Path) -> None:
    response = upload(api, 999_999, csv_bytes(["URL"], [[url("ada")]]))
    assert response.status_code == 404
    cid = api.campaign()["id"]
    assert api.patch(f"/api/v1/campaigns/{cid}", {"state": "archived"}).status_code == 200
    response = upload(api, cid, csv_bytes(["URL"], [[url("ada")]]))
    assert response.status_code == 409 and "archived" in response.json()["detail"]
    assert stored_files(data_dir) == []


# ---------------------------------------------------------------- mapping override


def test_mapping_override_picks_the_profile_column_over_an_auto_detected_one(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    header = ["Name", "URL", "Profil", "Firma"]
    rows = [
        ["Ada Lovelace", "https://analytical.example", url("ada"), "Analytical"],
        ["Alan Turing", "https://bletchley.example", url("alan"), "Bletchley"],
    ]
    auto = upload(api, cid, csv_bytes(header, rows))
    assert auto.status_code == 202 and auto.json()["mapping"]["1"] == "linkedin_url"
    api.post(f"/api/v1/imports/{auto.json()['id']}/cancel")

    mapping = {"Name": "full_name", "Profil": "linkedin_url", "Firma": "company"}
    created = queue(api, cid, csv_bytes(header, rows), mapping=mapping)
    assert created["mapping"] == {"0": "full_name", "2": "linkedin_url", "3": "company"}
    run_all(session_factory, clock)
    assert counts_of(job(api, created["id"])) == (2, 2, 0, 0)
    ada = by_url(api, cid)[url("ada")]
    assert (ada["first_name"], ada["last_name"], ada["company"]) == (
        "Ada",
        "Lovelace",
        "Analytical",
    )
    assert ada["custom_fields"] == {"URL": "https://analytical.example"}


def test_mapping_by_column_index(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    content = csv_bytes(["A", "Profile", "C"], [["x", url("ada"), "Ada"]], delimiter=";")
    created = queue(api, cid, content, mapping={"1": "linkedin_url", "2": "first_name"})
    assert created["delimiter"] == ";"
    run_all(session_factory, clock)
    (ada,) = contacts(api, cid)
    assert ada["first_name"] == "Ada" and ada["custom_fields"] == {"A": "x"}


def test_mapping_override_rescues_a_profile_column_with_an_unknown_name(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    content = csv_bytes(["Name", "Social"], [["Ada Lovelace", url("ada")]])
    response = upload(api, cid, content, mapping={"Name": "full_name", "Social": "linkedin_url"})
    assert response.status_code == 202, response.text
    run_all(session_factory, clock)
    assert counts_of(job(api, response.json()["id"])) == (1, 1, 0, 0)


# ---------------------------------------------------------------- workspaces, activity log


def test_another_workspaces_import_is_404(api: Api, other_api: Api) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 3)))
    iid = created["id"]
    for response in (
        other_api.get(f"/api/v1/imports/{iid}"),
        other_api.get(f"/api/v1/imports/{iid}/rejected.csv"),
        other_api.post(f"/api/v1/imports/{iid}/cancel"),
        other_api.post(f"/api/v1/imports/{iid}/undo"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == f"Import {iid} not found"
    assert other_api.get("/api/v1/imports").json()["items"] == []
    # Nor may another workspace import into this campaign.
    response = upload(other_api, cid, csv_bytes(HEADER, people(0, 3)))
    assert response.status_code == 404
    assert job(api, iid)["state"] == "queued"


def test_activity_log_starts_with_the_import_it_came_from(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 2)), filename="Q3 leads.csv")
    run_all(session_factory, clock)
    contact = contacts(api, cid)[0]
    response = api.get(f"/api/v1/contacts/{contact['id']}/activity")
    assert response.status_code == 200, response.text
    first = response.json()["items"][-1]  # newest first: the log starts at its end
    assert first["kind"] == "import"
    assert first["detail"]["summary"] == "Imported from Q3 leads.csv by API key"
    assert first["detail"]["import_id"] == created["id"]
    assert first["detail"]["filename"] == "Q3 leads.csv"
    assert first["created_at"] == contact["created_at"]


def test_an_import_writes_no_activity_row_per_contact(
    api: Api, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    from app.models import Activity

    cid = api.campaign()["id"]
    before = session.scalar(select(func.count()).select_from(Activity))
    queue(api, cid, csv_bytes(HEADER, people(0, 50)))
    run_all(session_factory, clock)
    assert len(contacts(api, cid)) == 50
    assert session.scalar(select(func.count()).select_from(Activity)) == before


# ---------------------------------------------------------------- size cap


def test_upload_over_the_cap_is_413_before_anything_is_stored(
    tmp_path: Path, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    app = create_app(
        settings_for(tmp_path, upload_max_bytes=4000), session_factory=session_factory, clock=clock
    )
    big = csv_bytes(HEADER, people(0, 200))
    assert len(big) > 4000
    with TestClient(app, raise_server_exceptions=False) as c:
        api = make_api(session, c)
        cid = api.campaign()["id"]
        response = upload(api, cid, big)
        assert response.status_code == 413
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "4,000 bytes" in response.json()["detail"]
        assert api.get("/api/v1/imports").json()["items"] == []
        assert stored_files(tmp_path / "data") == []
        # Just under the cap is fine: the cap is the file's, not the API's JSON limit.
        small = csv_bytes(HEADER, people(0, 20))
        assert len(small) < 3500
        assert upload(api, cid, small).status_code == 202


def test_chunked_upload_over_the_cap_is_413(
    tmp_path: Path, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    app = create_app(
        settings_for(tmp_path, upload_max_bytes=4000), session_factory=session_factory, clock=clock
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        api = make_api(session, c)
        cid = api.campaign()["id"]
        boundary = "XBOUNDARY"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="campaign_id"\r\n\r\n{cid}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            + csv_bytes(HEADER, people(0, 200))
            + f"\r\n--{boundary}--\r\n".encode()
        )

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        response = c.post(
            "/api/v1/imports",
            content=chunks(),
            headers={**api.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 413
        assert api.get("/api/v1/imports").json()["items"] == []
        assert stored_files(tmp_path / "data") == []


# ---------------------------------------------------------------- two imports, one campaign


def test_two_overlapping_imports_into_one_campaign_end_without_duplicates(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    first = queue(api, cid, csv_bytes(HEADER, people(0, 60)))
    second = queue(api, cid, csv_bytes(HEADER, people(30, 90)))
    # One at a time per campaign: while the first holds its lease, the second stays queued.
    with session_factory.begin() as s:
        claimed = running.claim_next(s, now=clock())
        assert claimed is not None and claimed.id == first["id"]
    with session_factory.begin() as s:
        assert running.claim_next(s, now=clock()) is None
    assert job(api, second["id"])["state"] == "queued"
    running.run_import(session_factory, import_id=first["id"], clock=clock, batch_size=7)
    assert run_all(session_factory, clock, batch_size=11) == 1
    a, b = job(api, first["id"]), job(api, second["id"])
    assert (a["state"], b["state"]) == ("done", "done")
    assert counts_of(a) == (60, 60, 0, 0)
    assert counts_of(b) == (60, 30, 30, 0)
    found = contacts(api, cid)
    assert len(found) == 90 == len({c["linkedin_url"] for c in found})
    assert stats(api, cid)["total"] == 90


def test_the_same_file_into_two_campaigns_imports_into_each(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    one, two = api.campaign()["id"], api.campaign()["id"]
    content = csv_bytes(HEADER, people(0, 25))
    a, b = queue(api, one, content), queue(api, two, content)
    assert run_all(session_factory, clock) == 2
    assert counts_of(job(api, a["id"])) == counts_of(job(api, b["id"])) == (25, 25, 0, 0)
    assert len(contacts(api, one)) == len(contacts(api, two)) == 25


# ---------------------------------------------------------------- failures


def test_a_failing_batch_is_retried_from_the_checkpoint_then_fails_clearly(
    api: Api,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 10)))
    real = running._apply_batch
    calls = {"n": 0, "fail_from": 3}

    def flaky(session: Session, job_: ContactImport, rows: Any, now: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] >= calls["fail_from"]:
            raise RuntimeError("server closed the connection unexpectedly")
        real(session, job_, rows, now, **kw)

    monkeypatch.setattr(running, "_apply_batch", flaky)
    assert run_all(session_factory, clock, batch_size=2) == 1
    body = job(api, created["id"])
    # Two batches committed; the third failed: still resumable, not stuck and not half-applied.
    assert body["state"] == "running" and counts_of(body) == (4, 4, 0, 0)
    assert len(contacts(api, cid)) == 4
    # The next pass (a moment later) resumes after the checkpoint and finishes exactly.
    calls["fail_from"] = 10**9
    clock.advance(seconds=1)
    assert run_all(session_factory, clock, batch_size=2) == 1
    body = job(api, created["id"])
    assert body["state"] == "done" and counts_of(body) == (10, 10, 0, 0)
    assert len(contacts(api, cid)) == 10

    # A database that stays away: after MAX_FAILURES attempts the import fails with the reason.
    again = queue(api, cid, csv_bytes(HEADER, people(10, 14)))
    calls["fail_from"] = 0
    for _ in range(running.MAX_FAILURES):
        clock.advance(seconds=1)
        run_all(session_factory, clock)
    body = job(api, again["id"])
    assert body["state"] == "failed"
    assert "server closed the connection" in body["error"]
    assert body["finished_at"] is not None and counts_of(body)[1] == 0


def test_a_crash_inside_a_resync_resumes_from_its_byte_offset_with_the_same_rows(
    api: Api,
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unclosed quote on row 5 would swallow the next 20 lines: that row is cut and reading
    restarts on the line after it. A run killed right after a batch inside that stretch resumes
    from the byte past its last committed row (issue 16) and ends with exactly the rows,
    rejections and line numbers of an uninterrupted run."""
    lines = [",".join(HEADER)]
    for i in range(30):
        first = f'"Quoted {i}' if i == 4 else f'Str"ay{i}' if i == 12 else f"N{i}"
        lines.append(f"{first},L{i},{url(f'p-{i}')},p{i}@example.com,Acme,CTO,")
    content = ("\r\n".join(lines) + "\r\n").encode()

    def outcome(campaign_id: int, import_id: int) -> tuple[Any, ...]:
        table = rejected(api, job(api, import_id))
        people_ = sorted(c["linkedin_url"] for c in contacts(api, campaign_id))
        return counts_of(job(api, import_id)), people_, [r[-3:] for r in table[1:]]

    clean_campaign = api.campaign()["id"]
    clean = queue(api, clean_campaign, content)
    run_all(session_factory, clock, batch_size=4)

    cid = api.campaign()["id"]
    created = queue(api, cid, content)
    real = running._apply_batch
    calls = {"n": 0}

    def crash_after_two(
        session_: Session, job_: ContactImport, rows: Any, now: Any, **kw: Any
    ) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        real(session_, job_, rows, now, **kw)

    monkeypatch.setattr(running, "_apply_batch", crash_after_two)
    run_all(session_factory, clock, batch_size=4)
    stored = session.get_one(ContactImport, created["id"])
    session.refresh(stored)
    assert stored.state.value == "running" and stored.checkpoint_row == 8
    assert stored.checkpoint_offset is not None and stored.checkpoint_line is not None
    monkeypatch.setattr(running, "_apply_batch", real)
    clock.advance(seconds=1)
    run_all(session_factory, clock, batch_size=4)
    assert job(api, created["id"])["state"] == "done"
    assert outcome(cid, created["id"])[0] == outcome(clean_campaign, clean["id"])[0]
    assert outcome(cid, created["id"])[2] == outcome(clean_campaign, clean["id"])[2]
    counts, _, rejections = outcome(cid, created["id"])
    assert counts == (30, 29, 0, 1)
    assert rejections == [["5", "line 6", rejections[0][2]]]
    assert rejections[0][2].startswith("Stray quote on line 6")


# ---------------------------------------------------------------- real commits, real threads


def test_an_import_beside_concurrent_api_writes_ends_without_duplicates(
    db_engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    """Committed transactions: the job in one thread, API-style writes of the same URLs in another."""
    from app.db import make_sessionmaker

    factory = make_sessionmaker(db_engine)
    with committed(db_engine) as s:
        workspace = a_workspace(s)
        campaign = a_campaign(s, workspace)
        ws_id, cid = workspace.id, campaign.id
    try:
        path = tmp_path / "overlap.csv"
        path.write_bytes(csv_bytes(HEADER, people(0, 3000)))
        with committed(db_engine) as s:
            created = service.create_import(
                s,
                workspace_id=ws_id,
                campaign_id=cid,
                upload=accept_file(path, data_dir=str(tmp_path), max_bytes=10**9),
                filename="overlap.csv",
                created_by="test",
                user_id=None,
                mapping=None,
                on_duplicate=DuplicatePolicy.SKIP,
                now=clock(),
            )
            iid = created.id
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                for start in range(0, 3000, 250):
                    batch = [
                        {"linkedin_url": url(f"person-{i}"), "first_name": "api"}
                        for i in range(start + 125, start + 250)
                    ]
                    with factory.begin() as s:
                        add_contacts(
                            s, workspace_id=ws_id, campaign_id=cid, items=batch, now=clock()
                        )
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        ran = run_pending_imports(factory, clock=clock, batch_size=200)
        thread.join(timeout=120)
        assert not errors, errors
        assert ran == 1
        with committed(db_engine) as s:
            done = s.get_one(ContactImport, iid)
            assert done.state is ImportState.DONE, done.error
            assert done.rows_read == 3000 and done.invalid == 0
            assert done.imported + done.duplicates == 3000
            total = s.scalar(select(func.count()).where(Contact.campaign_id == cid))
            distinct = s.scalar(
                select(func.count(func.distinct(Contact.linkedin_url))).where(
                    Contact.campaign_id == cid
                )
            )
            assert total == distinct == 3000
            from_file = s.scalar(
                select(func.count()).where(Contact.campaign_id == cid, Contact.import_id == iid)
            )
            assert from_file == done.imported
    finally:
        drop_workspace(db_engine, ws_id)


def test_lease_expiry_lets_another_worker_resume_a_dead_run(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 9)))
    with session_factory.begin() as s:
        assert running.claim_next(s, now=clock()) is not None  # a worker that then dies
    assert run_all(session_factory, clock) == 0  # its lease still holds
    clock.set(clock() + running.LEASE + timedelta(seconds=1))
    assert run_all(session_factory, clock) == 1
    assert counts_of(job(api, created["id"])) == (9, 9, 0, 0)


def log_events(api: Api, after: int = 0) -> list[dict[str, Any]]:
    body = api.get("/api/v1/events", params={"after": after, "limit": 1000}).json()
    return list(body["items"])


def test_an_import_writes_created_finished_and_on_undo_deleted_events(
    api: Api, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cid = api.campaign()["id"]
    start = api.get("/api/v1/events", params={"after": "latest"}).json()["next_after"]
    rows = [
        ["Ada", "Lovelace", url("ada"), "ada@example.com", "Analytical", "", ""],
        ["Alan", "Turing", url("alan"), "", "Bletchley", "", ""],
        ["No", "Url", "", "", "", "", ""],
    ]
    created = queue(api, cid, csv_bytes(HEADER, rows))
    run_all(session_factory, clock, batch_size=1)  # a batch per row: events batch with them
    found = log_events(api, start)
    assert [e["type"] for e in found] == ["contact.created"] * 2 + ["import.finished"]
    ada = found[0]["data"]
    assert ada["cause"] == "import" and ada["source"] == "csv"
    assert ada["contact"]["linkedin_url"] == url("ada")
    assert ada["contact"]["email"] == "ada@example.com"
    assert ada["contact"]["company"] == "Analytical" and ada["contact"]["status"] == "not_verified"
    assert found[2]["data"] == {
        "import_id": created["id"],
        "campaign_id": cid,
        "state": "done",
        "rows_read": 3,
        "imported": 2,
        "duplicates": 0,
        "invalid": 1,
        "error": None,
    }
    mark = found[-1]["seq"]
    assert api.post(f"/api/v1/imports/{created['id']}/undo").status_code == 200
    deleted = log_events(api, mark)
    assert [e["type"] for e in deleted] == ["contact.deleted"] * 2
    assert sorted(e["data"]["contact"]["id"] for e in deleted) == sorted(
        e["data"]["contact"]["id"] for e in found[:2]
    )


def test_a_cancelled_import_says_so_in_its_event(api: Api) -> None:
    cid = api.campaign()["id"]
    created = queue(api, cid, csv_bytes(HEADER, people(0, 3)))
    assert api.post(f"/api/v1/imports/{created['id']}/cancel").status_code == 200
    (finished,) = [e for e in log_events(api) if e["type"] == "import.finished"]
    assert finished["data"]["state"] == "cancelled" and finished["data"]["imported"] == 0
