"""Sign in, the overview's counts against the database, and the campaign page's filters and pager."""

from __future__ import annotations

from collections import Counter

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.domain.statuses import STATUS_LABELS, ContactStatus
from app.models import Contact
from tests.e2e.conftest import (
    PASSWORD,
    Demo,
    at_query,
    document_kept,
    mark_document,
    screenshot,
    session_cookie,
    wait_for_rows,
    watch_errors,
)
from tests.live import committed

pytestmark = pytest.mark.e2e
PAGE_SIZE = 50


def campaign_contacts(demo: Demo, campaign_id: int) -> list[Contact]:
    with committed(demo.engine) as session:
        rows = list(
            session.scalars(
                select(Contact).where(Contact.campaign_id == campaign_id).order_by(Contact.id)
            )
        )
        session.expunge_all()
    return rows


def matches(contact: Contact, term: str) -> bool:
    """The search's rule: a case-insensitive substring of the name, company, profile URL or email."""
    fields = (contact.first_name, contact.last_name, contact.company, contact.linkedin_url)
    return any(term.lower() in (f or "").lower() for f in (*fields, contact.email))


def shown_count(page: Page, selector: str) -> int:
    return int(page.locator(selector).inner_text().strip().replace(",", ""))


def test_sign_in_through_the_form_and_the_overview_counts_equal_the_database(
    fresh_page: Page, demo: Demo
) -> None:
    page = fresh_page
    errors = watch_errors(page)
    response = page.goto(demo.at("/"))
    # Not signed in: the overview sends the browser to the sign-in form.
    page.wait_for_url(at_query(demo, "/login", next="/"))
    assert response is not None and response.ok
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]
    page.fill("input[name=email]", demo.admin_email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(demo.at("/"))
    expect(page.locator("h1")).to_have_text("Campaigns")
    expect(page.locator(".who")).to_contain_text(demo.admin_email)

    cookie = session_cookie(page.context)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert len(cookie["value"]) >= 22  # ≥ 128 bits, URL-safe base64

    by_campaign: dict[int, Counter[str]] = {}
    for campaign_id in demo.campaign_ids.values():
        contacts = campaign_contacts(demo, campaign_id)
        counted = Counter(c.status.value for c in contacts)
        counted["errors"] = sum(1 for c in contacts if c.error_code is not None)
        by_campaign[campaign_id] = counted

    cards = page.locator("article.card[data-campaign-id]")
    expect(cards).to_have_count(len(demo.campaign_ids))
    assert sum(sum(c[s.value] for s in ContactStatus) for c in by_campaign.values()) == 302
    for campaign_id, counted in by_campaign.items():
        card = f"article.card[data-campaign-id='{campaign_id}']"
        for status in ContactStatus:
            assert shown_count(page, f"{card} [data-count={status.value}]") == counted[status], (
                campaign_id,
                status,
            )
        assert shown_count(page, f"{card} [data-count=errors]") == counted["errors"]
    # The seeded data is varied enough for the comparison to mean something.
    connection = by_campaign[demo.campaign_id]
    assert all(connection[s.value] > 0 for s in ContactStatus), connection
    assert connection["errors"] > 0
    screenshot(page, demo, "overview")
    assert errors == []


def test_status_tab_filters_the_table_and_keeps_the_filter_in_the_url(
    admin_page: Page, demo: Demo
) -> None:
    page = admin_page
    errors = watch_errors(page)
    contacts = campaign_contacts(demo, demo.campaign_id)
    invited = [c.id for c in contacts if c.status is ContactStatus.INVITE_SENT]
    assert 0 < len(invited) <= PAGE_SIZE

    page.goto(demo.at(f"/campaigns/{demo.campaign_id}"))
    wait_for_rows(page, [c.id for c in contacts][:PAGE_SIZE])
    screenshot(page, demo, "campaign")
    tab = page.locator("nav.tabs a[data-tab=invite_sent]")
    expect(tab.locator(".count")).to_have_text(str(len(invited)))
    tab.click()
    page.wait_for_url(at_query(demo, f"/campaigns/{demo.campaign_id}", status="invite_sent"))
    expect(page.locator("nav.tabs a[data-tab=invite_sent]")).to_have_class("active")
    wait_for_rows(page, invited)
    badges = page.locator("table.contacts tbody tr[data-contact-id] .badge[class*=status-]")
    assert set(badges.all_inner_texts()) == {STATUS_LABELS[ContactStatus.INVITE_SENT]}

    # Reloading the URL keeps the filter (it lives in the URL, not in the browser's memory).
    page.reload()
    wait_for_rows(page, invited)
    assert errors == []


def test_search_filters_through_htmx_and_updates_the_url(admin_page: Page, demo: Demo) -> None:
    page = admin_page
    contacts = campaign_contacts(demo, demo.campaign_id)
    term = "globex"
    not_connected = [c for c in contacts if c.status is ContactStatus.NOT_CONNECTED]
    expected = [c.id for c in not_connected if matches(c, term)]
    assert 0 < len(expected) < len(not_connected)

    page.goto(demo.at(f"/campaigns/{demo.campaign_id}?status=not_connected"))
    wait_for_rows(page, [c.id for c in not_connected][:PAGE_SIZE])
    mark_document(page)
    page.locator("form.filters input[name=q]").press_sequentially("Globex", delay=20)
    page.wait_for_url(
        at_query(demo, f"/campaigns/{demo.campaign_id}", status="not_connected", q="Globex")
    )
    wait_for_rows(page, expected)
    assert document_kept(page), "the search reloaded the page instead of swapping the table"
    for company in page.locator("table.contacts tbody tr[data-contact-id] td:nth-child(3)").all():
        assert term in company.inner_text().lower()

    # A term that matches nobody says so.
    page.locator("form.filters input[name=q]").fill("no-such-person-zzz")
    page.wait_for_url(at_query(demo, f"/campaigns/{demo.campaign_id}", q="no-such-person-zzz"))
    wait_for_rows(page, [])
    expect(page.locator("table.contacts tbody")).to_contain_text("No contacts match.")
    assert document_kept(page)


def test_search_swaps_the_table_without_nesting_it(admin_page: Page, demo: Demo) -> None:
    page = admin_page
    contacts = campaign_contacts(demo, demo.campaign_id)
    expected = [c.id for c in contacts if matches(c, "Globex")][:PAGE_SIZE]
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}"))
    page.locator("form.filters input[name=q]").fill("Globex")
    page.wait_for_url(at_query(demo, f"/campaigns/{demo.campaign_id}", q="Globex"))
    wait_for_rows(page, expected)
    assert page.locator("[id=contacts]").count() == 1
    assert page.locator("table.contacts").count() == 1


def test_next_and_previous_pages_come_back_to_the_same_first_page(
    admin_page: Page, demo: Demo
) -> None:
    page = admin_page
    ids = [c.id for c in campaign_contacts(demo, demo.campaign_id)]
    pages = [ids[i : i + PAGE_SIZE] for i in range(0, len(ids), PAGE_SIZE)]
    assert len(pages) >= 3

    page.goto(demo.at(f"/campaigns/{demo.campaign_id}"))
    wait_for_rows(page, pages[0])
    expect(page.locator("nav.pager a[rel=prev]")).to_have_count(0)
    mark_document(page)

    for n in (1, 2):
        page.locator("nav.pager a[rel=next]").first.click()
        page.wait_for_url(lambda u: "cursor=" in u)
        wait_for_rows(page, pages[n])
    for n in (1, 0):
        page.locator("nav.pager a[rel=prev]").first.click()
        page.wait_for_url(lambda u: "before=" in u)
        wait_for_rows(page, pages[n])
    assert document_kept(page), "paging reloaded the page instead of swapping the table"

    # The URL of each page is stable: loading it directly shows the same rows.
    page.reload()
    wait_for_rows(page, pages[0])
    assert page.url.startswith(demo.at(f"/campaigns/{demo.campaign_id}?"))


def test_back_on_the_first_page_there_is_no_previous_link(admin_page: Page, demo: Demo) -> None:
    page = admin_page
    ids = [c.id for c in campaign_contacts(demo, demo.campaign_id)]
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}"))
    page.locator("nav.pager a[rel=next]").first.click()
    wait_for_rows(page, ids[PAGE_SIZE : 2 * PAGE_SIZE])
    page.locator("nav.pager a[rel=prev]").first.click()
    wait_for_rows(page, ids[:PAGE_SIZE])
    expect(page.locator("nav.pager a[rel=next]")).to_have_count(1)
    expect(page.locator("nav.pager a[rel=prev]")).to_have_count(0, timeout=1500)
