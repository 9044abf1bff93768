"""The contacts' pages: a campaign's contact table and its htmx fragment, a contact's log as a
dialog and as a page, hostile fields rendered as text, and the CSV export."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.clock import FixedClock
from app.contacts.schemas import ContactEventIn
from app.contacts.service import add_contacts, report_event
from app.models import Contact
from tests.clients import Team, login

HX = {"HX-Request": "true"}


def test_campaign_page_and_its_htmx_fragment(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    add_contacts(
        session,
        workspace_id=team.workspace.id,
        campaign_id=team.campaign.id,
        items=[
            {
                "linkedin_url": f"linkedin.com/in/someone-{i}",
                "company": "Globex" if i % 2 else "Acme",
            }
            for i in range(60)
        ],
        now=clock(),
    )
    session.flush()
    login(app_client, team.rep_email)
    url = f"/campaigns/{team.campaign.id}"
    full = app_client.get(url)
    assert full.template.name == "campaigns/campaign.html"  # type: ignore[attr-defined]
    assert len(full.context["rows"]) == 50 and full.context["next_query"]  # type: ignore[attr-defined]
    fragment = app_client.get(f"{url}?q=globex", headers=HX)
    assert fragment.text.lstrip().startswith('<section id="contacts"')
    assert "<html" not in fragment.text and fragment.text.count("data-contact-id") == 30
    nxt = app_client.get(f"{url}?{full.context['next_query']}")  # type: ignore[attr-defined]
    assert len(nxt.context["rows"]) == 10 and nxt.context["prev_query"]  # type: ignore[attr-defined]
    back = app_client.get(f"{url}?{nxt.context['prev_query']}")  # type: ignore[attr-defined]
    assert [r["contact"].id for r in back.context["rows"]] == [
        r["contact"].id for r in full.context["rows"]
    ]  # type: ignore[attr-defined]
    assert app_client.get(f"{url}?status=bogus").status_code == 422


def test_contact_log_as_dialog_and_as_page(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    result = add_contacts(
        session,
        workspace_id=team.workspace.id,
        campaign_id=team.campaign.id,
        items=[{"linkedin_url": "linkedin.com/in/jane", "first_name": "Jane"}],
        now=clock(),
    )
    contact = session.get_one(Contact, result.created[0]["id"])
    report_event(
        session,
        workspace_id=team.workspace.id,
        contact_id=contact.id,
        data=ContactEventIn(event="profile_visited", degree=2),
        now=clock(),
    )
    report_event(
        session,
        workspace_id=team.workspace.id,
        contact_id=contact.id,
        data=ContactEventIn(event="action_failed", error_code="email_required"),
        now=clock(),
    )
    session.flush()
    login(app_client, team.rep_email)
    dialog = app_client.get(f"/contacts/{contact.id}", headers=HX)
    assert (
        dialog.text.lstrip().startswith("<dialog")
        and "Email required" in dialog.text
        and "Success" in dialog.text
    )
    full = app_client.get(f"/contacts/{contact.id}")
    assert full.template.name == "contacts/contact.html" and "<html" in full.text  # type: ignore[attr-defined]
    assert [a.kind.value for a in full.context["activity"]] == [
        "connection_request",
        "profile_visit",
        "import",
    ]  # type: ignore[attr-defined]


def test_hostile_contact_fields_render_as_text(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    result = add_contacts(
        session,
        workspace_id=team.workspace.id,
        campaign_id=team.campaign.id,
        items=[
            {
                "linkedin_url": "linkedin.com/in/evil",
                "first_name": "<script>alert(1)</script>",
                "company": "<img src=x onerror=alert(2)>",
                "title": "{{7*7}}",
            }
        ],
        now=clock(),
    )
    contact = session.get_one(Contact, result.created[0]["id"])
    contact.linkedin_url = "javascript:alert(1)"
    session.flush()
    login(app_client, team.rep_email)
    for html in (
        app_client.get(f"/campaigns/{team.campaign.id}").text,
        app_client.get(f"/contacts/{contact.id}").text,
    ):
        assert (
            "<script>alert(1)</script>" not in html
            and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        )
        assert "<img src=x" not in html
        assert "{{7*7}}" in html and ">49<" not in html
        assert 'href="javascript:' not in html


def test_csv_export_neutralises_formulas(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    add_contacts(
        session,
        workspace_id=team.workspace.id,
        campaign_id=team.campaign.id,
        items=[
            {
                "linkedin_url": "linkedin.com/in/formula",
                "first_name": '=HYPERLINK("http://x")',
                "company": "+1",
                "title": "@SUM(A1)",
            },
            {"linkedin_url": "linkedin.com/in/plain", "first_name": "Plain", "company": "-minus"},
        ],
        now=clock(),
    )
    session.flush()
    login(app_client, team.rep_email)
    response = app_client.get(f"/campaigns/{team.campaign.id}/export.csv?q=formula")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert (
        rows[0]["first_name"] == '\'=HYPERLINK("http://x")'
        and rows[0]["company"] == "'+1"
        and rows[0]["title"] == "'@SUM(A1)"
    )
    everyone = list(
        csv.DictReader(
            io.StringIO(app_client.get(f"/campaigns/{team.campaign.id}/export.csv").text)
        )
    )
    assert {r["company"] for r in everyone} == {"'+1", "'-minus"}


def test_csv_export_streams_every_row_in_the_lists_order(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    """More rows than one read batch (2,000), newest first with sort=-id, filtered by status: the
    rows are read in short sessions while the response streams, none lost or repeated."""
    for start in (0, 1000, 2000):
        add_contacts(
            session,
            workspace_id=team.workspace.id,
            campaign_id=team.campaign.id,
            items=[
                {"linkedin_url": f"linkedin.com/in/export-{i}", "first_name": f"E{i}"}
                for i in range(start, start + 1000)
            ],
            now=clock(),
        )
    session.flush()
    login(app_client, team.rep_email)
    url = f"/campaigns/{team.campaign.id}/export.csv?status=not_verified&sort=-id"
    rows = list(csv.DictReader(io.StringIO(app_client.get(url).text)))
    ids = [int(r["id"]) for r in rows]
    assert len(ids) == 3000 and ids == sorted(ids, reverse=True)
    assert {r["status"] for r in rows} == {"Not verified"}
    assert rows[-1]["first_name"] == "E0"


def test_csv_export_refuses_a_nul_in_the_search_before_it_starts(
    app_client: TestClient, team: Team
) -> None:
    """The first batch is read before the response starts: a refused filter is a 422 page, not a
    200 whose file stops short."""
    login(app_client, team.rep_email)
    response = app_client.get(f"/campaigns/{team.campaign.id}/export.csv?q=a%00b")
    assert response.status_code == 422
    assert not response.headers["content-type"].startswith("text/csv")
