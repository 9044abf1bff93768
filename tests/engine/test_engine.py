"""The engine at the service level (SPEC §2, §3, §5), driven tick by tick with explicit instants.

Every test runs on SQLite and, when TRACKER_TEST_DATABASE_URL is set, on PostgreSQL. People are
picked by what the deterministic sandbox does with them (degree, acceptance, email required, …),
so outcomes are known in advance.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.campaigns.schemas import CampaignUpdate, FollowUpStep
from app.campaigns.service import update_campaign
from app.contacts.service import queue_manual_withdrawals
from app.domain.actions import BACKOFF, MAX_ATTEMPTS
from app.domain.errors import ErrorCode
from app.domain.statuses import (
    ActivityKind,
    CampaignState,
    CampaignType,
    ContactStatus,
    Outcome,
)
from app.domain.transitions import ContactEvent, InvalidTransition
from app.engine import leasing, sweeps
from app.engine.sandbox import SandboxPerson
from app.models import Activity, BlacklistEntry, Campaign, Contact, SenderAccount
from tests.builders import a_campaign
from tests.engine.helpers import SAT_NOON, World, at, make_world, sandbox_urls
from tests.lifecycle.test_counts import assert_counts_match_a_recount

K = ActivityKind
S = ContactStatus


def local_day(instant: datetime, zone: str = "UTC") -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def in_working_hours(instant: datetime, zone: str = "UTC") -> bool:
    local = instant.astimezone(ZoneInfo(zone))
    return local.isoweekday() <= 5 and time(9) <= local.time() < time(18)


def per_day(actions: list[Activity], zone: str = "UTC") -> Counter[date]:
    return Counter(local_day(a.completed_at, zone) for a in actions if a.completed_at)


# ---------------------------------------------------------------- connection campaigns: pacing


def test_connection_campaign_visits_then_invites_within_daily_and_weekly_caps(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        limits={"daily_profile_visits": 4, "daily_invites": 3, "weekly_invites": 5},
        connection_template="Hi {first_name}, fellow {company} fan here",
    )
    contacts = world.add(sandbox_urls(12))
    names = {c.id: c.first_name for c in contacts}

    # Two weeks and a bit, twice a day, weekends included.
    world.ticks(at(day, hour) for day in range(10) for hour in (10, 15))

    visits = world.done(K.PROFILE_VISIT)
    invites = world.done(K.CONNECTION_REQUEST)
    # Every contact was visited once, four a day, and became verified.
    assert sorted(a.contact_id for a in visits) == sorted(names)
    assert per_day(visits) == {local_day(at(d)): 4 for d in range(3)}
    assert all(a.status_from is S.NOT_VERIFIED and a.status_to is S.NOT_CONNECTED for a in visits)
    # Invites: never more than 3 a day nor 5 in any rolling 7 days; 10 went in the two weeks.
    assert len(invites) == 10
    assert max(per_day(invites).values()) <= 3
    times = sorted(a.completed_at for a in invites)
    for t in times:
        assert sum(1 for u in times if t - timedelta(days=7) < u <= t) <= 5
    # Nothing at weekends or outside 09:00–18:00.
    assert all(in_working_hours(a.completed_at) for a in visits + invites)
    # Each invite carries its rendered note and records the status change.
    for invite in invites:
        assert invite.message == f"Hi {names[invite.contact_id]}, fellow Acme fan here"
        assert (invite.status_from, invite.status_to) == (S.NOT_CONNECTED, S.INVITE_SENT)
        visit = next(v for v in visits if v.contact_id == invite.contact_id)
        assert visit.completed_at < invite.completed_at
    assert Counter(world.statuses(contacts)) == {S.INVITE_SENT: 10, S.NOT_CONNECTED: 2}
    # The two left wait for the weekly window: the first of the last 5 invites leaves it.
    waiting = world.pending(K.CONNECTION_REQUEST)
    assert len(waiting) == 2
    last_five = times[-5:]
    for action in waiting:
        assert action.waiting_reason == "weekly_cap"
        assert action.expected_at == last_five[0] + timedelta(days=7)


def test_nothing_goes_out_at_weekends_or_before_opening_and_pending_says_why(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        limits={"daily_invites": 2, "daily_profile_visits": 2},
        connection_template="Hi {first_name}",
    )
    world.add(sandbox_urls(3), search=True)
    world.add(sandbox_urls(3))
    monday_9 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)

    report = world.tick(SAT_NOON)
    assert report.executed == 0
    invites, visits = world.pending(K.CONNECTION_REQUEST), world.pending(K.PROFILE_VISIT)
    assert len(invites) == 3 and len(visits) == 3
    # The first two of each go at Monday's opening (held by working hours); the third waits a
    # further day for the daily cap, and says so.
    for action in invites + visits:
        first_day = action.expected_at == monday_9
        assert action.waiting_reason == ("working_hours" if first_day else "daily_cap")
    assert sorted(a.expected_at for a in invites) == [monday_9, monday_9, monday_9 + timedelta(1)]
    assert sorted(a.expected_at for a in visits) == [monday_9, monday_9, monday_9 + timedelta(1)]

    report = world.tick(monday_9.replace(hour=7))
    assert report.executed == 0
    assert {
        a.waiting_reason for a in world.pending(K.CONNECTION_REQUEST) if a.expected_at == monday_9
    } == {"working_hours"}
    assert min(a.expected_at for a in world.pending(K.CONNECTION_REQUEST)) == monday_9

    report = world.tick(monday_9)
    assert len(world.done(K.CONNECTION_REQUEST)) == 2 and len(world.done(K.PROFILE_VISIT)) == 2
    [left] = world.pending(K.CONNECTION_REQUEST)
    assert left.waiting_reason == "daily_cap"
    assert left.expected_at == monday_9 + timedelta(days=1)


def test_daily_invite_cap_counts_calendar_days_in_the_senders_time_zone(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    # Los Angeles is UTC-8 in early March 2026: 09:00–18:00 there is 17:00–02:00 UTC, so a local
    # working day straddles UTC midnight.
    zone = "America/Los_Angeles"
    world = make_world(
        session,
        session_factory,
        limits={"daily_invites": 2},
        timezone=zone,
        connection_template="Hi {first_name}",
    )
    world.add(sandbox_urls(6), search=True)
    monday_10_la = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    monday_1730_la = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)  # a new UTC day, the same local one
    tuesday_9_la = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)

    world.tick(monday_10_la)
    assert len(world.done(K.CONNECTION_REQUEST)) == 2
    world.tick(monday_1730_la)
    assert len(world.done(K.CONNECTION_REQUEST)) == 2
    pending = world.pending(K.CONNECTION_REQUEST)
    assert {a.waiting_reason for a in pending} == {"daily_cap"}
    assert min(a.expected_at for a in pending) == tuesday_9_la
    world.tick(tuesday_9_la + timedelta(minutes=30))
    invites = world.done(K.CONNECTION_REQUEST)
    assert per_day(invites, zone) == {date(2026, 3, 2): 2, date(2026, 3, 3): 2}
    assert all(in_working_hours(a.completed_at, zone) for a in invites)


# ---------------------------------------------------------------- connection note length


def test_a_note_over_the_basic_limit_fails_unsent_until_the_template_is_fixed(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        limits={"daily_invites": 1},
        connection_template="Hi {first_name}, I have followed {company} for years.",
    )
    [long] = world.add(sandbox_urls(1), company="C" * 190, search=True)
    [short] = world.add(sandbox_urls(1), search=True)

    world.tick(at(0))
    [failed] = world.activities(contact=long, kind=K.CONNECTION_REQUEST)
    assert failed.outcome is Outcome.ERROR and failed.error_code is ErrorCode.MESSAGE_TOO_LONG
    assert "200" in (failed.error_message or "")
    assert (failed.status_from, failed.status_to) == (S.NOT_CONNECTED, S.NOT_CONNECTED)
    contact = world.contact(long)
    assert contact.status is S.NOT_CONNECTED and contact.error_code is ErrorCode.MESSAGE_TOO_LONG
    assert contact.invited_at is None
    # Not sent, so it used none of the day's single invite: the short note still went today.
    assert world.statuses([short]) == [S.INVITE_SENT]

    # Left alone, nothing tries again.
    world.ticks([at(1), at(2)])
    assert len(world.activities(contact=long, kind=K.CONNECTION_REQUEST)) == 1
    assert world.contact(long).error_code is ErrorCode.MESSAGE_TOO_LONG

    update_campaign(
        session,
        workspace_id=world.workspace.id,
        campaign_id=world.campaign.id,
        data=CampaignUpdate(connection_template="Hi {first_name}, let's connect"),
        now=at(2, 12),
    )
    session.flush()
    world.tick(at(3))
    [sent] = world.done(K.CONNECTION_REQUEST, long)
    assert sent.message == f"Hi {long.first_name}, let's connect"
    contact = world.contact(long)
    assert contact.status is S.INVITE_SENT and contact.error_code is None


# ---------------------------------------------------------------- follow-ups


def message_world(
    session: Session, factory: sessionmaker[Session], type: CampaignType, first_delay: int = 1
) -> World:
    return make_world(
        session,
        factory,
        type=type,
        follow_up_steps=[
            FollowUpStep(delay_days=first_delay, template="Hi {first_name}, step one"),
            FollowUpStep(delay_days=2, template="{first_name}, step two"),
        ],
    )


def test_existing_connections_get_each_follow_up_after_its_delay_and_stay_connected(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = message_world(session, session_factory, CampaignType.EXISTING_CONNECTIONS)
    plain, replying = world.add(sandbox_urls(2, degree=(1,)))
    assert world.statuses([plain, replying]) == [S.CONNECTED, S.CONNECTED]

    world.tick(at(0, 17))  # the first step waits a day
    assert world.activities() == []
    world.tick(at(1))
    for contact in (plain, replying):
        [first] = world.done(K.FOLLOW_UP, contact)
        assert first.message == f"Hi {contact.first_name}, step one"
        assert first.step == 1 and first.completed_at == at(1)

    # The reply stops what is left for that contact, whoever reports it.
    world.event(replying, ContactEvent.REPLY_RECEIVED, now=at(1, 12))
    assert world.pending(K.FOLLOW_UP, replying) == []

    world.tick(at(2, 17))  # a day after step one: step two waits two
    assert len(world.done(K.FOLLOW_UP)) == 2
    world.tick(at(3))
    [_, second] = world.done(K.FOLLOW_UP, plain)
    assert second.message == f"{plain.first_name}, step two" and second.completed_at == at(3)
    world.ticks([at(4), at(8), at(10)])
    assert len(world.done(K.FOLLOW_UP, plain)) == 2  # there is no step three
    assert len(world.done(K.FOLLOW_UP, replying)) == 1
    assert world.contact(replying).replied is True
    assert world.statuses([plain, replying]) == [S.CONNECTED, S.CONNECTED]
    kinds = {a.kind for a in world.activities()}
    assert kinds == {K.FOLLOW_UP, K.EVENT}  # never a visit nor an invite


def test_a_reply_seen_by_the_sandbox_stops_the_remaining_follow_ups(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = message_world(session, session_factory, CampaignType.EXISTING_CONNECTIONS)
    # People who answer within a day of the first message, before step two is due.
    urls = [
        u
        for u in sandbox_urls(40, degree=(1, 2, 3), replies=True)
        if SandboxPerson(u).reply_delay < timedelta(hours=24)
    ][:2]
    contacts = world.add(urls)
    world.ticks([at(1), at(2), at(3), at(5)])
    for contact in contacts:
        assert world.contact(contact).replied is True
        assert len(world.done(K.FOLLOW_UP, contact)) == 1
        assert world.pending(K.FOLLOW_UP, contact) == []


def test_muting_a_contact_stops_its_remaining_follow_ups(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = message_world(session, session_factory, CampaignType.EXISTING_CONNECTIONS)
    [contact] = world.add(sandbox_urls(1, degree=(1,)))
    world.tick(at(1))
    assert len(world.done(K.FOLLOW_UP, contact)) == 1
    world.contact(contact).muted = True
    session.flush()
    world.ticks([at(3), at(4), at(8)])
    assert len(world.done(K.FOLLOW_UP, contact)) == 1


def test_muted_contacts_get_no_first_message(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = message_world(session, session_factory, CampaignType.EXISTING_CONNECTIONS)
    [muted, plain] = world.add(sandbox_urls(2, degree=(1,)))
    world.contact(muted).muted = True
    session.flush()
    world.ticks([at(1), at(3)])
    assert world.activities(contact=muted) == []
    assert len(world.done(K.FOLLOW_UP, plain)) == 2


@pytest.mark.parametrize(
    ("campaign_type", "message_kind"),
    [(CampaignType.INMAIL, K.INMAIL), (CampaignType.GROUPS_EVENTS, K.GROUP_MESSAGE)],
)
def test_message_campaigns_visit_then_message_and_never_invite(
    session: Session,
    session_factory: sessionmaker[Session],
    campaign_type: CampaignType,
    message_kind: ActivityKind,
) -> None:
    world = message_world(session, session_factory, campaign_type)
    # A 1st-level connection too: in these campaigns it is still "not connected" once verified.
    contacts = world.add(sandbox_urls(2) + sandbox_urls(1, degree=(1,)))

    world.tick(at(0))
    assert len(world.done(K.PROFILE_VISIT)) == 3
    assert set(world.statuses(contacts)) == {S.NOT_CONNECTED}
    world.ticks([at(1), at(2), at(3), at(4), at(7)])
    for contact in contacts:
        messages = world.done(message_kind, contact)
        assert [m.step for m in messages] == [1, 2]
        assert messages[0].message == f"Hi {contact.first_name}, step one"
        assert [m.completed_at for m in messages] == [at(1), at(3)]
    assert world.activities(kind=K.CONNECTION_REQUEST) == []
    assert world.activities(kind=K.FOLLOW_UP) == []
    assert set(world.statuses(contacts)) == {S.NOT_CONNECTED}
    assert all(a.status_to in (None, S.NOT_CONNECTED) for a in world.activities())


# ---------------------------------------------------------------- withdrawals


@pytest.mark.parametrize("reinvite", [False, True])
def test_stale_invites_are_withdrawn_within_the_daily_cap_and_freed_three_weeks_later(
    session: Session, session_factory: sessionmaker[Session], reinvite: bool
) -> None:
    world = make_world(
        session, session_factory, max_reinvites=1 if reinvite else 0, connection_template="Hi"
    )
    stale = world.add(sandbox_urls(41), now=at(-30), search=True)
    [young] = world.add(sandbox_urls(1), now=at(-30), search=True)
    world.invited(stale, sent_at=at(-20))
    world.invited([young], sent_at=at(-19))

    world.tick(at(0))
    assert set(world.statuses(stale)) == {S.WITHDRAWN}
    assert world.statuses([young]) == [S.INVITE_SENT]
    withdrawals = world.activities(kind=K.WITHDRAW_INVITE)
    assert sorted(a.contact_id for a in withdrawals) == sorted(c.id for c in stale)
    assert all((a.status_from, a.status_to) == (S.INVITE_SENT, S.WITHDRAWN) for a in withdrawals)
    # Each log says whether the person will be invited again (SPEC §2 max_reinvites).
    assert {a.detail["reinvite"] for a in withdrawals} == {reinvite}
    # 40 a day: one waits for tomorrow.
    assert len(world.done(K.WITHDRAW_INVITE)) == 40
    [waiting] = world.pending(K.WITHDRAW_INVITE)
    assert waiting.waiting_reason == "daily_cap" and waiting.expected_at == at(1, 9)
    last = next(c for c in stale if c.id == waiting.contact_id)
    first_40 = [c for c in stale if c is not last]

    world.tick(at(1))
    assert world.pending(K.WITHDRAW_INVITE, last) == []
    assert [a.completed_at for a in world.done(K.WITHDRAW_INVITE, last)] == [at(1)]
    assert world.statuses([young]) == [S.WITHDRAWN]  # 20 days old now

    # LinkedIn allows a new invite three weeks after the withdrawal went out.
    world.tick(at(21) - timedelta(minutes=1))
    assert set(world.statuses(first_40)) == {S.WITHDRAWN}
    world.tick(at(21))
    freed = [
        a
        for a in world.activities(kind=K.EVENT)
        if a.detail.get("event") == ContactEvent.REINVITE_ALLOWED
    ]
    if reinvite:
        assert {a.contact_id for a in freed} >= {c.id for c in first_40}
        assert all((a.status_from, a.status_to) == (S.WITHDRAWN, S.NOT_CONNECTED) for a in freed)
    else:
        # No re-invite left: they stay withdrawn, never to be invited again.
        assert freed == []
        assert set(world.statuses(first_40)) == {S.WITHDRAWN}
    world.tick(at(21, 11))
    new_invites = [a for a in world.activities(kind=K.CONNECTION_REQUEST) if a.created_at >= at(21)]
    if reinvite:
        assert {a.contact_id for a in new_invites} <= {c.id for c in stale}
        assert len([a for a in new_invites if a.outcome is Outcome.SUCCESS]) == 15
    else:
        assert new_invites == []


def test_a_big_sweep_goes_a_batch_per_transaction_to_the_same_end(
    session: Session, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: the stale invites are withdrawn SWEEP_BATCH at a time, each batch its own
    transaction (writers take turns between them); the tick ends where one sweep would."""
    monkeypatch.setattr(sweeps, "SWEEP_BATCH", 7)
    world = make_world(session, session_factory, connection_template="Hi")
    stale = world.add(sandbox_urls(41), now=at(-30), search=True)
    world.invited(stale, sent_at=at(-20))
    report = world.tick(at(0))
    assert report.withdrawn == 41
    assert set(world.statuses(stale)) == {S.WITHDRAWN}
    withdrawals = world.activities(kind=K.WITHDRAW_INVITE)
    assert sorted(a.contact_id for a in withdrawals) == sorted(c.id for c in stale)
    assert_counts_match_a_recount(session)


def test_a_withdrawal_that_waited_frees_the_contact_three_weeks_after_it_went_out(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi", max_reinvites=1)
    [contact] = world.add(sandbox_urls(1), now=at(-30), search=True)
    world.invited([contact], sent_at=SAT_NOON - timedelta(days=20))
    world.tick(SAT_NOON)  # withdrawn, but the withdraw_invite waits for Monday's opening
    [pending] = world.pending(K.WITHDRAW_INVITE)
    assert pending.waiting_reason == "working_hours"
    monday = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    world.tick(monday)
    [went_out] = world.done(K.WITHDRAW_INVITE)
    assert went_out.completed_at == monday

    world.tick(SAT_NOON + timedelta(weeks=3))
    assert world.statuses([contact]) == [S.WITHDRAWN]
    world.tick(monday + timedelta(weeks=3))
    [freed] = [
        a
        for a in world.activities(contact=contact, kind=K.EVENT)
        if a.detail.get("event") == ContactEvent.REINVITE_ALLOWED
    ]
    assert freed.completed_at == monday + timedelta(weeks=3)
    # Freed, and (its one re-invite left) invited again in the same tick.
    assert world.statuses([contact])[0] in (S.NOT_CONNECTED, S.INVITE_SENT)


def test_manual_withdrawals_are_queued_and_obey_the_daily_withdrawal_cap(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session, session_factory, limits={"daily_withdrawals": 2}, connection_template="Hi"
    )
    contacts = world.add(sandbox_urls(5), now=at(-5), search=True)
    world.invited(contacts, sent_at=at(-3))

    queued = queue_manual_withdrawals(
        session,
        workspace_id=world.workspace.id,
        campaign_id=world.campaign.id,
        contact_ids=[c.id for c in contacts],
        now=at(0, 8),
    )
    assert queued == 5
    assert set(world.statuses(contacts)) == {S.WITHDRAWN}
    pending = world.pending(K.WITHDRAW_INVITE)
    assert len(pending) == 5
    assert all((a.status_from, a.status_to) == (S.INVITE_SENT, S.WITHDRAWN) for a in pending)

    for day, expected in ((0, 2), (1, 4), (2, 5), (3, 5)):
        world.tick(at(day))
        assert len(world.done(K.WITHDRAW_INVITE)) == expected
    assert per_day(world.done(K.WITHDRAW_INVITE)) == {
        local_day(at(0)): 2,
        local_day(at(1)): 2,
        local_day(at(2)): 1,
    }


def test_manual_withdrawal_of_a_contact_without_a_sent_invite_is_refused(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi")
    [contact] = world.add(sandbox_urls(1), search=True)
    with pytest.raises(InvalidTransition):
        queue_manual_withdrawals(
            session,
            workspace_id=world.workspace.id,
            campaign_id=world.campaign.id,
            contact_ids=[contact.id],
            now=at(0),
        )


def test_an_acceptance_reported_while_the_withdrawal_waits_wins(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        connection_template="Hi",
        follow_up_steps=[FollowUpStep(delay_days=1, template="Thanks, {first_name}")],
    )
    [contact] = world.add(sandbox_urls(1), now=at(-30), search=True)
    world.invited([contact], sent_at=at(-25))
    world.tick(SAT_NOON)
    assert world.statuses([contact]) == [S.WITHDRAWN]
    assert len(world.pending(K.WITHDRAW_INVITE, contact)) == 1

    world.event(contact, ContactEvent.INVITE_ACCEPTED, now=SAT_NOON + timedelta(hours=1))
    assert world.statuses([contact]) == [S.CONNECTED]
    assert world.pending(K.WITHDRAW_INVITE, contact) == []

    world.tick(at(7))  # Monday
    # The withdrawal never went out: its entry stays (it recorded the move to withdrawn),
    # settled as skipped because the acceptance made it moot.
    [closed] = world.activities(contact=contact, kind=K.WITHDRAW_INVITE)
    assert closed.outcome is Outcome.SKIPPED
    assert closed.detail["reason"] == "invite_accepted"
    assert closed.error_code is None
    assert world.statuses([contact]) == [S.CONNECTED]
    [thanks] = world.done(K.FOLLOW_UP, contact)
    assert thanks.message == f"Thanks, {contact.first_name}"


# ---------------------------------------------------------------- errors


def test_email_required_stops_every_further_invite(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi {first_name}")
    [contact] = world.add(sandbox_urls(1, requires_email=True), search=True)
    world.tick(at(0))
    [failed] = world.activities(contact=contact, kind=K.CONNECTION_REQUEST)
    assert failed.outcome is Outcome.ERROR and failed.error_code is ErrorCode.EMAIL_REQUIRED
    state = world.contact(contact)
    assert state.status is S.NOT_CONNECTED and state.error_code is ErrorCode.EMAIL_REQUIRED

    world.ticks([at(1), at(2), at(7), at(14), at(30)])
    assert world.activities(contact=contact, kind=K.CONNECTION_REQUEST) == [failed]


def test_too_many_requests_cools_the_sender_down_and_retries_the_contact(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi {first_name}")
    first, limited, *others = world.add(sandbox_urls(4), search=True)

    [action] = world.lease(at(0), limit=1)
    world.report(action, at(0), success=True)
    [action] = world.lease(at(0, 11), limit=1)
    assert action.contact_id == limited.id
    failed = world.report(
        action,
        at(0, 11),
        success=False,
        error_code=ErrorCode.TOO_MANY_REQUESTS,
        error_message="You've reached the weekly invitation limit",
    )
    assert failed.outcome is Outcome.ERROR
    # The weekly window has room again when the invite of Monday 10:00 leaves it.
    cooldown = at(7)
    assert session.get_one(SenderAccount, world.sender.id).cooldown_until == cooldown
    state = world.contact(limited)
    assert state.status is S.NOT_CONNECTED and state.error_code is ErrorCode.TOO_MANY_REQUESTS
    [retry] = world.pending(K.CONNECTION_REQUEST, limited)
    assert retry.waiting_reason == "cooldown" and retry.scheduled_for == cooldown

    world.ticks([at(0, 15), at(1), at(3), at(4), at(7) - timedelta(minutes=1)])
    assert [a.contact_id for a in world.done(K.CONNECTION_REQUEST)] == [first.id]
    waiting = world.pending(K.CONNECTION_REQUEST)
    assert {a.contact_id for a in waiting} == {limited.id, *(c.id for c in others)}
    assert {a.waiting_reason for a in waiting} == {"cooldown"}
    assert {a.expected_at for a in waiting} == {cooldown}

    world.tick(cooldown)
    sent = world.done(K.CONNECTION_REQUEST)
    assert {a.contact_id for a in sent} == {first.id, limited.id, *(c.id for c in others)}
    assert all(a.completed_at == cooldown for a in sent if a.contact_id != first.id)
    state = world.contact(limited)
    assert state.status is S.INVITE_SENT and state.error_code is None


def test_other_errors_are_retried_with_back_off_then_left_with_the_error(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi {first_name}")
    [contact] = world.add(sandbox_urls(1), search=True)
    # Attempts at Monday 10:00, then 1 h, 4 h and 16 h after each failure (the last one lands at
    # Tuesday 07:00, before the opening, so it goes at 09:00).
    attempts = [at(0, 10), at(0, 11), at(0, 15), at(1, 9)]
    retries_due = [at(0, 11), at(0, 15), at(1, 7)]
    assert len(attempts) == MAX_ATTEMPTS
    assert [b - a for a, b in zip(attempts, retries_due, strict=False)] == list(BACKOFF)
    for n, now in enumerate(attempts):
        [action] = world.lease(now)
        assert action.contact_id == contact.id
        world.report(
            action, now, success=False, error_code=ErrorCode.OTHER, error_message="Flaky page"
        )
        pending = world.pending(K.CONNECTION_REQUEST, contact)
        if n == MAX_ATTEMPTS - 1:
            assert pending == []  # given up
            break
        [retry] = pending
        assert retry.scheduled_for == retries_due[n]
        assert world.lease(retries_due[n] - timedelta(minutes=1)) == []  # not before its time

    errors = world.activities(contact=contact, kind=K.CONNECTION_REQUEST)
    assert [a.outcome for a in errors] == [Outcome.ERROR] * MAX_ATTEMPTS
    assert {a.error_message for a in errors} == {"Flaky page"}
    state = world.contact(contact)
    assert state.status is S.NOT_CONNECTED and state.error_code is ErrorCode.OTHER
    world.ticks([at(1, 11), at(2), at(4)])
    assert len(world.activities(contact=contact, kind=K.CONNECTION_REQUEST)) == MAX_ATTEMPTS


# ---------------------------------------------------------------- who is never contacted


def test_blacklisted_profiles_and_companies_are_never_visited_or_invited(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi {first_name}")
    other = make_world(session, session_factory)
    plain, by_url, by_company, elsewhere = world.add(sandbox_urls(4))
    session.get_one(Contact, by_company.id).company = "Globex Corp"
    session.add_all(
        [
            BlacklistEntry(workspace_id=world.workspace.id, linkedin_url=by_url.linkedin_url),
            BlacklistEntry(workspace_id=world.workspace.id, company="GLOBEX corp"),
            # Blacklisted for another campaign only, or in another workspace: not here.
            BlacklistEntry(
                workspace_id=world.workspace.id,
                campaign_id=a_second_campaign(world).id,
                linkedin_url=elsewhere.linkedin_url,
            ),
            BlacklistEntry(workspace_id=other.workspace.id, linkedin_url=plain.linkedin_url),
        ]
    )
    session.flush()
    world.ticks([at(0), at(0, 12), at(1), at(2)])
    assert world.activities(contact=by_url) == []
    assert world.activities(contact=by_company) == []
    assert world.statuses([by_url, by_company]) == [S.NOT_VERIFIED, S.NOT_VERIFIED]
    assert world.statuses([plain, elsewhere]) == [S.INVITE_SENT, S.INVITE_SENT]


def a_second_campaign(world: World) -> Campaign:
    return a_campaign(world.session, world.workspace, world.sender, name="Second")


def test_a_contact_blacklisted_after_its_visit_was_queued_is_not_visited(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory)
    [contact] = world.add(sandbox_urls(1))
    world.tick(SAT_NOON)
    assert len(world.pending(K.PROFILE_VISIT, contact)) == 1
    session.add(BlacklistEntry(workspace_id=world.workspace.id, linkedin_url=contact.linkedin_url))
    session.flush()
    world.ticks([at(7), at(8)])
    assert world.done(K.PROFILE_VISIT, contact) == []
    assert world.statuses([contact]) == [S.NOT_VERIFIED]


# ---------------------------------------------------------------- campaign states


def set_state(world: World, state: CampaignState, now: datetime) -> None:
    update_campaign(
        world.session,
        workspace_id=world.workspace.id,
        campaign_id=world.campaign.id,
        data=CampaignUpdate(state=state),
        now=now,
    )
    world.session.flush()


def test_a_paused_campaign_leases_nothing_new_but_its_withdrawals_still_go(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi")
    fresh = world.add(sandbox_urls(2))
    [stale] = world.add(sandbox_urls(1), now=at(-30), search=True)
    world.invited([stale], sent_at=at(-28))
    world.tick(SAT_NOON - timedelta(days=7))  # queues the visits; the stale one is withdrawn
    assert len(world.pending(K.PROFILE_VISIT)) == 2
    assert len(world.pending(K.WITHDRAW_INVITE)) == 1

    set_state(world, CampaignState.PAUSED, at(-1))
    world.ticks([at(0), at(1)])
    assert world.done(K.PROFILE_VISIT) == []
    assert world.statuses(fresh) == [S.NOT_VERIFIED, S.NOT_VERIFIED]
    assert len(world.done(K.WITHDRAW_INVITE, stale)) == 1
    lease = leasing.lease_due_actions(
        session, sender_id=world.sender.id, limit=10, lease_for=timedelta(minutes=5), now=at(1, 11)
    )
    assert lease == []

    set_state(world, CampaignState.RUNNING, at(1, 12))
    world.tick(at(2))
    assert len(world.done(K.PROFILE_VISIT)) == 2


def test_an_archived_campaign_leases_nothing(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi")
    contacts = world.add(sandbox_urls(2))
    world.tick(SAT_NOON - timedelta(days=7))
    assert len(world.pending(K.PROFILE_VISIT)) == 2
    set_state(world, CampaignState.ARCHIVED, at(-2))
    world.ticks([at(0), at(1)])
    assert world.done(K.PROFILE_VISIT) == []
    assert world.statuses(contacts) == [S.NOT_VERIFIED, S.NOT_VERIFIED]
    assert (
        leasing.lease_due_actions(
            session,
            sender_id=world.sender.id,
            limit=10,
            lease_for=timedelta(minutes=5),
            now=at(1, 11),
        )
        == []
    )


# ---------------------------------------------------------------- the sandbox


def test_the_sandbox_gives_the_same_outcomes_for_the_same_people_on_two_runs(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    urls = (
        sandbox_urls(2, degree=(1,))
        + sandbox_urls(2, requires_email=True)
        + sandbox_urls(4, accepts=True, replies=None)
        + sandbox_urls(4)
    )
    offsets = [timedelta(days=d, hours=h) for d in (0, 1, 2, 3, 4, 7, 8, 9) for h in (0, 5)]

    def run(start: datetime) -> dict[str, tuple[object, ...]]:
        world = make_world(
            session,
            session_factory,
            limits={"daily_invites": 5},
            connection_template="Hi {first_name}",
            follow_up_steps=[FollowUpStep(delay_days=1, template="Thanks")],
        )
        contacts = world.add(urls, now=start)
        world.ticks(start + offset for offset in offsets)
        out = {}
        for c in contacts:
            state = world.contact(c)
            log = tuple(
                (
                    a.kind,
                    a.outcome,
                    a.error_code,
                    a.status_to,
                    a.completed_at and a.completed_at - start,
                )
                for a in world.activities(contact=c)
            )
            out[c.linkedin_url] = (state.status, state.error_code, state.replied, log)
        return out

    first = run(at(0))
    second = run(at(28))  # four weeks later, another workspace and sender, the same people
    assert first == second
    # And the outcomes are the people's: 1st-level connections are connected by the visit,
    # those who require an email keep the error, those who accept became connected.
    assert [first[u][0] for u in urls[:2]] == [S.CONNECTED, S.CONNECTED]
    assert [first[u][1] for u in urls[2:4]] == [ErrorCode.EMAIL_REQUIRED] * 2
    assert {first[u][0] for u in urls[8:]} == {S.INVITE_SENT}
    accepted = [u for u in urls[4:8] if SandboxPerson(u).acceptance_delay < timedelta(days=5)]
    assert all(first[u][0] is S.CONNECTED for u in accepted)


def test_two_ticks_at_the_same_instant_do_not_repeat_actions(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi")
    world.add(sandbox_urls(3), search=True)
    world.tick(at(0))
    world.tick(at(0))
    assert len(world.done(K.CONNECTION_REQUEST)) == 3
    assert world.pending(K.CONNECTION_REQUEST) == []
    by_contact = Counter(a.contact_id for a in world.activities(kind=K.CONNECTION_REQUEST))
    assert set(by_contact.values()) == {1}


# ---------------------------------------------------------------- more timing and explanations


def test_a_connection_follow_up_waits_for_acceptance_then_its_delay(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        connection_template="Hi {first_name}",
        follow_up_steps=[FollowUpStep(delay_days=2, template="Thanks {first_name}")],
    )
    [contact] = world.add(sandbox_urls(1), search=True)
    world.tick(at(0))
    assert world.statuses([contact]) == [S.INVITE_SENT]
    [follow_up] = world.pending(K.FOLLOW_UP, contact)
    assert follow_up.waiting_reason == "awaiting_acceptance" and follow_up.expected_at is None

    accepted = at(1, 15)
    world.event(contact, ContactEvent.INVITE_ACCEPTED, now=accepted)
    world.tick(at(1, 16))
    [follow_up] = world.pending(K.FOLLOW_UP, contact)
    assert follow_up.waiting_reason == "follow_up_delay"
    assert follow_up.expected_at == accepted + timedelta(days=2)
    world.tick(at(3, 14))
    assert world.done(K.FOLLOW_UP, contact) == []
    world.tick(at(3, 15))
    [sent] = world.done(K.FOLLOW_UP, contact)
    assert sent.message == f"Thanks {contact.first_name}" and sent.completed_at == at(3, 15)
    assert world.statuses([contact]) == [S.CONNECTED]


def test_follow_ups_due_together_beyond_the_daily_cap_are_expected_the_next_day(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        limits={"daily_follow_ups": 2},
        connection_template="Hi",
        follow_up_steps=[FollowUpStep(delay_days=1, template="Thanks")],
    )
    contacts = world.add(sandbox_urls(3), now=at(-3), search=True)
    world.invited(contacts, sent_at=at(-2))
    for contact in contacts:
        world.event(contact, ContactEvent.INVITE_ACCEPTED, now=at(0, 12))
    world.tick(at(0, 13))
    expected = sorted(a.expected_at for a in world.pending(K.FOLLOW_UP))
    # What then happens: two go on Tuesday at 12:00, the cap holds the third until Wednesday.
    assert expected == [at(1, 12), at(1, 12), at(2, 9)]


def test_inmails_obey_the_daily_inmail_cap(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session,
        session_factory,
        type=CampaignType.INMAIL,
        limits={"daily_inmails": 2},
        follow_up_steps=[FollowUpStep(delay_days=0, template="Hello {first_name}")],
    )
    world.add(sandbox_urls(3))
    world.ticks([at(0), at(0, 11), at(0, 15)])
    assert len(world.done(K.INMAIL)) == 2
    [waiting] = world.pending(K.INMAIL)
    assert waiting.waiting_reason == "daily_cap" and waiting.expected_at == at(1, 9)
    world.tick(at(1))
    assert per_day(world.done(K.INMAIL)) == {local_day(at(0)): 2, local_day(at(1)): 1}


def test_the_withdrawal_age_is_configurable_per_workspace(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(session, session_factory, connection_template="Hi")
    world.workspace.withdraw_after_days = 10
    old, young = world.add(sandbox_urls(2), now=at(-30), search=True)
    world.invited([old], sent_at=at(-10))
    world.invited([young], sent_at=at(-9))
    world.tick(at(0))
    assert world.statuses([old, young]) == [S.WITHDRAWN, S.INVITE_SENT]


def test_a_paused_campaigns_queue_does_not_delay_when_a_running_one_is_expected(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(
        session, session_factory, limits={"daily_invites": 2}, connection_template="Hi"
    )
    world.add(sandbox_urls(2), search=True)
    world.tick(SAT_NOON - timedelta(days=7))  # two invites queued for Monday
    set_state(world, CampaignState.PAUSED, at(-2))
    running = World(
        session,
        session_factory,
        world.workspace,
        world.sender,
        a_campaign(session, world.workspace, world.sender, running=True, now=at(-2), name="B"),
    )
    [contact] = running.add(sandbox_urls(1), search=True)
    world.tick(at(-1))  # Sunday: queued, waiting for Monday's opening
    [invite] = running.pending(K.CONNECTION_REQUEST, contact)
    assert invite.expected_at == at(0, 9)
