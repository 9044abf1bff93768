"""One regression test per wrong behaviour issue 11 found (SPEC §2, §4), on SQLite and PostgreSQL.

Each test is named after what a user saw; the world is the engine's (tests/engine/helpers.py) or
the HTTP API's, whichever the user met it through.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.service import create_user
from app.campaigns.schemas import FollowUpStep
from app.clock import FixedClock
from app.contacts.log import waiting_reason_label
from app.domain.errors import RATE_LIMIT_EXPLANATION
from app.domain.statuses import (
    ActivityKind,
    CampaignState,
    CampaignType,
    ContactStatus,
    Outcome,
    Role,
)
from app.domain.transitions import ContactEvent
from app.lifecycle.guard import LifecycleBypass, owning, writes_status
from app.models import Contact
from tests.builders import a_campaign, a_workspace, an_api_key
from tests.clients import PASSWORD, Api, login, person
from tests.engine.helpers import at, make_world, sandbox_urls
from tests.engine.test_engine import set_state

K = ActivityKind
S = ContactStatus


def sign_in(session: Session, client: TestClient, api: Api) -> None:
    """A rep of the API's workspace, signed in on `client`."""
    user = create_user(
        session,
        workspace_id=api.workspace.id,
        email=f"rep-{api.workspace.id}@x.io",
        password=PASSWORD,
        role=Role.REP,
    )
    session.flush()
    login(client, user.email)


# ---------------------------------------------------------------- message_sent with a step


def test_a_step_the_integration_sent_is_not_sent_again_and_the_next_step_goes(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        type=CampaignType.EXISTING_CONNECTIONS,
        limits={"daily_follow_ups": 1},
        follow_up_steps=[
            FollowUpStep(delay_days=1, template="First"),
            FollowUpStep(delay_days=2, template="Second"),
        ],
    )
    first, second = world.add(sandbox_urls(2, degree=(1,), replies=False))
    world.tick(at(1))  # one step 1 goes; the cap holds the other
    [held] = [a for a in world.pending(K.FOLLOW_UP) if a.step == 1]
    assert held.step == 1 and held.waiting_reason == "daily_cap"
    waiting = first if held.contact_id == first.id else second

    world.event(waiting, ContactEvent.MESSAGE_SENT, now=at(1, 12), step=1, message="By hand")
    # The pending step 1 is settled, not sent: the integration did it.
    session.refresh(held)
    assert held.outcome is Outcome.SKIPPED and held.detail["reason"] == "done_elsewhere"
    assert world.contact(waiting).follow_ups_sent == 1

    world.ticks(at(day, hour) for day in range(2, 8) for hour in (10, 13))
    sent = world.done(K.FOLLOW_UP, waiting)
    assert [(a.step, a.message) for a in sent] == [(1, "By hand"), (2, "Second")]
    assert world.pending(K.FOLLOW_UP, waiting) == []
    assert world.contact(waiting).follow_ups_sent == 2


def test_reporting_a_step_already_sent_is_409_and_changes_nothing(api: Api) -> None:
    created = api.campaign(
        type="existing_connections", follow_up_steps=[{"delay_days": 1, "template": "Hi"}] * 2
    )
    [contact] = api.add(created["id"], [person(1)]).json()["contacts"]
    url = f"/api/v1/contacts/{contact['id']}"
    assert api.post(f"{url}/events", {"event": "message_sent", "step": 2}).status_code == 200
    before = api.get(f"{url}/activity").json()["items"]
    again = api.post(f"{url}/events", {"event": "message_sent", "step": 1})
    assert again.status_code == 409 and "already sent" in again.json()["detail"]
    assert api.get(f"{url}/activity").json()["items"] == before


# ---------------------------------------------------------------- pause and resume


def test_a_paused_campaign_says_so_and_resuming_explains_again(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, limits={"daily_profile_visits": 1})
    world.add(sandbox_urls(3))
    world.tick(at(0))
    waiting = world.pending(K.PROFILE_VISIT)
    assert len(waiting) == 2 and {a.waiting_reason for a in waiting} == {"daily_cap"}

    set_state(world, CampaignState.PAUSED, at(0, 11))
    session.expire_all()
    for action in world.pending(K.PROFILE_VISIT):
        assert (action.waiting_reason, action.waiting_cap, action.expected_at) == (
            "campaign_paused",
            None,
            None,
        )

    set_state(world, CampaignState.RUNNING, at(0, 12))
    session.expire_all()
    resumed = world.pending(K.PROFILE_VISIT)
    assert {a.waiting_reason for a in resumed} == {"daily_cap"}
    assert {a.waiting_cap for a in resumed} == {"profile_visits"}
    assert sorted(a.expected_at for a in resumed) == [at(1, 9), at(2, 9)]


# ---------------------------------------------------------------- which cap holds an action


@pytest.mark.parametrize(
    ("campaign_type", "limits", "kind", "cap", "label"),
    [
        (
            CampaignType.CONNECTION,
            {"daily_profile_visits": 1},
            K.PROFILE_VISIT,
            "profile_visits",
            "Daily profile visit limit reached",
        ),
        (
            CampaignType.INMAIL,
            {"daily_inmails": 1},
            K.INMAIL,
            "inmails",
            "Daily InMail limit reached",
        ),
        (
            CampaignType.EXISTING_CONNECTIONS,
            {"daily_follow_ups": 1},
            K.FOLLOW_UP,
            "follow_ups",
            "Daily message limit reached",
        ),
    ],
)
def test_each_wait_names_its_own_cap(
    session: Session,
    session_factory: sessionmaker[Session],
    app_client: TestClient,
    campaign_type: CampaignType,
    limits: dict[str, int],
    kind: ActivityKind,
    cap: str,
    label: str,
) -> None:
    world = make_world(
        session,
        session_factory,
        type=campaign_type,
        limits=limits,
        follow_up_steps=[FollowUpStep(delay_days=1, template="Hello")],
    )
    degree = (1,) if campaign_type is CampaignType.EXISTING_CONNECTIONS else (2,)
    contacts = world.add(sandbox_urls(2, degree=degree))
    # Day 0 the visits; day 1 the first message of each (InMails, follow-ups): one goes, one waits.
    world.ticks([at(0)] if campaign_type is CampaignType.CONNECTION else [at(0), at(1)])
    [waiting] = [a for a in world.pending(kind) if a.step in (None, 1)]
    assert (waiting.waiting_reason, waiting.waiting_cap) == ("daily_cap", cap)
    # No invite went today, and no wait says it is the invite limit.
    assert "invite" not in label
    # What the API shows.
    api = Api(
        client=app_client, workspace=world.workspace, token=an_api_key(session, world.workspace)
    )
    session.flush()
    items = api.get(f"/api/v1/contacts/{waiting.contact_id}/activity").json()["items"]
    [shown] = [i for i in items if i["outcome"] == "pending"]
    assert (shown["waiting_cap"], shown["waiting_reason_label"]) == (cap, label)
    assert waiting.contact_id in {c.id for c in contacts}


def test_a_wait_held_by_the_weekly_cap_says_weekly(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        limits={"daily_invites": 5, "weekly_invites": 2},
        connection_template="Hi",
    )
    world.add(sandbox_urls(3), search=True)
    world.ticks([at(0), at(0, 11)])
    [waiting] = world.pending(K.CONNECTION_REQUEST)
    assert (waiting.waiting_reason, waiting.waiting_cap) == ("weekly_cap", "invites")
    assert waiting_reason_label(waiting.waiting_reason, waiting.waiting_cap) == (
        "Weekly invite limit reached"
    )


# ---------------------------------------------------------------- the rate-limit explanation


def test_the_rate_limit_explanation_is_shown_once(
    api: Api, app_client: TestClient, session: Session
) -> None:
    created = api.campaign()
    [contact] = api.add(created["id"], [person(1)]).json()["contacts"]
    url = f"/api/v1/contacts/{contact['id']}"
    api.post(f"{url}/events", {"event": "profile_visited", "degree": 2})
    failed = api.post(
        f"{url}/events",
        {"event": "action_failed", "error_code": "too_many_requests", "message": "Slow down"},
    ).json()
    for message in (
        failed["contact"]["error"]["message"],
        failed["activity"]["error"]["message"],
        api.get(url).json()["error"]["message"],
        api.get(f"{url}/activity").json()["items"][0]["error"]["message"],
    ):
        assert message.count(RATE_LIMIT_EXPLANATION) == 1 and message.startswith("Slow down")

    sign_in(session, app_client, api)
    dialog = app_client.get(f"/contacts/{contact['id']}", headers={"HX-Request": "true"})
    assert dialog.status_code == 200
    assert dialog.text.count("usually the weekly invitation limit") == 1


# ---------------------------------------------------------------- the log's order


def test_the_log_is_newest_first_by_when_things_happened(api: Api, clock: FixedClock) -> None:
    created = api.campaign(follow_up_steps=[{"delay_days": 3, "template": "Hi"}])
    [contact] = api.add(created["id"], [person(1)]).json()["contacts"]
    url = f"/api/v1/contacts/{contact['id']}"
    clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    # An integration's batch, posted on the 16th: each event carries when it happened.
    for event in [
        {"event": "profile_visited", "degree": 2, "occurred_at": "2026-03-02T11:00:00Z"},
        {"event": "invite_sent", "occurred_at": "2026-03-03T09:00:00Z"},
        {"event": "invite_accepted", "occurred_at": "2026-03-09T09:00:00Z"},
        {"event": "message_sent", "step": 1, "occurred_at": "2026-03-14T09:00:00Z"},
        # Reported last, happened between the invite and the acceptance:
        {"event": "action_failed", "error_code": "other", "occurred_at": "2026-03-05T09:00:00Z"},
    ]:
        assert api.post(f"{url}/events", event).status_code == 200, event
    items = api.get(f"{url}/activity").json()["items"]
    done = [i for i in items if i["outcome"] != "pending"]
    times = [i["completed_at"] or i["created_at"] for i in done]
    assert times == sorted(times, reverse=True)
    # The follow-up of the 14th is above the acceptance of the 9th; the late error sits in between
    # the acceptance and the invite.
    kinds = [(i["kind"], i["status_to"]) for i in done]
    assert kinds.index(("follow_up", None)) < kinds.index(("event", "connected"))
    assert done[kinds.index(("event", "connected")) + 1]["error"]["code"] == "other"


# ---------------------------------------------------------------- acceptance


def test_acceptance_counts_only_people_the_campaign_invited(
    api: Api, app_client: TestClient, session: Session
) -> None:
    # Three invited, two accepted; one was already connected when visited.
    created = api.campaign()
    contacts = api.add(created["id"], [person(i) for i in range(4)]).json()["contacts"]
    for i, contact in enumerate(contacts):
        url = f"/api/v1/contacts/{contact['id']}/events"
        if i == 3:
            assert api.post(url, {"event": "profile_visited", "degree": 1}).status_code == 200
            continue
        api.post(url, {"event": "profile_visited", "degree": 2})
        api.post(url, {"event": "invite_sent"})
        if i < 2:
            api.post(url, {"event": "invite_accepted"})
    stats = api.get(f"/api/v1/campaigns/{created['id']}").json()["stats"]
    assert (stats["invited"], stats["accepted"], stats["already_connected"]) == (3, 2, 1)
    assert stats["acceptance_rate"] == pytest.approx(2 / 3)
    assert stats["connected"] == 3

    # The overview says the same: 67% (2 of 3), the already connected apart.
    sign_in(session, app_client, api)
    overview = app_client.get("/")
    assert '67% <span class="muted">(2 of 3)</span>' in overview.text


# ---------------------------------------------------------------- re-invites end


def test_re_invites_stop_after_max_reinvites_and_the_contact_says_so(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi", max_reinvites=1)
    world.workspace.withdraw_after_days = 7
    [contact] = world.add(sandbox_urls(1, accepts=False), search=True)
    # Half a year of working days: invite, withdraw, wait three weeks, invite once more, withdraw.
    world.ticks(at(day, 10) for day in range(0, 182, 1) if at(day).isoweekday() <= 5)
    invites = world.done(K.CONNECTION_REQUEST, contact)
    assert len(invites) == 2
    assert world.statuses([contact]) == [S.WITHDRAWN]
    last = world.done(K.WITHDRAW_INVITE, contact)[-1]
    assert last.detail["reinvite"] is False
    assert world.contact(contact).invites_sent == 2
    assert world.pending(K.CONNECTION_REQUEST, contact) == []


# ---------------------------------------------------------------- the error matrix


@pytest.mark.parametrize("code", ["email_required", "message_too_long"])
def test_an_invite_error_on_an_existing_connection_is_409_and_changes_nothing(
    api: Api, code: str
) -> None:
    created = api.campaign(type="existing_connections")
    [contact] = api.add(created["id"], [person(1)]).json()["contacts"]
    url = f"/api/v1/contacts/{contact['id']}"
    before = (api.get(url).json(), api.get(f"{url}/activity").json())
    refused = api.post(f"{url}/events", {"event": "action_failed", "error_code": code})
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "invalid_transition"
    assert code in refused.json()["detail"]
    assert (api.get(url).json(), api.get(f"{url}/activity").json()) == before
    # The errors that fit any action are recorded.
    ok = api.post(f"{url}/events", {"event": "action_failed", "error_code": "other"})
    assert ok.status_code == 200 and ok.json()["contact"]["status"] == "connected"


# ---------------------------------------------------------------- a moot leased action


def test_the_late_result_of_a_leased_action_made_moot_is_409_moot(api: Api) -> None:
    sender = api.sender()
    created = api.campaign(sender_id=sender["id"])
    [contact] = api.add(created["id"], [person(1)]).json()["contacts"]
    leased = api.post(f"/api/v1/senders/{sender['id']}/actions/lease", {"limit": 10})
    [visit] = leased.json()["items"]
    assert visit["kind"] == "profile_visit"
    # Meanwhile the integration reports the visit itself.
    url = f"/api/v1/contacts/{contact['id']}"
    assert api.post(f"{url}/events", {"event": "profile_visited", "degree": 2}).status_code == 200
    late = api.post(
        f"/api/v1/actions/{visit['id']}/result",
        {"lease_token": visit["lease_token"], "outcome": "success", "degree": 3},
    )
    assert late.status_code == 409 and late.json()["code"] == "moot", late.text
    assert api.get(url).json()["status"] == "not_connected"
    [entry] = [i for i in api.get(f"{url}/activity").json()["items"] if i["id"] == visit["id"]]
    assert entry["outcome"] == "skipped" and entry["detail"]["reason"] == "done_elsewhere"
    # Never leased again.
    again = api.post(f"/api/v1/senders/{sender['id']}/actions/lease", {"limit": 10})
    assert visit["id"] not in {i["id"] for i in again.json()["items"]}


# ---------------------------------------------------------------- the guard


def test_a_status_write_outside_the_owner_fails(session: Session) -> None:
    world_workspace = a_workspace(session)
    campaign = a_campaign(session, world_workspace)
    session.flush()
    with pytest.raises(LifecycleBypass):
        session.execute(
            insert(Contact).values(
                workspace_id=world_workspace.id,
                campaign_id=campaign.id,
                linkedin_url="https://www.linkedin.com/in/sneaky",
                status=S.CONNECTED,
            )
        )
    with pytest.raises(LifecycleBypass):
        session.execute(update(Contact).values(status=S.CONNECTED))
    with pytest.raises(LifecycleBypass):
        session.execute(text("UPDATE contacts SET status = 'connected'"))
    # A write in a WITH query (PostgreSQL's data-modifying CTEs) is seen too.
    with pytest.raises(LifecycleBypass):
        session.execute(
            text(
                "WITH changed AS (UPDATE contacts SET first_name = 'x', status = 'connected' "
                "WHERE id = -1 RETURNING id) SELECT count(*) FROM changed"
            )
        )
    assert not writes_status(
        "WITH changed AS (UPDATE contacts SET first_name = 'x' WHERE status = 'connected' "
        "RETURNING id) SELECT count(*) FROM changed"
    )
    # Inside the owner the same statement runs; other columns are anyone's to write.
    with owning():
        session.execute(update(Contact).where(Contact.id == -1).values(status=S.CONNECTED))
    session.execute(update(Contact).where(Contact.id == -1).values(first_name="x"))
