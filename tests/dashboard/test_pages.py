"""The overview: a card per live campaign (archived ones behind a link) and the activity chart of
the last 30 days."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.campaigns.schemas import CampaignUpdate
from app.campaigns.service import update_campaign
from app.clock import FixedClock
from app.contacts.service import add_contacts
from app.dashboard.service import ClosedDays
from app.domain.statuses import ActivityKind, CampaignState, Outcome
from app.models import Activity, Contact
from tests.builders import a_campaign
from tests.clients import Team, login


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
