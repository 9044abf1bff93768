"""The demo workspace: every status and error appears, and every history obeys the domain."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo import seed_demo
from app.domain.errors import ErrorCode
from app.domain.statuses import CampaignType, ContactStatus, Outcome, Role
from app.models import Activity, Campaign, Contact, SenderAccount, User
from tests.conftest import T0


def test_demo_seeds_a_believable_workspace(session: Session) -> None:
    result = seed_demo(session, admin_email="admin@demo.test", password="demo-password", now=T0)
    ws = result.workspace_id
    roles = Counter(u.role for u in session.scalars(select(User).where(User.workspace_id == ws)))
    assert roles == {Role.ADMIN: 1, Role.REP: 1}
    tiers = {
        s.tier.value
        for s in session.scalars(select(SenderAccount).where(SenderAccount.workspace_id == ws))
    }
    assert tiers == {"basic", "premium"}
    campaigns = {
        c.id: c for c in session.scalars(select(Campaign).where(Campaign.workspace_id == ws))
    }
    assert {c.type for c in campaigns.values()} == set(CampaignType)

    contacts = list(session.scalars(select(Contact).where(Contact.workspace_id == ws)))
    assert len(contacts) == result.contacts
    assert 1900 <= len(contacts) <= 2100
    assert {c.status for c in contacts} == set(ContactStatus)
    assert {c.error_code for c in contacts if c.error_code} == set(ErrorCode)

    by_type: dict[CampaignType, set[ContactStatus]] = defaultdict(set)
    for c in contacts:
        by_type[campaigns[c.campaign_id].type].add(c.status)
    assert by_type[CampaignType.EXISTING_CONNECTIONS] == {ContactStatus.CONNECTED}
    for t in (CampaignType.INMAIL, CampaignType.GROUPS_EVENTS):
        assert by_type[t] <= {ContactStatus.NOT_VERIFIED, ContactStatus.NOT_CONNECTED}

    # Each contact's log replays to its current status, and nothing was withdrawn before 20 days.
    logs: dict[int, list[Activity]] = defaultdict(list)
    for a in session.scalars(
        select(Activity).where(Activity.workspace_id == ws).order_by(Activity.id)
    ):
        logs[a.contact_id].append(a)
    pending = 0
    for c in contacts:
        done = [a for a in logs[c.id] if a.outcome is not Outcome.PENDING]
        pending += len(logs[c.id]) - len(done)
        status = done[0].status_from if done else c.status
        for a in done:
            assert a.status_from == status
            status = a.status_to
        assert status == c.status
        if c.withdrawn_at is not None:
            assert c.invited_at is not None
            assert c.withdrawn_at - c.invited_at >= timedelta(days=20)
    assert pending > 0
    waiting = session.scalars(select(Activity).where(Activity.outcome == Outcome.PENDING)).first()
    assert waiting is not None and waiting.waiting_reason and waiting.expected_at
