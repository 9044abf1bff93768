"""Dashboard pages: templates and context, htmx fragments, and the security of §8."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.security import SESSION_COOKIE
from app.campaigns.schemas import CampaignUpdate
from app.campaigns.service import update_campaign
from app.clock import FixedClock
from app.contacts.schemas import ContactEventIn
from app.contacts.service import add_contacts, report_event
from app.dashboard.service import ClosedDays
from app.domain.statuses import ActivityKind, CampaignState, Outcome
from app.models import Activity, Campaign, Contact
from tests.builders import a_campaign
from tests.clients import PASSWORD, Team, login

HX = {"HX-Request": "true"}


def test_pages_need_a_session(app_client: TestClient) -> None:
    response = app_client.get("/campaigns/1?status=connected", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcampaigns%2F1%3Fstatus%3Dconnected"
    hx = app_client.get("/", headers=HX, follow_redirects=False)
    assert hx.headers.get("HX-Redirect", "").startswith("/login")


def test_login_sets_a_fresh_httponly_session_and_logout_revokes_it(
    app_client: TestClient, team: Team
) -> None:
    app_client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    csrf = login(app_client, team.admin_email)
    token = next(
        c.value
        for c in app_client.cookies.jar
        if c.name == SESSION_COOKIE and c.value != "planted-by-an-attacker"
    )
    assert token and token != "planted-by-an-attacker" and len(token) >= 32
    set_cookie = app_client.post(
        "/login", data={}, follow_redirects=False
    )  # no form token: refused
    assert set_cookie.status_code == 403
    assert app_client.get("/", follow_redirects=False).status_code == 200
    app_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    app_client.cookies.clear()
    app_client.cookies.set(SESSION_COOKIE, token)
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_session_cookie_flags(app_client: TestClient, team: Team) -> None:
    form = app_client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = app_client.post(
        "/login",
        data={"email": team.admin_email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header


def test_wrong_password_then_throttling(app_client: TestClient, team: Team) -> None:
    for _ in range(5):
        form = app_client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        bad = app_client.post(
            "/login", data={"email": team.admin_email, "password": "nope-nope", "csrf_token": token}
        )
        assert bad.status_code == 401 and "Wrong email or password" in bad.text
    form = app_client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    throttled = app_client.post(
        "/login", data={"email": team.admin_email, "password": PASSWORD, "csrf_token": token}
    )
    assert throttled.status_code == 429 and "Try again" in throttled.text


def test_idle_sessions_expire(app_client: TestClient, team: Team, clock: FixedClock) -> None:
    login(app_client, team.rep_email)
    clock.advance(minutes=119)
    assert app_client.get("/", follow_redirects=False).status_code == 200
    clock.advance(minutes=121)
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_security_headers_on_every_page(app_client: TestClient, team: Team) -> None:
    for response in (
        app_client.get("/login"),
        app_client.get("/api/docs"),
        app_client.get("/healthz"),
    ):
        csp = response.headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "unsafe-inline" not in csp
            and "frame-ancestors 'none'" in csp
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in app_client.get("/login").text  # no inline script anywhere


def test_overview_template_and_counts(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    add_contacts(
        session,
        workspace_id=team.workspace.id,
        campaign_id=team.campaign.id,
        items=[{"linkedin_url": f"linkedin.com/in/person-{i}"} for i in range(3)],
        now=clock(),
    )
    session.flush()
    login(app_client, team.rep_email)
    response = app_client.get("/")
    assert response.template.name == "dashboard/overview.html"  # type: ignore[attr-defined]
    cards = response.context["cards"]  # type: ignore[attr-defined]
    assert [c.campaign.name for c in cards] == ["Berlin CTOs"]
    assert cards[0].stats.not_verified == 3
    assert (
        f'data-count="not_verified"><a href="/campaigns/{team.campaign.id}?status=not_verified">3</a>'
        in response.text
    )
    assert len(response.context["days"]) == 30  # type: ignore[attr-defined]


def test_overview_keeps_archived_campaigns_behind_a_link(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    old = a_campaign(session, team.workspace, name="Summer push", running=True, now=clock())
    update_campaign(
        session,
        workspace_id=team.workspace.id,
        campaign_id=old.id,
        data=CampaignUpdate(state=CampaignState.ARCHIVED),
        now=clock(),
    )
    session.flush()
    login(app_client, team.rep_email)
    live = app_client.get("/")
    assert [c.campaign.name for c in live.context["cards"]] == ["Berlin CTOs"]  # type: ignore[attr-defined]
    assert '<a href="/?archived=true">1 archived campaign →</a>' in live.text
    shelf = app_client.get("/?archived=true")
    assert [c.campaign.name for c in shelf.context["cards"]] == ["Summer push"]  # type: ignore[attr-defined]
    assert "Archived campaigns" in shelf.text and "archived campaign →" not in shelf.text
    page = app_client.get(f"/campaigns/{old.id}")  # its breadcrumb leads back to the shelf
    assert '<a href="/?archived=true">Archived campaigns</a>' in page.text


def test_activity_chart_and_table_show_completed_and_pending_actions(
    app_client: TestClient, team: Team, session: Session, clock: FixedClock
) -> None:
    """The chart counts completed actions per UTC day (events and pending ones aside); the table
    shows each contact's last completed action and why its next one waits."""
    created = add_contacts(
        session,
        workspace_id=team.workspace.id,
        campaign_id=team.campaign.id,
        items=[{"linkedin_url": "linkedin.com/in/charted"}],
        now=clock(),
    ).created[0]
    contact = session.get_one(Contact, created["id"])
    today = clock().replace(hour=0, minute=0, second=0, microsecond=0)

    def action(kind: ActivityKind, outcome: Outcome, at: datetime | None, **kw: object) -> None:
        session.add(
            Activity(
                workspace_id=team.workspace.id,
                contact_id=contact.id,
                campaign_id=team.campaign.id,
                kind=kind,
                outcome=outcome,
                created_at=at or clock(),
                completed_at=at,
                **kw,
            )
        )

    invite, follow_up = ActivityKind.CONNECTION_REQUEST, ActivityKind.FOLLOW_UP
    action(invite, Outcome.SUCCESS, today - timedelta(days=30))  # before the chart's first day
    action(invite, Outcome.SUCCESS, today - timedelta(days=29))  # its first day, at midnight
    action(invite, Outcome.SUCCESS, today - timedelta(seconds=1))  # yesterday, 23:59:59
    action(invite, Outcome.ERROR, today + timedelta(seconds=1))
    action(follow_up, Outcome.SUCCESS, today + timedelta(hours=9))
    action(ActivityKind.EVENT, Outcome.SUCCESS, today + timedelta(hours=9, minutes=30))
    action(follow_up, Outcome.PENDING, None, waiting_reason="daily_cap", waiting_cap="follow_ups")
    session.flush()
    login(app_client, team.rep_email)

    days = app_client.get("/").context["days"]  # type: ignore[attr-defined]
    assert [(d.day, d.success, d.error) for d in days if d.success or d.error] == [
        (days[0].day, 1, 0),
        ((today - timedelta(days=1)).date(), 1, 0),
        (today.date(), 1, 1),
    ]
    assert days[0].day == (today - timedelta(days=29)).date() and days[-1].day == today.date()

    rows = app_client.get(f"/campaigns/{team.campaign.id}").context["rows"]  # type: ignore[attr-defined]
    assert [(r["last"].kind, r["next"].kind, r["next_label"]) for r in rows] == [
        (follow_up, follow_up, "Daily message limit reached")  # its own cap, not the invites'
    ]

    # Finished days are remembered, today is counted afresh: a new action today shows at once; a
    # change to a past day shows when the memo's entry expires, or when the day turns.
    action(follow_up, Outcome.ERROR, today + timedelta(hours=10))
    action(invite, Outcome.SUCCESS, today - timedelta(hours=2))  # yesterday, reported late
    session.flush()

    def chart() -> list[tuple[int, int]]:
        return [(d.success, d.error) for d in app_client.get("/").context["days"]]  # type: ignore[attr-defined]

    assert chart()[-2:] == [(1, 0), (1, 2)]
    app_client.app.state.closed_days = ClosedDays(ttl_seconds=0)  # type: ignore[attr-defined]
    assert chart()[-2:] == [(2, 0), (1, 2)]
    clock.advance(days=1)
    login(app_client, team.rep_email)  # a day idle ended the session
    assert chart()[-3:] == [(2, 0), (1, 2), (0, 0)]


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


def test_reps_get_no_admin_controls_and_403_on_admin_urls(
    app_client: TestClient, team: Team
) -> None:
    login(app_client, team.rep_email)
    for url in ("/", f"/campaigns/{team.campaign.id}", "/senders"):
        assert "data-admin" not in app_client.get(url).text
    for url in (
        "/admin/users",
        "/admin/api-keys",
        "/campaigns/new",
        f"/campaigns/{team.campaign.id}/edit",
    ):
        response = app_client.get(url)
        assert response.status_code == 403 and "Only an admin" in response.text


def test_forms_without_csrf_token_are_refused(
    app_client: TestClient, team: Team, session: Session
) -> None:
    csrf = login(app_client, team.admin_email)
    url = f"/campaigns/{team.campaign.id}/state"
    refused = app_client.post(url, data={"state": "running"}, follow_redirects=False)
    assert refused.status_code == 403
    session.refresh(team.campaign)
    assert team.campaign.state.value == "draft"
    wrong = app_client.post(
        url, data={"state": "running", "csrf_token": "x" + csrf}, follow_redirects=False
    )
    assert wrong.status_code == 403
    ok = app_client.post(url, data={"state": "running", "csrf_token": csrf}, follow_redirects=False)
    assert ok.status_code == 303
    session.refresh(team.campaign)
    assert team.campaign.state.value == "running"


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


def test_admin_manages_users_and_keys(app_client: TestClient, team: Team) -> None:
    csrf = login(app_client, team.admin_email)
    keys = app_client.post("/admin/api-keys", data={"csrf_token": csrf, "name": "CRM"})
    token = re.search(r'id="new-token">(ctk_[^<]+)<', keys.text)
    assert token and keys.headers["cache-control"] == "no-store"
    assert token.group(1) not in app_client.get("/admin/api-keys").text  # shown once
    added = app_client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "new@x.io", "password": "short", "role": "rep"},
    )
    assert added.status_code == 422 and "at least 8" in added.text


@pytest.mark.parametrize("path", ["/senders"])
def test_rep_reads_senders_admin_edits(app_client: TestClient, team: Team, path: str) -> None:
    csrf = login(app_client, team.rep_email)
    assert app_client.get(path).status_code == 200
    refused = app_client.post(
        f"/senders/{team.campaign.sender_id}", data={"csrf_token": csrf, "name": "x"}
    )
    assert refused.status_code == 403


def test_sender_edit_by_admin(app_client: TestClient, team: Team, session: Session) -> None:
    csrf = login(app_client, team.admin_email)
    data = {
        "csrf_token": csrf,
        "name": "Renamed",
        "tier": "premium",
        "timezone": "Europe/Berlin",
        "start": "08:30",
        "end": "17:00",
        "days": ["1", "2", "3"],
        "daily_invites": "10",
        "weekly_invites": "80",
        "daily_profile_visits": "20",
        "daily_follow_ups": "20",
        "daily_inmails": "20",
        "daily_withdrawals": "40",
    }
    ok = app_client.post(f"/senders/{team.campaign.sender_id}", data=data, follow_redirects=False)
    assert ok.status_code == 303
    bad = app_client.post(
        f"/senders/{team.campaign.sender_id}", data={**data, "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422 and "timezone" in bad.text.lower()
    _ = (Campaign, timedelta)
