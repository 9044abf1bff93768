"""End-to-end fixtures: a seeded demo workspace served by a real uvicorn, driven by headless Chromium.

One seeded workspace and one server for the whole e2e run, on SQLite only (`e2e_engine`, not the
two-database `db_engine`): browser and axe tests check what the pages show and how they behave, and
the queries under them run on PostgreSQL too in the API and service tests. Tests only read,
or put back what they change (the CSRF test resumes the campaign it pauses).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import Engine, select, update

from app import migrations
from app.accounts.security import SESSION_COOKIE
from app.contacts.service import add_contacts
from app.db import make_engine
from app.demo import seed_demo
from app.domain.statuses import CampaignType, DuplicatePolicy, ImportState
from app.models import Campaign, Contact, ContactImport
from tests.conftest import backend_url
from tests.live import committed, drop_workspace, live_server

PASSWORD = "e2e-password-123"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

HOSTILE_SCRIPT = "<script>window.__xss=1</script>"
HOSTILE_IMG = "<img src=x onerror=window.__xss=2>"
HOSTILE_TEMPLATE = "{{7*7}}"
JS_URL = "javascript:alert(1)"


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Pages are opened with absolute URLs of the live server. This override also replaces
    pytest-playwright's fallback fixture, which pytest 9 warns about (an instance-method fixture)."""
    return None


@dataclass(frozen=True)
class Demo:
    url: str
    engine: Engine
    backend: str
    workspace_id: int
    admin_email: str
    rep_email: str
    campaign_id: int  # the connection campaign, where the hostile contacts live
    campaign_ids: dict[CampaignType, int]
    hostile_id: int  # first_name <script>, company <img onerror>, title {{7*7}}
    js_url_id: int  # linkedin_url = javascript:alert(1)

    def at(self, path: str) -> str:
        return self.url + path


def seed(engine: Engine) -> Demo:
    now = datetime.now(UTC).replace(microsecond=0)
    # A unique domain: seed_demo names the rep rep@<the admin's domain>.
    admin_email = f"admin@{uuid.uuid4().hex[:12]}.e2e.test"
    with committed(engine) as session:
        result = seed_demo(
            session, admin_email=admin_email, password=PASSWORD, contacts=300, now=now
        )
        campaigns = {
            c.type: c.id
            for c in session.scalars(
                select(Campaign).where(Campaign.workspace_id == result.workspace_id)
            )
        }
        campaign_id = campaigns[CampaignType.CONNECTION]
        added = add_contacts(
            session,
            workspace_id=result.workspace_id,
            campaign_id=campaign_id,
            items=[
                {
                    "linkedin_url": "https://www.linkedin.com/in/hostile-fields",
                    "first_name": HOSTILE_SCRIPT,
                    "last_name": "Hostile",
                    "company": HOSTILE_IMG,
                    "title": HOSTILE_TEMPLATE,
                },
                {
                    "linkedin_url": "https://www.linkedin.com/in/js-url-person",
                    "first_name": "Jay",
                    "last_name": "Script",
                    "company": "Evil Corp",
                },
            ],
            now=now,
        )
        assert len(added.created) == 2, (added.invalid, added.duplicates)
        hostile_id, js_id = sorted(c["id"] for c in added.created)
        # The API would refuse this URL: write it behind normalisation's back.
        session.execute(update(Contact).where(Contact.id == js_id).values(linkedin_url=JS_URL))
        return Demo(
            url="",
            engine=engine,
            backend=engine.dialect.name,
            workspace_id=result.workspace_id,
            admin_email=result.admin_email,
            rep_email=result.rep_email,
            campaign_id=campaign_id,
            campaign_ids=campaigns,
            hostile_id=hostile_id,
            js_url_id=js_id,
        )


@pytest.fixture(scope="package")
def e2e_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated SQLite file of the e2e run's own."""
    engine = make_engine(backend_url("sqlite", tmp_path_factory.mktemp("e2e")))
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="package")
def demo(e2e_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    seeded = seed(e2e_engine)
    try:
        with live_server(
            e2e_engine, jobs=True, data_dir=str(tmp_path_factory.mktemp("uploads"))
        ) as url:
            yield replace(seeded, url=url)
    finally:
        drop_workspace(e2e_engine, seeded.workspace_id)


def login(page: Page, demo: Demo, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real form and land on the overview."""
    page.goto(demo.at("/login"))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(demo.at("/"))


def session_cookie(context: BrowserContext) -> dict[str, Any]:
    cookies = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert len(cookies) == 1, context.cookies()
    return dict(cookies[0])


@pytest.fixture(scope="package")
def admin_state(browser: Browser, demo: Demo) -> dict[str, Any]:
    """One admin sign-in per server, reused by tests that only need to be signed in."""
    context = browser.new_context()
    try:
        login(context.new_page(), demo, demo.admin_email)
        return dict(context.storage_state())
    finally:
        context.close()


@pytest.fixture
def admin_page(new_context: Callable[..., BrowserContext], admin_state: dict[str, Any]) -> Page:
    return new_context(storage_state=admin_state).new_page()


@pytest.fixture
def fresh_page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in a brand-new context (no cookies)."""
    return new_context().new_page()


def screenshot(page: Page, demo: Demo, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{demo.backend}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 0
    return path


def row_ids(page: Page) -> list[int]:
    values = page.locator("table.contacts tbody tr[data-contact-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.contactId)"
    )
    return [int(v) for v in values]


def wait_for_rows(page: Page, expected: list[int], timeout: float = 10.0) -> None:
    """Wait until the contact table shows exactly `expected` (htmx swaps are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = row_ids(page)
        if shown == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"table shows {shown}, expected {expected}")
        page.wait_for_timeout(50)


def watch_errors(page: Page) -> list[str]:
    """Collects console errors (CSP violations among them) and uncaught exceptions of `page`."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def mark_document(page: Page) -> None:
    """A JS marker that only survives if the document is not reloaded."""
    page.evaluate("window.__e2eMarker = 'still-here'")


def document_kept(page: Page) -> bool:
    return bool(page.evaluate("window.__e2eMarker === 'still-here'"))


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def at_query(demo: Demo, path: str, **params: str) -> Callable[[str], bool]:
    """A `wait_for_url` predicate: the page is `path` and its query holds each of `params`."""

    def matches(url: str) -> bool:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}{parts.path}" != demo.at(path):
            return False
        query = parse_qs(parts.query)
        return all(value in query.get(key, []) for key, value in params.items())

    return matches


def an_import(demo: Demo, state: ImportState, **values: Any) -> int:
    """An import row of the connection campaign, written straight into the database: a RUNNING one
    holds a lease for a day under a name no worker has, so none takes it over and its figures move
    only when a test moves them."""
    now = datetime.now(UTC).replace(microsecond=0)
    defaults: dict[str, Any] = {
        "rows_read": 0,
        "imported": 0,
        "duplicates": 0,
        "invalid": 0,
        "started_at": now - timedelta(seconds=40),
    }
    if state is ImportState.RUNNING:
        defaults.update(lease_until=now + timedelta(days=1), lease_owner="e2e-holder:1")
    with committed(demo.engine) as session:
        job = ContactImport(
            workspace_id=demo.workspace_id,
            campaign_id=demo.campaign_ids[CampaignType.CONNECTION],
            created_by=demo.admin_email,
            filename=f"{state.value}-prospects-from-a-rather-long-crm-export-name.csv",
            path="/nonexistent/e2e.csv",
            size_bytes=480_000,
            encoding="utf-8",
            delimiter=",",
            mapping={"0": "linkedin_url"},
            on_duplicate=DuplicatePolicy.SKIP,
            state=state,
            header=["LinkedIn", "Name"],
            created_at=now - timedelta(minutes=2),
            **(defaults | values),
        )
        session.add(job)
        session.flush()
        return job.id


def set_import(demo: Demo, import_id: int, **values: Any) -> None:
    with committed(demo.engine) as session:
        session.execute(update(ContactImport).where(ContactImport.id == import_id).values(**values))


def close_dialog(page: Page) -> None:
    """Escape steps back in history (the dialog has its own URL): wait for that navigation to end,
    or the next page.goto races it and is aborted."""
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page).not_to_have_url(re.compile(r"[?&]contact="))
