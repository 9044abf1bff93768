"""Roles, CSRF, hostile contact fields and sign-out, in a real browser against a real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from app.accounts.security import SESSION_COOKIE
from app.domain.statuses import CampaignState, CampaignType
from app.models import Campaign
from tests.e2e.conftest import (
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    HOSTILE_TEMPLATE,
    JS_URL,
    Demo,
    at_query,
    close_dialog,
    login,
    session_cookie,
)
from tests.live import committed

pytestmark = pytest.mark.e2e


def campaign_state(demo: Demo, campaign_id: int) -> CampaignState:
    with committed(demo.engine) as session:
        return session.scalars(select(Campaign.state).where(Campaign.id == campaign_id)).one()


# ------------------------------------------------------------------ roles


def test_a_rep_sees_no_admin_controls_and_gets_403_on_admin_urls(
    fresh_page: Page, demo: Demo
) -> None:
    page = fresh_page
    login(page, demo, demo.rep_email)
    expect(page.locator(".who .role")).to_have_text("rep")
    expect(page.locator("article.card")).to_have_count(len(demo.campaign_ids))
    expect(page.locator("[data-admin]")).to_have_count(0)

    page.goto(demo.at(f"/campaigns/{demo.campaign_id}"))
    expect(page.locator("table.contacts tbody tr[data-contact-id]").first).to_be_visible()
    expect(page.locator("[data-admin]")).to_have_count(0)
    expect(page.locator("input[name=contact_id]")).to_have_count(0)
    expect(page.locator(f"form[action='/campaigns/{demo.campaign_id}/state']")).to_have_count(0)

    for path in ("/admin/users", "/admin/api-keys", "/admin/workspace", "/campaigns/new"):
        response = page.goto(demo.at(path))
        assert response is not None
        assert response.status == 403, path
        assert "text/html" in response.headers["content-type"]
        expect(page.locator(".error-page[data-status='403'] h1")).to_be_visible()
        expect(page.locator("table")).to_have_count(0)

    # Even with a valid CSRF token, a rep cannot change a campaign.
    page.goto(demo.at("/"))
    token = page.locator("form[action='/logout'] input[name=csrf_token]").input_value()
    before = campaign_state(demo, demo.campaign_id)
    response = page.request.post(
        demo.at(f"/campaigns/{demo.campaign_id}/state"),
        form={"state": "paused", "csrf_token": token},
        max_redirects=0,
    )
    assert response.status == 403
    assert campaign_state(demo, demo.campaign_id) is before


def test_the_admin_sees_the_admin_controls(admin_page: Page, demo: Demo) -> None:
    """The other side of the rep test: the selectors it counts do exist for an admin."""
    page = admin_page
    page.goto(demo.at("/"))
    # Users, API keys, webhooks, the audit log, settings.
    expect(page.locator("nav [data-admin]")).to_have_count(5)
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}"))
    expect(page.locator(".actions[data-admin] button[name=state]").first).to_be_visible()
    expect(page.locator("input[name=contact_id]").first).to_be_visible()
    response = page.goto(demo.at("/admin/users"))
    assert response is not None and response.status == 200
    expect(page.locator("body")).to_contain_text(demo.rep_email)


# ------------------------------------------------------------------ CSRF


def test_a_form_posted_without_its_csrf_token_is_refused(admin_page: Page, demo: Demo) -> None:
    page = admin_page
    campaign_id = demo.campaign_ids[CampaignType.GROUPS_EVENTS]
    page.goto(demo.at(f"/campaigns/{campaign_id}"))
    assert campaign_state(demo, campaign_id) is CampaignState.RUNNING
    url = demo.at(f"/campaigns/{campaign_id}/state")

    # page.request shares the browser's cookies: the session is there, only the token is not.
    missing = page.request.post(url, form={"state": "paused"}, max_redirects=0)
    assert missing.status == 403
    assert "expired" in missing.text()
    wrong = page.request.post(
        url, form={"state": "paused", "csrf_token": "not-the-token"}, max_redirects=0
    )
    assert wrong.status == 403
    wrong_header = page.request.post(
        url, form={"state": "paused"}, headers={"X-CSRF-Token": "nope"}, max_redirects=0
    )
    assert wrong_header.status == 403
    assert campaign_state(demo, campaign_id) is CampaignState.RUNNING

    # Control: the page's own form, with its token, does pause the campaign.
    page.locator(".actions[data-admin] button[name=state][value=paused]").click()
    page.wait_for_url(demo.at(f"/campaigns/{campaign_id}"))
    expect(page.locator("h1 .badge")).to_have_text("paused")
    assert campaign_state(demo, campaign_id) is CampaignState.PAUSED
    page.locator(".actions[data-admin] button[name=state][value=running]").click()
    expect(page.locator("h1 .badge")).to_have_text("running")
    assert campaign_state(demo, campaign_id) is CampaignState.RUNNING


# ------------------------------------------------------------------ hostile input


def no_xss(page: Page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_hostile_contact_fields_render_as_plain_text(admin_page: Page, demo: Demo) -> None:
    page = admin_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}?sort=-id"))
    row = page.locator(f"tr[data-contact-id='{demo.hostile_id}']")
    expect(row).to_be_visible()
    expect(row.locator("a.contact-link")).to_contain_text(HOSTILE_SCRIPT)
    expect(row.locator("td").nth(2)).to_have_text(HOSTILE_IMG)
    expect(row.locator("td").nth(3)).to_have_text(HOSTILE_TEMPLATE)
    assert row.locator("script, img").count() == 0
    no_xss(page)

    # The dialog is swapped in by htmx: still text, never markup.
    row.locator("a.contact-link").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#contact-title")).to_contain_text(HOSTILE_SCRIPT)
    expect(dialog.locator(".contact-head .meta")).to_contain_text(HOSTILE_IMG)
    expect(dialog.locator(".contact-head .meta")).to_contain_text(HOSTILE_TEMPLATE)
    expect(dialog.locator(".contact-head")).not_to_contain_text("49")
    assert dialog.locator("script, img").count() == 0
    no_xss(page)
    close_dialog(page)

    # The contact's own page, and its <title>.
    page.goto(demo.at(f"/contacts/{demo.hostile_id}"))
    head = page.locator("section.contact-page .contact-head")
    expect(head.locator("#contact-title")).to_contain_text(HOSTILE_SCRIPT)
    expect(head).to_contain_text(HOSTILE_IMG)
    expect(head).to_contain_text(HOSTILE_TEMPLATE)
    assert head.locator("script, img").count() == 0
    assert HOSTILE_SCRIPT in page.title()
    no_xss(page)
    page.wait_for_timeout(200)  # give a (hypothetical) broken image's onerror time to fire
    no_xss(page)
    assert errors == []


def test_a_javascript_profile_url_is_shown_as_text_never_as_a_link(
    admin_page: Page, demo: Demo
) -> None:
    page = admin_page
    page.goto(demo.at(f"/campaigns/{demo.campaign_id}?sort=-id"))
    row = page.locator(f"tr[data-contact-id='{demo.js_url_id}']")
    expect(row).to_be_visible()
    expect(row.locator("a.contact-link")).to_have_attribute("href", f"/contacts/{demo.js_url_id}")
    assert page.locator("a[href^='javascript' i]").count() == 0

    row.locator("a.contact-link").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator(".contact-head")).to_contain_text(JS_URL)
    assert dialog.locator("a[href^='javascript' i]").count() == 0
    expect(dialog.get_by_text(JS_URL, exact=True)).to_have_count(1)
    assert dialog.get_by_text(JS_URL, exact=True).evaluate("e => e.closest('a')") is None
    close_dialog(page)

    page.goto(demo.at(f"/contacts/{demo.js_url_id}"))
    head = page.locator("section.contact-page .contact-head")
    expect(head).to_contain_text(JS_URL)
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert head.get_by_text(JS_URL, exact=True).evaluate("e => e.closest('a')") is None

    # A normal profile URL is a link (so the check above is not vacuous).
    page.goto(demo.at(f"/contacts/{demo.hostile_id}"))
    link = page.locator("section.contact-page .contact-head a[href^='https://www.linkedin.com/']")
    expect(link).to_have_attribute("href", "https://www.linkedin.com/in/hostile-fields")


# ------------------------------------------------------------------ sign-out


def test_after_logout_the_old_session_cookie_no_longer_works(
    new_context: Callable[..., BrowserContext], demo: Demo
) -> None:
    first = new_context()
    page = first.new_page()
    login(page, demo, demo.admin_email)
    cookie = session_cookie(first)

    # Control: the copied cookie does sign another browser in while the session lives.
    twin = new_context()
    twin.add_cookies([cookie])  # type: ignore[list-item]
    twin_page = twin.new_page()
    twin_page.goto(demo.at("/"))
    expect(twin_page.locator("h1")).to_have_text("Campaigns")
    twin.close()

    page.locator("form[action='/logout'] button[type=submit]").click()
    page.wait_for_url(demo.at("/login"))
    assert not [c for c in first.cookies() if c["name"] == SESSION_COOKIE]

    replay = new_context()
    replay.add_cookies([cookie])  # type: ignore[list-item]
    replay_page = replay.new_page()
    replay_page.goto(demo.at("/"))
    replay_page.wait_for_url(at_query(demo, "/login", next="/"))
    expect(replay_page.locator("input[name=password]")).to_be_visible()
    response = replay_page.request.get(demo.at(f"/contacts/{demo.hostile_id}"), max_redirects=0)
    assert response.status == 303
    assert response.headers["location"].startswith("/login")
