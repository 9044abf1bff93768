"""The dashboard with a keyboard only, the contact dialog's own URL (Back, Forward, a copied link,
no JavaScript), and an import's progress told through a live region instead of redrawn controls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from app.domain.statuses import ContactStatus, ImportState
from app.models import Contact
from tests.e2e.conftest import (
    PASSWORD,
    Demo,
    an_import,
    at_query,
    document_kept,
    login,
    mark_document,
    query_of,
    row_ids,
    set_import,
    wait_for_rows,
    watch_errors,
)
from tests.live import committed

pytestmark = pytest.mark.e2e
PAGE_SIZE = 50


def contact_ids(demo: Demo, status: ContactStatus) -> list[int]:
    with committed(demo.engine) as session:
        return list(
            session.scalars(
                select(Contact.id)
                .where(Contact.campaign_id == demo.campaign_id, Contact.status == status)
                .order_by(Contact.id)
            )
        )


@pytest.fixture(scope="module")
def context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """One signed-in admin for the module's tests (each opens its own tab)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    login(ctx.new_page(), demo, demo.admin_email)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    tab = context.new_page()
    yield tab
    tab.close()


# ------------------------------------------------------------------ keyboard only

FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    name: el.getAttribute("name"),
    href: el.getAttribute("href"),
    text: (el.innerText || el.value || "").trim().slice(0, 80),
    visible: el.matches(":focus-visible") && style.outlineStyle !== "none" && style.outlineWidth !== "0px",
    onScreen: (() => { const r = el.getBoundingClientRect();
                       return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; })(),
  };
}"""


def focused(page: Page) -> dict[str, object]:
    info: dict[str, object] = page.evaluate(FOCUSED)
    return info


def assert_focus_shown(page: Page, what: str) -> dict[str, object]:
    """The focused element is the one a keyboard user expects, on screen and with a focus ring."""
    info = focused(page)
    assert info["visible"], f"{what}: no visible focus on {info}"
    assert info["onScreen"], f"{what}: the focus is off screen: {info}"
    return info


def tab_to(page: Page, selector: str, *, limit: int = 40) -> None:
    """Press Tab until `selector` has the focus, every stop on the way showing where it is."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            assert_focus_shown(page, selector)
            return
        assert_focus_shown(page, f"on the way to {selector}")
    raise AssertionError(f"{limit} tabs did not reach {selector}; at {focused(page)}")


def test_a_keyboard_only_walk(browser: Browser, demo: Demo) -> None:
    """Sign in → a campaign → a status tab → a contact's log → Escape → the next page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(demo.at("/login"))
        assert focused(page)["name"] == "email"  # the form is where the cursor starts
        page.keyboard.type(demo.admin_email)
        page.keyboard.press("Tab")
        page.keyboard.type("not-the-password")
        page.keyboard.press("Enter")
        expect(page.locator(".flash.error")).to_be_visible()
        # A failed sign-in keeps the e-mail, empties the password and puts the cursor there.
        expect(page.locator("input[name=email]")).to_have_value(demo.admin_email)
        expect(page.locator("input[name=password]")).to_be_focused()
        expect(page.locator("input[name=password]")).to_have_value("")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(demo.at("/"))
        errors = watch_errors(page)  # from here on (the refused sign-in was a 401)

        # The first Tab reaches the skip link, shown when focused; it leads into the page.
        page.keyboard.press("Tab")
        assert assert_focus_shown(page, "skip link")["text"] == "Skip to content"
        page.keyboard.press("Enter")
        assert focused(page)["id"] == "main"
        tab_to(page, f"article.card a[href='/campaigns/{demo.campaign_id}']")
        page.keyboard.press("Enter")
        page.wait_for_url(demo.at(f"/campaigns/{demo.campaign_id}"))

        # A status tab: a page of its own, whose first Tab again offers to skip the menu.
        page.keyboard.press("Tab")
        assert focused(page)["text"] == "Skip to content"
        connected = contact_ids(demo, ContactStatus.CONNECTED)
        assert len(connected) > PAGE_SIZE  # a tab with a next page
        tab_to(page, "nav.tabs a[data-tab=connected]")
        page.keyboard.press("Enter")
        page.wait_for_url(at_query(demo, f"/campaigns/{demo.campaign_id}", status="connected"))
        first = connected[0]
        link = f"a.contact-link[href='/contacts/{first}']"
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # skip to the content
        tab_to(page, link, limit=80)

        # Its log opens in a dialog that takes the focus and gives it back on Escape.
        page.keyboard.press("Enter")
        dialog = page.locator("dialog.contact-dialog[open]")
        expect(dialog).to_be_visible()
        assert page.evaluate("document.activeElement.closest('dialog[open]') !== null")
        assert query_of(page.url)["contact"] == [str(first)]
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page.locator(link)).to_be_focused()
        assert_focus_shown(page, "the contact link after Escape")
        page.wait_for_url(lambda url: "contact" not in query_of(url))

        # The next page: the new rows' heading has the focus, scrolled into view.
        tab_to(page, "nav.pager a[rel=next]", limit=400)
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "cursor" in query_of(url))
        expect(page.locator("#contacts-title")).to_be_focused()
        assert_focus_shown(page, "the contacts after Next")
        wait_for_rows(page, connected[PAGE_SIZE : 2 * PAGE_SIZE])
        assert errors == []
    finally:
        context.close()


# ------------------------------------------------------------------ the dialog's own URL


def test_the_dialog_has_its_own_url_and_back_closes_it(page: Page, demo: Demo) -> None:
    errors = watch_errors(page)
    invited = contact_ids(demo, ContactStatus.INVITE_SENT)
    target = invited[1]
    path = f"/campaigns/{demo.campaign_id}"
    page.goto(demo.at(f"{path}?status=invite_sent&q=e"))
    table = row_ids(page)
    assert target in table
    mark_document(page)

    page.locator(f"a.contact-link[href='/contacts/{target}']").click()
    dialog = page.locator("dialog.contact-dialog[open]")
    expect(dialog).to_have_attribute("data-contact-id", str(target))
    page.wait_for_url(at_query(demo, path, status="invite_sent", q="e", contact=str(target)))
    copied = page.url

    page.go_back()  # closes the dialog over the same table, without a reload
    expect(dialog).to_have_count(0)
    page.wait_for_url(lambda url: "contact" not in query_of(url))
    assert query_of(page.url) == {"status": ["invite_sent"], "q": ["e"]}
    assert document_kept(page) and row_ids(page) == table
    expect(page.locator(f"a.contact-link[href='/contacts/{target}']")).to_be_focused()

    page.go_forward()  # and Forward opens it again
    expect(dialog).to_have_attribute("data-contact-id", str(target))
    assert document_kept(page)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.wait_for_url(lambda url: "contact" not in query_of(url))
    assert document_kept(page)

    # A copied link opens the same filtered table with the dialog, as a modal.
    page.goto(copied)
    expect(dialog).to_have_attribute("data-contact-id", str(target))
    assert page.evaluate("document.querySelector('dialog.contact-dialog').matches(':modal')")
    assert row_ids(page) == table
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.wait_for_url(lambda url: query_of(url) == {"status": ["invite_sent"], "q": ["e"]})
    expect(page.locator(f"a.contact-link[href='/contacts/{target}']")).to_be_focused()

    # Someone else's contact, or no contact at all, opens nothing over the table.
    for other in ("999999999", "x"):
        page.goto(demo.at(f"{path}?status=invite_sent&contact={other}"))
        expect(page.locator("table.contacts")).to_be_visible()
        expect(page.locator("dialog")).to_have_count(0)

    # The contact's own URL stays a page of its own.
    page.goto(demo.at(f"/contacts/{target}"))
    expect(page.locator("h1#contact-title")).to_be_visible()
    expect(page.locator("dialog")).to_have_count(0)
    assert errors == []


def test_without_javascript_a_contact_link_opens_its_page(browser: Browser, demo: Demo) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, demo, demo.admin_email)
        target = contact_ids(demo, ContactStatus.INVITE_SENT)[0]
        page.goto(demo.at(f"/campaigns/{demo.campaign_id}?status=invite_sent"))
        # The menu is simply there (it folds away only where a script can unfold it).
        expect(page.locator("header .nav a[href='/imports']")).to_be_visible()
        page.locator(f"a.contact-link[href='/contacts/{target}']").click()
        page.wait_for_url(demo.at(f"/contacts/{target}"))
        expect(page.locator("h1#contact-title")).to_be_visible()
        # A copied dialog link still shows the log, over the table, without a script.
        page.goto(demo.at(f"/campaigns/{demo.campaign_id}?status=invite_sent&contact={target}"))
        expect(page.locator("dialog.contact-dialog[open] #contact-title")).to_be_visible()
    finally:
        context.close()


# ------------------------------------------------------------------ the phone menu


def test_the_menu_folds_away_on_a_phone(page: Page, demo: Demo) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(demo.at("/"))
    toggle = page.locator("button.nav-toggle")
    imports = page.locator("header .nav a[href='/imports']")
    expect(imports).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(imports).to_be_visible()
    expect(page.locator("header .who")).to_be_visible()
    imports.focus()
    page.keyboard.press("Escape")  # closes it and returns to the button
    expect(imports).to_be_hidden()
    expect(toggle).to_be_focused()
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(toggle).to_be_hidden()
    expect(imports).to_be_visible()


# ------------------------------------------------------------------ an import's progress


def test_import_progress_is_announced_and_leaves_the_focus_alone(page: Page, demo: Demo) -> None:
    job = an_import(demo, ImportState.RUNNING, rows_read=400, imported=390, duplicates=10)
    try:
        page.goto(demo.at(f"/imports/{job}"))
        status = page.locator("#progress-status[role=status]")
        expect(status).to_have_text("")  # nothing said before anything changes
        cancel = page.locator("#cancel-import")
        cancel.focus()
        page.evaluate("document.activeElement.dataset.marker = 'kept'")

        # Figures move in place: the same button keeps the focus (not a copy of it).
        set_import(demo, job, rows_read=2_400, imported=2_350)
        expect(page.locator("[data-count=rows_read]")).to_have_text("2,400")
        expect(status).to_have_text("Import 60% done, 2,400 rows read")
        assert page.evaluate("document.activeElement.dataset.marker") == "kept"
        expect(page.locator("#progress svg[role=progressbar]")).to_have_attribute(
            "aria-valuenow", "60"
        )

        # The end is told too, and the page shows the finished import.
        set_import(demo, job, state=ImportState.DONE, rows_read=2_400, imported=2_400)
        expect(page.locator("#progress[data-state=done]")).to_be_visible()
        expect(status).to_have_text("Import done: 2,400 imported, 10 duplicates, 0 invalid")
    finally:
        set_import(demo, job, state=ImportState.CANCELLED, lease_until=None)
