"""An engine test world: one workspace, sender and campaign, contacts chosen by their sandbox traits,
ticks at explicit instants, and fresh reads of what the engine did."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import EngineMode
from app.contacts.schemas import ContactEventIn
from app.contacts.service import add_contacts, report_event
from app.domain.statuses import ActivityKind, CampaignType, ContactStatus, Outcome
from app.domain.transitions import ContactEvent
from app.engine import leasing, results, scheduling
from app.engine.runner import TickReport, run_tick
from app.engine.sandbox import SandboxPerson
from app.models import Activity, Campaign, Contact, SenderAccount, Workspace
from tests.builders import a_campaign, a_sender, a_workspace
from tests.conftest import T0

MON = T0  # Monday 2026-03-02 10:00 UTC
SAT_NOON = datetime(2026, 3, 7, 12, 0, tzinfo=T0.tzinfo)
_slugs = itertools.count(1)


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An instant `day` days after Monday 2026-03-02 (0 = that Monday), at hour:minute UTC."""
    return T0.replace(hour=hour, minute=minute) + timedelta(days=day)


def sandbox_urls(
    n: int,
    *,
    degree: Iterable[int] = (2, 3),
    requires_email: bool | None = False,
    accepts: bool | None = False,
    replies: bool | None = False,
    message_fails: bool | None = False,
) -> list[str]:
    """`n` new profile URLs of people the sandbox treats as asked (None: either way)."""
    degrees = set(degree)
    wanted = {
        "requires_email": requires_email,
        "accepts": accepts,
        "replies": replies,
        "message_fails": message_fails,
    }
    found: list[str] = []
    while len(found) < n:
        url = f"https://www.linkedin.com/in/person-{next(_slugs)}"
        person = SandboxPerson(url)
        if person.degree not in degrees:
            continue
        if any(v is not None and getattr(person, k) != v for k, v in wanted.items()):
            continue
        found.append(url)
    return found


@dataclass
class World:
    session: Session
    factory: sessionmaker[Session]
    workspace: Workspace
    sender: SenderAccount
    campaign: Campaign

    # ------------------------------------------------------------ setup

    def add(
        self,
        urls: Iterable[str],
        *,
        now: datetime = T0,
        search: bool = False,
        company: str = "Acme",
    ) -> list[Contact]:
        """Contacts added through the API, or from a LinkedIn search (verified already)."""
        source = "search" if search else "api"
        items = [
            {"linkedin_url": url, "first_name": f"Ann{i}", "company": company, "source": source}
            for i, url in enumerate(urls)
        ]
        result = add_contacts(
            self.session,
            workspace_id=self.workspace.id,
            campaign_id=self.campaign.id,
            items=items,
            now=now,
        )
        assert not result.invalid and not result.duplicates
        self.session.flush()
        return [self.session.get_one(Contact, c["id"]) for c in result.created]

    def event(self, contact: Contact, event: ContactEvent, now: datetime, **data: Any) -> Activity:
        _, activity = report_event(
            self.session,
            workspace_id=self.workspace.id,
            contact_id=contact.id,
            data=ContactEventIn(event=event, **data),
            now=now,
        )
        self.session.flush()
        return activity

    def invited(self, contacts: Iterable[Contact], *, sent_at: datetime) -> None:
        """Contacts that were added from a search and invited at `sent_at` (as an integration says)."""
        for contact in contacts:
            self.event(contact, ContactEvent.INVITE_SENT, now=sent_at, message="Hi")

    # ------------------------------------------------------------ running

    def tick(self, now: datetime) -> TickReport:
        self.session.flush()
        report = run_tick(self.factory, now=now, mode=EngineMode.SANDBOX)
        self.session.expire_all()
        return report

    def ticks(self, instants: Iterable[datetime]) -> None:
        for instant in instants:
            self.tick(instant)

    def lease(self, now: datetime, limit: int = 100) -> list[leasing.LeasedAction]:
        self.session.flush()
        scheduling.fill_queues(self.session, sender=self.sender, now=now)
        leased = leasing.lease_due_actions(
            self.session,
            sender_id=self.sender.id,
            limit=limit,
            lease_for=timedelta(minutes=5),
            now=now,
        )
        self.session.flush()
        return leased

    def report(self, action: leasing.LeasedAction, now: datetime, **result: Any) -> Activity:
        activity = results.report_result(
            self.session,
            action_id=action.id,
            lease_token=action.lease_token,
            result=results.ActionResult(**result),
            now=now,
        )
        self.session.flush()
        return activity

    # ------------------------------------------------------------ reading

    def activities(
        self,
        *,
        contact: Contact | None = None,
        kind: ActivityKind | None = None,
        outcome: Outcome | None = None,
    ) -> list[Activity]:
        stmt = select(Activity).where(Activity.campaign_id == self.campaign.id)
        if contact is not None:
            stmt = stmt.where(Activity.contact_id == contact.id)
        if kind is not None:
            stmt = stmt.where(Activity.kind == kind)
        if outcome is not None:
            stmt = stmt.where(Activity.outcome == outcome)
        return list(self.session.scalars(stmt.order_by(Activity.id)))

    def done(self, kind: ActivityKind, contact: Contact | None = None) -> list[Activity]:
        """Actions of this kind the engine carried out (successes), oldest first."""
        return self.activities(contact=contact, kind=kind, outcome=Outcome.SUCCESS)

    def pending(self, kind: ActivityKind, contact: Contact | None = None) -> list[Activity]:
        return self.activities(contact=contact, kind=kind, outcome=Outcome.PENDING)

    def statuses(self, contacts: Iterable[Contact]) -> list[ContactStatus]:
        return [self.session.get_one(Contact, c.id).status for c in contacts]

    def contact(self, contact: Contact) -> Contact:
        return self.session.get_one(Contact, contact.id)


def make_world(
    session: Session,
    factory: sessionmaker[Session],
    *,
    type: CampaignType = CampaignType.CONNECTION,
    limits: dict[str, int] | None = None,
    timezone: str = "UTC",
    running: bool = True,
    **campaign: Any,
) -> World:
    workspace = a_workspace(session)
    sender = a_sender(session, workspace, limits=limits or {}, timezone=timezone)
    created = a_campaign(session, workspace, sender, type=type, running=running, now=T0, **campaign)
    session.flush()
    return World(session, factory, workspace, sender, created)
