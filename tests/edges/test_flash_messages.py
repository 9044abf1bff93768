"""Messages shown after an action come from the server, never from the URL (SPEC §8): the redirect
after a bulk action names a message by its code, and the page words it from its own table."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session

from app.clock import FixedClock
from app.contacts.pages import done_message
from app.contacts.service import add_contacts
from tests.clients import person
from tests.edges.conftest import Admin

BANNER = 'class="flash ok"'
HOSTILE = [
    "<script>alert(document.cookie)</script>",
    "Your account is suspended: call +1 555 0100 to restore it",
    '"><img src=x onerror=alert(1)>',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_flash_from_the_url_is_never_shown(admin: Admin, text: str) -> None:
    cid = admin.campaign.id
    for headers in ({}, {"HX-Request": "true"}):
        response = admin.client.get(
            f"/campaigns/{cid}", params={"flash": text, "done": text}, headers=headers
        )
        assert response.status_code == 200
        assert BANNER not in response.text
        assert "suspended" not in response.text and "alert(" not in response.text


@pytest.mark.parametrize(
    "query",
    [
        {"done": "hacked", "n": "3"},
        {"done": "muted"},  # a count is part of the message: without one, no message
        {"done": "muted", "n": "three"},
        {"done": "muted", "n": "-1"},
        {"done": "muted", "n": "٣"},  # a digit, but not an ASCII one
        {"done": "muted", "n": "1" * 40},
        {"done": "__class__", "n": "1"},
    ],
)
def test_unknown_or_malformed_codes_show_nothing(admin: Admin, query: dict[str, str]) -> None:
    response = admin.client.get(f"/campaigns/{admin.campaign.id}", params=query)
    assert response.status_code == 200
    assert BANNER not in response.text


def test_a_bulk_action_redirects_with_a_code_and_shows_the_servers_message(
    admin: Admin, session: Session, clock: FixedClock
) -> None:
    cid = admin.campaign.id
    add_contacts(
        session,
        workspace_id=admin.campaign.workspace_id,
        campaign_id=cid,
        items=[person(1), person(2)],
        now=clock(),
    )
    session.flush()
    ids = admin.client.get(f"/api/v1/campaigns/{cid}/contacts", headers=admin.auth).json()
    contact_ids = [str(item["id"]) for item in ids["items"]]
    response = admin.client.post(
        f"/campaigns/{cid}/contacts/bulk",
        data={"action": "mute", "contact_id": contact_ids, "csrf_token": admin.csrf, "back": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == f"/campaigns/{cid}"
    assert parse_qs(location.query) == {"done": ["muted"], "n": ["2"]}
    page = admin.client.get(response.headers["location"])
    assert f'<span {BANNER} role="status">2 contact(s) muted</span>' in page.text


def test_nothing_selected_has_its_own_message(admin: Admin) -> None:
    response = admin.client.post(
        f"/campaigns/{admin.campaign.id}/contacts/bulk",
        data={"action": "mute", "csrf_token": admin.csrf, "back": "status=connected"},
        follow_redirects=False,
    )
    location = urlsplit(response.headers["location"])
    assert parse_qs(location.query) == {"status": ["connected"], "done": ["none_selected"]}
    page = admin.client.get(response.headers["location"])
    assert "Select at least one contact first." in page.text


@pytest.mark.parametrize(
    ("done", "n", "skipped", "message"),
    [
        ("withdrawn", "2", "1", "2 withdrawal(s) queued; 1 skipped (no pending invite)"),
        ("withdrawn", "0", None, "0 withdrawal(s) queued"),
        ("muted", "3", None, "3 contact(s) muted"),
        ("unmuted", "1", None, "1 contact(s) unmuted"),
        ("blacklisted", "4", "9", "4 contact(s) blacklisted"),
        ("none_selected", None, None, "Select at least one contact first."),
        ("none_selected", "5", None, "Select at least one contact first."),
        ("withdrawn", "2", "x", "2 withdrawal(s) queued"),
        ("nope", "1", None, None),
        (None, None, None, None),
        ("muted", None, None, None),
    ],
)
def test_done_messages_table(
    done: str | None, n: str | None, skipped: str | None, message: str | None
) -> None:
    assert done_message(done, n, skipped) == message
