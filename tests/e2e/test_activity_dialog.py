"""Clicking a contact opens its activity log in a dialog (no reload); its URL is also a full page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.domain.errors import ERROR_LABELS, ErrorCode
from app.domain.pacing import WAITING_REASON_LABELS, WaitingReason
from app.domain.statuses import ContactStatus, Outcome
from app.models import Activity, Contact
from tests.e2e.conftest import (
    Demo,
    close_dialog,
    document_kept,
    mark_document,
    screenshot,
    watch_errors,
)
from tests.live import committed

pytestmark = pytest.mark.e2e


def error_contact(demo: Demo, code: ErrorCode) -> Contact:
    with committed(demo.engine) as session:
        contact = session.scalars(
            select(Contact)
            .where(Contact.campaign_id == demo.campaign_id, Contact.error_code == code)
            .order_by(Contact.id)
        ).first()
        assert contact is not None, f"the demo has no contact with {code}"
        session.expunge(contact)
    return contact


def pending_contact(demo: Demo) -> tuple[Contact, Activity]:
    with committed(demo.engine) as session:
        row = session.execute(
            select(Contact, Activity)
            .join(Activity, Activity.contact_id == Contact.id)
            .where(
                Contact.campaign_id == demo.campaign_id,
                Activity.outcome == Outcome.PENDING,
                Activity.waiting_reason.is_not(None),
            )
            .order_by(Contact.id)
        ).first()
        assert row is not None, "the demo has no pending action"
        session.expunge_all()
    return row[0], row[1]


def outcomes_newest_first(demo: Demo, contact_id: int) -> list[str]:
    with committed(demo.engine) as session:
        stored = session.scalars(
            select(Activity.outcome)
            .where(Activity.contact_id == contact_id)
            .order_by(Activity.id.desc())
        )
        return [o.value for o in stored] + ["success"]  # the log ends with how it was added


def open_dialog(page: Page, contact_id: int) -> None:
    link = page.locator(f"tr[data-contact-id='{contact_id}'] a.contact-link")
    link.click()
    expect(page.locator("dialog.contact-dialog[open]")).to_be_visible()
    expect(page.locator("dialog[open]")).to_have_attribute("data-url", f"/contacts/{contact_id}")


def close_dialog_with_escape(page: Page, contact_id: int) -> None:
    close_dialog(page)
    expect(page.locator(f"tr[data-contact-id='{contact_id}'] a.contact-link")).to_be_focused()


def test_clicking_a_contact_opens_its_log_in_a_dialog_without_a_reload(
    admin_page: Page, demo: Demo
) -> None:
    page = admin_page
    errors = watch_errors(page)
    contact = error_contact(demo, ErrorCode.EMAIL_REQUIRED)
    assert contact.status is ContactStatus.NOT_CONNECTED
    campaign_url = demo.at(f"/campaigns/{demo.campaign_id}?error=email_required")
    page.goto(campaign_url)
    mark_document(page)

    open_dialog(page, contact.id)
    assert document_kept(page), "opening the log reloaded the page"
    # The campaign page's own URL, its filter kept, now naming the open contact.
    page.wait_for_url(f"{campaign_url}&contact={contact.id}")
    dialog = page.locator("dialog[open]")
    entries = dialog.locator("ol.log > li")
    assert entries.evaluate_all("els => els.map(e => e.dataset.outcome)") == (
        outcomes_newest_first(demo, contact.id)
    )
    error_entry = dialog.locator("li[data-outcome=error]")
    expect(error_entry).to_have_count(1)
    expect(error_entry.locator(".badge")).to_have_text(ERROR_LABELS[ErrorCode.EMAIL_REQUIRED])
    expect(error_entry).to_contain_text("Connection request")
    expect(dialog.locator("li[data-outcome=success] .badge").first).to_have_text("Success")
    expect(dialog.locator("#contact-title")).to_contain_text(
        f"{contact.first_name} {contact.last_name}"
    )
    # Times are rewritten into the viewer's timezone by app.js (the title keeps the ISO instant).
    expect(dialog.locator("time[title]").first).to_be_attached()
    screenshot(page, demo, "dialog", full_page=False)

    close_dialog_with_escape(page, contact.id)
    assert document_kept(page)
    expect(page.locator("dialog")).to_have_count(0)
    assert errors == []


def test_a_pending_entry_says_why_it_waits_and_when_it_should_go_out(
    admin_page: Page, demo: Demo
) -> None:
    page = admin_page
    contact, pending = pending_contact(demo)
    assert pending.waiting_reason is not None and pending.expected_at is not None
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}?q={contact.linkedin_url}"))
    mark_document(page)

    open_dialog(page, contact.id)
    dialog = page.locator("dialog[open]")
    entry = dialog.locator("ol.log > li").first  # newest first: the pending invite
    expect(entry).to_have_attribute("data-outcome", "pending")
    expect(entry.locator(".badge")).to_have_text("Pending")
    expect(entry).to_contain_text("Connection request")
    waiting = entry.locator("p.waiting")
    expect(waiting).to_contain_text(WAITING_REASON_LABELS[WaitingReason(pending.waiting_reason)])
    expect(waiting).to_contain_text("expected")
    expect(waiting.locator("time")).to_have_attribute("datetime", pending.expected_at.isoformat())
    expect(dialog.locator("li[data-outcome=success] .badge").first).to_have_text("Success")
    assert document_kept(page)

    close_dialog_with_escape(page, contact.id)

    # A second contact opens as cleanly as the first (the old dialog is gone, not stacked).
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}?status=not_connected"))
    error = error_contact(demo, ErrorCode.EMAIL_REQUIRED)
    open_dialog(page, contact.id)
    close_dialog_with_escape(page, contact.id)
    open_dialog(page, error.id)
    expect(page.locator("dialog")).to_have_count(1)
    close_dialog_with_escape(page, error.id)


def test_the_contact_url_loaded_directly_renders_the_same_log_as_a_page(
    admin_page: Page, demo: Demo
) -> None:
    page = admin_page
    contact = error_contact(demo, ErrorCode.EMAIL_REQUIRED)
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}?error=email_required"))
    open_dialog(page, contact.id)
    in_dialog = page.locator("dialog[open] ol.log > li").all_inner_texts()
    assert len(in_dialog) >= 3

    response = page.goto(demo.at(f"/contacts/{contact.id}"))
    assert response is not None and response.status == 200
    assert "text/html" in response.headers["content-type"]
    expect(page.locator("dialog")).to_have_count(0)
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator(f"p.crumbs a[href='/campaigns/{demo.campaign_id}']")).to_be_visible()
    on_page = page.locator("section.contact-page ol.log > li").all_inner_texts()
    assert on_page == in_dialog
    expect(page.locator("section.contact-page li[data-outcome=error] .badge")).to_have_text(
        ERROR_LABELS[ErrorCode.EMAIL_REQUIRED]
    )
