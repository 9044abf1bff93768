"""Every page of ours on a phone and on a desktop, as an admin and as a rep: nothing scrolls sideways
at 360 or 390 px, axe-core finds no serious or critical violation at 1280 or 390 px, and each view is
kept as a screenshot (test-artifacts/screenshots/) beside axe's full report (test-artifacts/axe/).

One signed-in page per role for the module; each test brings it into one state (a page, a filtered
tab, the open dialog, an upload's preview, an error page) and checks it at every width in turn."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from app.accounts.security import ViewerDep
from app.config import Settings
from app.db import make_engine
from app.domain.statuses import ImportState
from app.main import create_app
from app.models import Contact, ImportRejection, Webhook
from tests.e2e.conftest import SCREENSHOTS, Demo, an_import, login, set_import
from tests.live import committed, free_port

pytestmark = pytest.mark.e2e

AXE = Axe()
AXE_REPORTS = SCREENSHOTS.parent / "axe"
DESKTOP, PHONE, SMALL_PHONE = 1280, 390, 360
HEIGHT = 800
BLOCKING = ("serious", "critical")

# What is wider than the window, outermost first: a sideways scroll's culprits, for the message.
WIDEST = """() => {
  const limit = window.innerWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right > limit + 0.5 && box.width > 0 && !wide.some(w => w.contains(el))) wide.push(el);
  }
  return wide.slice(0, 4).map(el => {
    const cls = typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    const right = Math.round(el.getBoundingClientRect().right);
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + cls + " → " + right + "px";
  });
}"""


def overflow(page: Page) -> int:
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def axe_violations(page: Page, name: str) -> list[dict[str, Any]]:
    """Every violation axe-core finds (kept in test-artifacts/axe/NAME.json), the blocking ones
    returned."""
    violations: list[dict[str, Any]] = AXE.run(page).response["violations"]
    AXE_REPORTS.mkdir(parents=True, exist_ok=True)
    summary = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [{"target": n["target"], "html": n["html"][:300]} for n in v["nodes"]],
        }
        for v in violations
    ]
    (AXE_REPORTS / f"{name}.json").write_text(json.dumps(summary, indent=1))
    return [v for v in violations if v["impact"] in BLOCKING]


def check_view(page: Page, name: str, *, axe: bool = True) -> None:
    """The page as it stands, at 1280, 390 and 360 px: screenshots and axe at the first two, the
    sideways-scroll check at both phone widths. Every problem is reported, not only the first."""
    problems: list[str] = []
    for width in (DESKTOP, PHONE, SMALL_PHONE):
        page.set_viewport_size({"width": width, "height": HEIGHT})
        if width != DESKTOP:
            over = overflow(page)
            if over > 0:
                problems.append(f"{width}px: scrolls sideways by {over}px: {page.evaluate(WIDEST)}")
        if width == SMALL_PHONE:
            continue
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        if axe:
            for v in axe_violations(page, f"{name}-{width}"):
                targets = [" ".join(n["target"]) for n in v["nodes"][:3]]
                problems.append(
                    f"{width}px: axe {v['id']} ({v['impact']}) ×{len(v['nodes'])}: {targets}"
                )
    page.set_viewport_size({"width": DESKTOP, "height": HEIGHT})
    assert not problems, f"{name}:\n" + "\n".join(problems)


# ------------------------------------------------------------------ the data each page needs


@dataclass(frozen=True)
class Fixtures:
    contact_id: int  # a contact with an error and a log of several entries
    running_import: int
    finished_import: int
    webhook_id: int


def add_fixtures(demo: Demo) -> Fixtures:
    """A running import (no worker takes it), a finished one with a rejected row, and a disabled
    webhook: rows a page renders, put straight into the database."""
    now = datetime.now(UTC).replace(microsecond=0)
    running = an_import(demo, ImportState.RUNNING, rows_read=1_700, imported=1_650, duplicates=30)
    finished = an_import(
        demo, ImportState.DONE, rows_read=4, duplicates=3, invalid=1, finished_at=now
    )
    with committed(demo.engine) as session:
        contact_id = session.scalars(
            select(Contact.id)
            .where(Contact.campaign_id == demo.campaign_id, Contact.error_code.is_not(None))
            .order_by(Contact.id)
        ).first()
        assert contact_id is not None
        hook = Webhook(
            workspace_id=demo.workspace_id,
            url="https://hooks.example.com/contact-tracker/e2e-receiver-with-a-long-path",
            description="CRM sync",
            event_types=[],
            enabled=False,
            secret="not-a-real-sealed-secret",  # noqa: S106 - never read: the hook is disabled
            disabled_at=now,
            disabled_reason="Disabled by a user",
            created_at=now,
            updated_at=now,
        )
        session.add(hook)
        session.add(
            ImportRejection(
                import_id=finished,
                row_number=4,
                reason="Missing LinkedIn profile URL",
                cells={"LinkedIn": "", "Name": "Dora"},
            )
        )
        session.flush()
        return Fixtures(contact_id, running, finished, hook.id)


@pytest.fixture(scope="module")
def fixtures(demo: Demo) -> Iterator[Fixtures]:
    made = add_fixtures(demo)
    yield made
    set_import(demo, made.running_import, state=ImportState.CANCELLED, lease_until=None)


@pytest.fixture(scope="module")
def admin(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": DESKTOP, "height": HEIGHT})
    page = context.new_page()
    login(page, demo, demo.admin_email)
    yield page
    context.close()


@pytest.fixture(scope="module")
def rep(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": DESKTOP, "height": HEIGHT})
    page = context.new_page()
    login(page, demo, demo.rep_email)
    yield page
    context.close()


# ------------------------------------------------------------------ servers that fail on purpose


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def settings_for(engine: Engine) -> Settings:
    return Settings(
        database_url=str(engine.url),
        secret_key="live-test-secret-0123456789",
        check_migrations=False,
    )


@pytest.fixture(scope="module")
def failing(demo: Demo) -> Iterator[str]:
    """The demo's database behind two more routes: a bug (500) and a lost connection (503), both
    after the viewer was read, as a page's own failure would be."""
    app = create_app(settings_for(demo.engine), engine=demo.engine)

    def bug(viewer: ViewerDep) -> None:
        raise RuntimeError("e2e: a bug on purpose")

    def lost(viewer: ViewerDep) -> None:
        raise OperationalError("SELECT 1", {}, Exception("e2e: server closed the connection"))

    app.add_api_route("/e2e/bug", bug)
    app.add_api_route("/e2e/lost", lost)
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose database cannot be reached at all (a SQLite file in no directory)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('down') / 'absent' / 'tracker.db'}")
    with serving(create_app(settings_for(engine), engine=engine)) as url:
        yield url
    engine.dispose()


# ------------------------------------------------------------------ the views


@dataclass(frozen=True)
class Where:
    demo: Demo
    made: Fixtures
    failing: str
    down: str


View = Callable[[Page, Where], None]


def goto(path: str, status: int = 200) -> View:
    def view(page: Page, where: Where) -> None:
        response = page.goto(where.demo.at(path.format(c=where.demo.campaign_id, m=where.made)))
        assert response is not None and response.status == status, (
            path,
            response and response.status,
        )

    return view


def open_dialog(page: Page, where: Where) -> None:
    goto("/campaigns/{c}?error=any")(page, where)
    page.locator(f"tr[data-contact-id='{where.made.contact_id}'] a.contact-link").click()
    expect(page.locator("dialog.contact-dialog[open]")).to_be_visible()


def preview(page: Page, where: Where) -> None:
    """An upload through the form, read as CP1252: the preview with its choice of encodings."""
    goto("/imports")(page, where)
    page.set_input_files(
        "input[type=file]",
        files=[
            {
                "name": "kontakte.csv",
                "mimeType": "text/csv",
                "buffer": (
                    "Vorname;Nachname;LinkedIn-Link;Arbeitgeber;Position\n"
                    "Jürgen;Müller;https://www.linkedin.com/in/juergen-e2e;Bäckerei Groß GmbH;Geschäftsführer\n"
                    "Dora;Keinlink;;Initech;Einkauf\n"
                ).encode("cp1252"),
            }
        ],
    )
    page.click("form[action='/imports/upload'] button[type=submit]")
    expect(page.locator("#preview table.preview")).to_be_visible()


def down_page(page: Page, where: Where) -> None:
    response = page.goto(where.down + "/campaigns/1")
    assert response is not None and response.status == 503


def failing_page(path: str, status: int) -> View:
    def view(page: Page, where: Where) -> None:
        response = page.goto(where.failing + path)
        assert response is not None and response.status == status

    return view


def error_page(view: View, status: int, *, menu_of: str | None) -> View:
    """An error page in the layout: the menu (the viewer's, when the request knew who it was
    before it failed), what happened in words rather than a status line, and what to do next."""

    def check(page: Page, where: Where) -> None:
        view(page, where)
        section = page.locator(f".error-page[data-status='{status}']")
        expect(section.locator("h1")).not_to_contain_text(str(status))
        expect(section.locator("h2")).to_have_text("What you can do")
        expect(section.locator("ul.next li").first).to_be_visible()
        expect(page.locator("header.topbar nav a[href='/imports']")).to_be_attached()
        who = page.locator("header.topbar .who a[href='/account']")
        if menu_of is None:
            expect(who).to_have_count(0)
        else:
            expect(who).to_have_text(getattr(where.demo, menu_of))

    return check


ADMIN_VIEWS: dict[str, View] = {
    "overview": goto("/"),
    "archived": goto("/?archived=true"),
    "campaign": goto("/campaigns/{c}"),
    "campaign-tab": goto("/campaigns/{c}?status=invite_sent&q=a"),
    "dialog": open_dialog,
    "contact": goto("/contacts/{m.contact_id}"),
    "campaign-editor": goto("/campaigns/{c}/edit"),
    "campaign-new": goto("/campaigns/new"),
    "imports": goto("/imports"),
    "import-preview": preview,
    "import-progress": goto("/imports/{m.running_import}"),
    "import-result": goto("/imports/{m.finished_import}"),
    "senders": goto("/senders"),
    "users": goto("/admin/users"),
    "api-keys": goto("/admin/api-keys"),
    "account": goto("/account"),
    "workspace": goto("/admin/workspace"),
    "webhooks": goto("/admin/webhooks"),
    "webhook": goto("/admin/webhooks/{m.webhook_id}"),
    "audit": goto("/admin/audit"),
    # No route answers this URL: nobody was looked up, so the menu comes without the user's part.
    "error-404": error_page(goto("/no-such-page", 404), 404, menu_of=None),
    "error-404-contact": error_page(goto("/contacts/999999999", 404), 404, menu_of="admin_email"),
    "error-422": error_page(goto("/campaigns/{c}?sort=sideways", 422), 422, menu_of="admin_email"),
    "error-500": error_page(failing_page("/e2e/bug", 500), 500, menu_of="admin_email"),
    "error-503": error_page(failing_page("/e2e/lost", 503), 503, menu_of="admin_email"),
    "error-503-database-down": error_page(down_page, 503, menu_of=None),
}
REP_VIEWS: dict[str, View] = {
    "overview": goto("/"),
    "campaign": goto("/campaigns/{c}"),
    "dialog": open_dialog,
    "contact": goto("/contacts/{m.contact_id}"),
    "senders": goto("/senders"),
    "imports": goto("/imports"),
    "import-result": goto("/imports/{m.finished_import}"),
    "account": goto("/account"),
    "error-403": error_page(goto("/admin/users", 403), 403, menu_of="rep_email"),
}


@pytest.fixture(scope="module")
def where(demo: Demo, fixtures: Fixtures, failing: str, down: str) -> Where:
    return Where(demo, fixtures, failing, down)


@pytest.mark.parametrize("name", list(ADMIN_VIEWS))
def test_as_an_admin(admin: Page, where: Where, name: str) -> None:
    ADMIN_VIEWS[name](admin, where)
    check_view(admin, f"admin-{name}")


@pytest.mark.parametrize("name", list(REP_VIEWS))
def test_as_a_rep(rep: Page, where: Where, name: str) -> None:
    REP_VIEWS[name](rep, where)
    check_view(rep, f"rep-{name}")


def test_the_sign_in_form(browser: Browser, where: Where) -> None:
    context = browser.new_context(viewport={"width": DESKTOP, "height": HEIGHT})
    page = context.new_page()
    try:
        goto("/login")(page, where)
        check_view(page, "login")
        page.fill("input[name=email]", where.demo.admin_email)
        page.fill("input[name=password]", "not-the-password")
        page.click("form[action='/login'] button[type=submit]")
        expect(page.locator(".flash.error")).to_be_visible()
        check_view(page, "login-failed")
    finally:
        context.close()
