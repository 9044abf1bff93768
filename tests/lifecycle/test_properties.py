"""Random sequences of integration events, engine ticks, page actions and pauses over a few contacts
of each campaign type; after every step the life cycle's invariants hold (issue 11, SPEC §2):

- each contact's status is the end of the chain of status changes its log records;
- at most one pending action of each kind per contact, and none whose precondition is gone;
- the maintained counts equal a recount;
- every pending entry's explanation is what holds it at that instant (a fresh explanation of the
  sender at that instant changes nothing) and agrees with the rules it names;
- the log is in time order.

Runs under the suite's Hypothesis profile (derandomized, bounded examples in CI).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from app.campaigns.schemas import CampaignUpdate, FollowUpStep
from app.campaigns.service import update_campaign
from app.config import EngineMode
from app.contacts.log import contact_activity
from app.contacts.schemas import ContactEventIn
from app.contacts.service import (
    add_contacts,
    blacklist_contacts,
    queue_manual_withdrawals,
    report_event,
    set_muted,
)
from app.domain.actions import CAP_OF, MESSAGE_KINDS
from app.domain.errors import ErrorCode
from app.domain.pacing import WorkingHours as Hours
from app.domain.statuses import (
    ActivityKind,
    CampaignState,
    CampaignType,
    ContactSource,
    ContactStatus,
    Outcome,
)
from app.domain.transitions import ContactEvent, InvalidTransition, initial_status
from app.engine.runner import run_tick
from app.errors import AppError
from app.lifecycle import counts
from app.models import Activity, BlacklistEntry, Campaign, Contact, SenderAccount
from app.queue.explain import explain_sender
from tests.builders import a_campaign, a_sender, a_workspace
from tests.conftest import T0
from tests.engine.helpers import sandbox_urls

K = ActivityKind
S = ContactStatus
TYPES = list(CampaignType)
PER_CAMPAIGN = 2
CONTACTS = len(TYPES) * PER_CAMPAIGN
HOURS = Hours()  # the senders' working hours: the defaults, 09:00–18:00 on weekdays


# ---------------------------------------------------------------- the steps

visits = st.tuples(
    st.just(ContactEvent.PROFILE_VISITED), st.sampled_from([{"degree": 1}, {"degree": 2}])
)
invites = st.tuples(st.just(ContactEvent.INVITE_SENT), st.just({}))
events = st.one_of(
    # Contacts start not verified: visits and invites come up often, so later events apply.
    visits,
    visits,
    invites,
    invites,
    st.tuples(st.just(ContactEvent.INVITE_ACCEPTED), st.just({})),
    st.tuples(st.just(ContactEvent.INVITE_WITHDRAWN), st.just({})),
    st.tuples(st.just(ContactEvent.MESSAGE_SENT), st.sampled_from([{}, {"step": 1}, {"step": 2}])),
    st.tuples(st.just(ContactEvent.REPLY_RECEIVED), st.just({})),
    st.tuples(
        st.just(ContactEvent.ACTION_FAILED),
        st.sampled_from([{"error_code": code} for code in ErrorCode]),
    ),
)
steps = st.one_of(
    st.tuples(st.just("event"), st.integers(0, CONTACTS - 1), events),
    st.tuples(st.just("tick"), st.sampled_from([1, 5, 14, 24, 72, 24 * 8, 24 * 22])),
    st.tuples(
        st.just("page"),
        st.integers(0, CONTACTS - 1),
        st.sampled_from(["withdraw", "mute", "unmute", "blacklist"]),
    ),
    st.tuples(
        st.just("campaign"),
        st.integers(0, len(TYPES) - 1),
        st.sampled_from(["paused", "running", "paused", "running", "archived"]),
    ),
)


@dataclass
class Scene:
    session: Session
    factory: sessionmaker[Session]
    workspace_id: int
    sender_id: int
    campaigns: list[Campaign]
    contacts: list[Contact]
    now: datetime


@pytest.fixture
def scenes(connection: Connection, session_factory: sessionmaker[Session]) -> Iterator[Any]:
    """A fresh scene per Hypothesis example, rolled back after it (one savepoint each)."""

    def build() -> tuple[Scene, Any]:
        savepoint = connection.begin_nested()
        session = session_factory()
        workspace = a_workspace(session)
        sender = a_sender(
            session,
            workspace,
            limits={
                "daily_invites": 2,
                "weekly_invites": 3,
                "daily_profile_visits": 2,
                "daily_follow_ups": 1,
                "daily_inmails": 1,
                "daily_withdrawals": 1,
            },
        )
        steps_of = [
            FollowUpStep(delay_days=1, template="Hi {first_name}"),
            FollowUpStep(delay_days=2, template="Again, {first_name}"),
        ]
        campaigns = [
            a_campaign(
                session,
                workspace,
                sender,
                type=campaign_type,
                running=True,
                now=T0,
                connection_template="Hi" if campaign_type is CampaignType.CONNECTION else "",
                follow_up_steps=steps_of,
                max_reinvites=1 if campaign_type is CampaignType.CONNECTION else 0,
            )
            for campaign_type in TYPES
        ]
        contacts: list[Contact] = []
        for campaign in campaigns:
            urls = sandbox_urls(PER_CAMPAIGN, accepts=None, replies=None, requires_email=None)
            created = add_contacts(
                session,
                workspace_id=workspace.id,
                campaign_id=campaign.id,
                items=[{"linkedin_url": u, "first_name": "Ann"} for u in urls],
                now=T0,
            ).created
            contacts.extend(session.get_one(Contact, c["id"]) for c in created)
        session.flush()
        scene = Scene(session, session_factory, workspace.id, sender.id, campaigns, contacts, T0)
        return scene, savepoint

    @contextmanager
    def scene() -> Iterator[Scene]:
        made, savepoint = build()
        try:
            yield made
        finally:
            made.session.close()
            if savepoint.is_active:
                savepoint.rollback()

    yield scene


def run_step(scene: Scene, step: tuple[Any, ...]) -> None:
    session = scene.session
    kind = step[0]
    try:
        # Each step is its own unit of work, like a request or a tick.
        with session.begin_nested():
            if kind == "event":
                _, index, (event, data) = step
                report_event(
                    session,
                    workspace_id=scene.workspace_id,
                    contact_id=scene.contacts[index].id,
                    data=ContactEventIn(event=event, **data),
                    now=scene.now,
                )
            elif kind == "page":
                _, index, action = step
                contact = scene.contacts[index]
                ids = [contact.id]
                args = {"workspace_id": scene.workspace_id, "campaign_id": contact.campaign_id}
                if action == "withdraw":
                    queue_manual_withdrawals(session, **args, contact_ids=ids, now=scene.now)
                elif action in ("mute", "unmute"):
                    set_muted(
                        session, **args, contact_ids=ids, muted=action == "mute", now=scene.now
                    )
                else:
                    blacklist_contacts(session, **args, contact_ids=ids, now=scene.now)
            elif kind == "campaign":
                _, index, state = step
                update_campaign(
                    session,
                    workspace_id=scene.workspace_id,
                    campaign_id=scene.campaigns[index].id,
                    data=CampaignUpdate(state=CampaignState(state)),
                    now=scene.now,
                )
            session.flush()
        note_event(f"{kind} applied")
    except (InvalidTransition, AppError):
        note_event(f"{kind} refused")  # nothing changed (the invariants below say so too)
    if kind == "tick":
        scene.now += timedelta(hours=step[1])
        session.flush()
        report = run_tick(scene.factory, now=scene.now, mode=EngineMode.SANDBOX)
        note_event("tick executed actions" if report.executed else "tick executed nothing")
    session.expire_all()


# ---------------------------------------------------------------- the invariants


def check(scene: Scene) -> None:
    session = scene.session
    ids = [c.id for c in scene.contacts]
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    campaigns = {
        c.id: c
        for c in session.scalars(
            select(Campaign).where(Campaign.id.in_([c.id for c in scene.campaigns]))
        )
    }
    acts = list(
        session.scalars(select(Activity).where(Activity.contact_id.in_(ids)).order_by(Activity.id))
    )
    blacklist = set(
        session.scalars(
            select(BlacklistEntry.linkedin_url).where(
                BlacklistEntry.workspace_id == scene.workspace_id
            )
        )
    )
    by_contact: dict[int, list[Activity]] = {cid: [] for cid in ids}
    for a in acts:
        by_contact[a.contact_id].append(a)
        # An action's campaign and workspace are its contact's (they have no key of their own).
        owner = contacts[a.contact_id]
        assert (a.campaign_id, a.workspace_id) == (owner.campaign_id, owner.workspace_id), a

    for cid, contact in contacts.items():
        campaign = campaigns[contact.campaign_id]
        log = by_contact[cid]
        _check_status_chain(contact, campaign, log)
        _check_pending(contact, campaign, log, contact.linkedin_url in blacklist)
        _check_log_order(scene, contact)

    for campaign_id in campaigns:
        stored = {
            k: n for k, n in counts.read_counts(session, [campaign_id])[campaign_id].items() if n
        }
        fresh = {k: n for (_, k), n in counts.counted(session, campaign_id).items() if n}
        assert stored == fresh, ("counts drifted", campaign_id, stored, fresh)

    _check_explanations(scene, acts, campaigns)


def _moved_at(a: Activity) -> datetime:
    # A withdrawal records the move when it is queued; it goes out later.
    if a.kind is K.WITHDRAW_INVITE:
        return a.created_at
    return a.completed_at or a.created_at


def _check_status_chain(contact: Contact, campaign: Campaign, log: list[Activity]) -> None:
    moves = sorted(
        (
            a
            for a in log
            if a.status_from is not None
            and a.status_to is not None
            and a.status_from is not a.status_to
        ),
        key=lambda a: (_moved_at(a), a.id),
    )
    status = initial_status(campaign.type, ContactSource.API)
    for a in moves:
        assert a.status_from is status, ("the log's chain breaks", contact.id, a.id, status, a)
        status = a.status_to
    assert contact.status is status, ("status is not the replay of its log", contact.id)


def _check_pending(
    contact: Contact, campaign: Campaign, log: list[Activity], blacklisted: bool
) -> None:
    pending = [a for a in log if a.outcome is Outcome.PENDING]
    kinds = Counter(a.kind for a in pending)
    assert all(n == 1 for n in kinds.values()), ("two pending of a kind", contact.id, kinds)
    for a in pending:
        where = (contact.id, a.id, a.kind, contact.status)
        if a.kind is K.WITHDRAW_INVITE:
            assert contact.status is S.WITHDRAWN, where
            continue
        assert not contact.muted, ("a muted contact keeps a pending action", *where)
        assert not blacklisted, ("a blacklisted contact keeps a pending action", *where)
        assert campaign.state is not CampaignState.ARCHIVED, ("archived yet pending", *where)
        if a.kind is K.PROFILE_VISIT:
            assert contact.status is S.NOT_VERIFIED, where
        elif a.kind is K.CONNECTION_REQUEST:
            assert campaign.type is CampaignType.CONNECTION, where
            assert contact.status is S.NOT_CONNECTED and not contact.email_required, where
            assert contact.invites_sent <= campaign.max_reinvites, where
        else:
            assert a.kind in MESSAGE_KINDS, where
            assert not contact.replied, ("a message waits for a contact who replied", *where)
            assert a.step is not None and a.step > contact.follow_ups_sent, where
            if campaign.type in (CampaignType.INMAIL, CampaignType.GROUPS_EVENTS):
                assert contact.status is S.NOT_CONNECTED, where
            elif a.step == 1 and campaign.type is CampaignType.CONNECTION:
                assert contact.status in (S.CONNECTED, S.INVITE_SENT), where
            else:
                assert contact.status is S.CONNECTED, where


def _check_log_order(scene: Scene, contact: Contact) -> None:
    items, _ = contact_activity(
        scene.session, workspace_id=scene.workspace_id, contact_id=contact.id, limit=200
    )
    far = datetime.max.replace(tzinfo=T0.tzinfo)

    def when(item: Any) -> datetime:
        if item.outcome == "pending":
            return item.expected_at or item.scheduled_for or far
        return item.completed_at or item.created_at

    instants = [when(i) for i in items]
    assert instants == sorted(instants, reverse=True), ("log out of order", contact.id)


def _check_explanations(scene: Scene, acts: list[Activity], campaigns: dict[int, Campaign]) -> None:
    session = scene.session
    now = scene.now
    sender = session.get_one(SenderAccount, scene.sender_id)
    pending = [a for a in acts if a.outcome is Outcome.PENDING and not _leased(a, now)]
    stored = {a.id: (a.waiting_reason, a.waiting_cap, a.expected_at) for a in pending}
    for a in pending:
        where = (a.id, a.kind, a.waiting_reason, a.waiting_cap, a.expected_at, now)
        campaign = campaigns[a.campaign_id]
        if a.kind is not K.WITHDRAW_INVITE and campaign.state is not CampaignState.RUNNING:
            assert (a.waiting_reason, a.waiting_cap, a.expected_at) == (
                "campaign_paused",
                None,
                None,
            ), where
            continue
        if a.scheduled_for is None:
            assert (a.waiting_reason, a.waiting_cap) == ("awaiting_acceptance", None), where
            continue
        start = max(now, a.scheduled_for)
        assert a.expected_at is not None and a.expected_at >= start, ("stale time", *where)
        cap = CAP_OF[a.kind].cap_name
        reason = a.waiting_reason
        assert a.waiting_cap == (cap if reason in ("daily_cap", "weekly_cap") else None), where
        if reason == "weekly_cap":
            assert a.kind is K.CONNECTION_REQUEST, where
        if reason == "queued":
            assert a.expected_at == start and _open(start, sender), where
        if reason == "working_hours":
            assert not _open(start, sender), where
        if reason == "follow_up_delay":
            assert a.kind in MESSAGE_KINDS and a.scheduled_for > now, where
        if reason in ("daily_cap", "weekly_cap"):
            assert a.expected_at > start, where
    # Stored explanations are never older than the last step: explaining afresh changes nothing.
    with session.begin_nested() as fresh:
        explain_sender(session, sender_id=sender.id, now=now)
        session.flush()
        again = {
            a.id: (a.waiting_reason, a.waiting_cap, a.expected_at)
            for a in session.scalars(select(Activity).where(Activity.id.in_(list(stored))))
        }
        fresh.rollback()
    session.expire_all()
    assert again == stored, (
        "stale explanations",
        {k: (stored[k], again[k]) for k in stored if stored[k] != again[k]},
    )


def _leased(a: Activity, now: datetime) -> bool:
    return a.leased_until is not None and a.leased_until > now


def _open(at: datetime, sender: SenderAccount) -> bool:
    return at.isoweekday() in HOURS.days and HOURS.start <= at.time() < HOURS.end


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=16))
def test_every_step_keeps_the_life_cycle_true(scenes: Any, sequence: list[tuple[Any, ...]]) -> None:
    with scenes() as scene:
        check(scene)
        for step in sequence:
            run_step(scene, step)
            check(scene)
