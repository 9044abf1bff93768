"""The contact dialog's own URL (Back, Forward, a copied link, no JavaScript) and the phone menu."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from app.domain.statuses import ContactStatus
from app.models import Contact
from tests.e2e.conftest import (
    Demo,
    at_query,
    document_kept,
    login,
    mark_document,
    query_of,
    row_ids,
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
