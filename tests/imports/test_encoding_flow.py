"""Encodings and unfamiliar URL headers through every door (issue 16): the API's `encoding` field and
the import's `encoding`, the CLI's `--encoding`, the dashboard preview's readings (chosen by the admin
when two stay plausible), and a profile-URL column found by its cells."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.imports.running import run_pending_imports
from app.main import create_app
from app.models import Contact, ContactImport
from tests.clients import Api, Team, login, make_api

NAMES = [
    ("Дмитрий", "Иванов"),
    ("Ольга", "Смирнова"),
    ("Сергей", "Кузнецов"),
    ("Анна", "Попова"),
    ("Михаил", "Соколов"),
    ("Елена", "Лебедева"),
]


def russian_csv(rows: int = 60, *, url_header: str = "LinkedIn URL") -> bytes:
    lines = [f"First Name,Last Name,{url_header},Company"]
    for i in range(rows):
        first, last = NAMES[i % len(NAMES)]
        lines.append(f"{first},{last},https://www.linkedin.com/in/person-{i},Acme")
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


@pytest.fixture
def client(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    settings = Settings(
        database_url="sqlite://",
        secret_key="test-secret-key-0123456789",
        data_dir=str(tmp_path / "data"),
    )
    app = create_app(settings, session_factory=session_factory, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def api(session: Session, client: TestClient) -> Api:
    return make_api(session, client)


def post_import(api: Api, campaign_id: int, content: bytes, **fields: str) -> Any:
    return api.client.post(
        "/api/v1/imports",
        files={"file": ("leads.csv", content, "text/csv")},
        data={"campaign_id": str(campaign_id), **fields},
        headers=api.auth,
    )


def names_of(session: Session, campaign_id: int) -> set[tuple[str | None, str | None]]:
    session.expire_all()
    rows = session.execute(
        select(Contact.first_name, Contact.last_name).where(Contact.campaign_id == campaign_id)
    )
    return {(first, last) for first, last in rows}


def test_the_api_detects_a_russian_excel_file_and_says_so(
    api: Api, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    campaign = api.campaign()["id"]
    response = post_import(api, campaign, russian_csv())
    assert response.status_code == 202, response.text
    assert response.json()["encoding"] == "cp1251"
    assert run_pending_imports(session_factory, clock=clock) == 1
    job = api.client.get(f"/api/v1/imports/{response.json()['id']}", headers=api.auth).json()
    assert (job["state"], job["imported"], job["encoding"]) == ("done", 60, "cp1251")
    assert names_of(session, campaign) == set(NAMES)


def test_the_api_takes_the_encoding_it_is_given_by_any_usual_name(
    api: Api, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    campaign = api.campaign()["id"]
    response = post_import(api, campaign, russian_csv(), encoding="Windows-1252")
    assert response.status_code == 202, response.text
    assert response.json()["encoding"] == "cp1252"
    run_pending_imports(session_factory, clock=clock)
    # What the client asked for, even when it is wrong: mojibake, but never a silent guess.
    assert ("Äìèòðèé", "Èâàíîâ") in names_of(session, campaign)


def test_an_unknown_encoding_is_refused_with_the_names_to_use(api: Api, session: Session) -> None:
    campaign = api.campaign()["id"]
    response = post_import(api, campaign, russian_csv(), encoding="koi8-r")
    assert response.status_code == 422, response.text
    body = response.json()
    assert "cp1251" in body["detail"] and "koi8-r" in body["detail"]
    assert api.client.get("/api/v1/imports", headers=api.auth).json()["items"] == []


def test_a_url_column_with_an_unfamiliar_header_is_found_by_its_cells(
    api: Api, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    campaign = api.campaign()["id"]
    response = post_import(api, campaign, russian_csv(url_header="Lien"))
    assert response.status_code == 202, response.text
    assert response.json()["mapping"] == {
        "0": "first_name",
        "1": "last_name",
        "2": "linkedin_url",
        "3": "company",
    }
    run_pending_imports(session_factory, clock=clock)
    assert len(names_of(session, campaign)) == len(NAMES)


def test_a_file_without_any_profile_urls_is_still_refused_whole(api: Api) -> None:
    campaign = api.campaign()["id"]
    content = b"Name,Web\nAda,https://example.com/ada\nBob,https://example.com/bob\n"
    response = post_import(api, campaign, content)
    assert response.status_code == 422
    assert "No profile-URL column" in response.json()["detail"]


def preview_token(page: str) -> str:
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
    assert token, page[:2000]
    return token.group(1)


def test_the_preview_shows_readings_and_the_admin_picks_one(
    client: TestClient, session: Session, team: Team
) -> None:
    csrf = login(client, team.admin_email)
    # Few names, in letters Czech and Western languages share: both readings stay plausible.
    content = "First Name,Last Name,URL\nJosef,Novák,https://www.linkedin.com/in/josef\n".encode(
        "cp1250"
    )
    upload = client.post(
        "/imports/upload",
        data={"csrf_token": csrf, "campaign_id": str(team.campaign.id)},
        files={"file": ("leads.csv", content, "text/csv")},
    )
    assert upload.status_code == 200, upload.text[:1000]
    assert 'name="encoding"' in upload.text
    assert "Novák" in upload.text  # the reading shown decodes the name
    token = preview_token(upload.text)
    form = {"csrf_token": csrf, "token": token, "campaign_id": str(team.campaign.id)}
    # The admin switches to a reading that garbles the name, then back.
    other = client.post("/imports/preview", data={**form, "encoding": "cp1251"})
    assert other.status_code == 200 and "Novбk" in other.text
    assert re.search(r'<option value="cp1251" selected', other.text)
    unknown = client.post("/imports/preview", data={**form, "encoding": "ebcdic"})
    assert unknown.status_code == 422 and "Unknown encoding" in unknown.text
    commit = client.post(
        "/imports/commit",
        data={
            **form,
            "encoding": "cp1250",
            "map_0": "first_name",
            "map_1": "last_name",
            "map_2": "linkedin_url",
        },
        follow_redirects=False,
    )
    assert commit.status_code == 303, commit.text[:1000]
    job_page = client.get(commit.headers["location"])
    assert job_page.status_code == 200
    job = session.scalars(select(ContactImport)).one()
    assert job.encoding == "cp1250"
