"""The campaign editor: unknown placeholders refused, the connection note's length checked against
the campaign's contacts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.clock import FixedClock
from app.contacts.service import add_contacts
from tests.clients import Team, login

HX = {"HX-Request": "true"}


def test_editor_rejects_unknown_placeholders_and_checks_length(
    app_client: TestClient, team: Team
) -> None:
    csrf = login(app_client, team.admin_email)
    form = {
        "csrf_token": csrf,
        "name": "New",
        "type": "connection",
        "sender_id": str(team.campaign.sender_id),
        "connection_template": "Hi {firstname}",
    }
    response = app_client.post("/campaigns/new", data=form)
    assert response.status_code == 422 and "{firstname}" in response.text
    check = app_client.post(
        "/campaigns/note-check", data={**form, "connection_template": "x" * 210}, headers=HX
    )
    assert "210 / 200" in check.text and "over" in check.text
    created = app_client.post(
        "/campaigns/new",
        data={**form, "connection_template": "Hi {first_name}"},
        follow_redirects=False,
    )
    assert created.status_code == 303


def test_editor_counts_the_campaigns_contacts_whose_note_would_be_too_long(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    add_contacts(
        session,
        workspace_id=team.workspace.id,
        campaign_id=team.campaign.id,
        items=[
            {"linkedin_url": "linkedin.com/in/short", "first_name": "Al", "company": "Acme"},
            {"linkedin_url": "linkedin.com/in/long", "first_name": "Al", "company": "C" * 190},
        ],
        now=clock(),
    )
    session.flush()
    csrf = login(app_client, team.admin_email)
    form = {
        "csrf_token": csrf,
        "sender_id": str(team.campaign.sender_id),
        "campaign_id": str(team.campaign.id),
        "connection_template": "Hi {first_name}, I see you work at {company}.",
    }
    check = app_client.post("/campaigns/note-check", data=form, headers=HX)
    assert "1 of this campaign's contacts would exceed the limit" in check.text
    assert 'class="exceeding"' in check.text and "Message too long" in check.text
    assert 'class="note-check warn"' in check.text  # the sample fits, one real contact does not
    fits = app_client.post(
        "/campaigns/note-check", data={**form, "connection_template": "Hi {first_name}"}, headers=HX
    )
    assert "0 of this campaign's contacts would exceed" in fits.text
    assert 'class="exceeding"' not in fits.text
