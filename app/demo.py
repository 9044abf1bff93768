"""`contact-tracker demo`: a believable workspace whose every history was walked through the domain.

Each contact gets a scripted path of events at past instants; `transition()` checks every step, so the
seeded statuses, timestamps and activity entries obey the same rules as live traffic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.service import create_user, create_workspace
from app.campaigns.schemas import CampaignCreate, CampaignUpdate, FollowUpStep
from app.campaigns.service import create_campaign, update_campaign
from app.domain.errors import ErrorCode
from app.domain.messages import check_note, render
from app.domain.pacing import CappedAction, WaitingReason, projected_times
from app.domain.statuses import (
    CampaignState,
    CampaignType,
    ContactSource,
    ContactStatus,
    Outcome,
    Role,
    SenderTier,
)
from app.domain.transitions import (
    ContactEvent,
    ContactState,
    EventDetail,
    initial_status,
    transition,
)
from app.lifecycle.service import (
    activity_kind_for,
    insert_replayed_activities,
    insert_replayed_contacts,
    state_columns,
)
from app.models import Campaign, SenderAccount
from app.senders.schemas import SenderCreate, SenderLimits, WorkingHours
from app.senders.service import create_sender, sender_pacing

FIRST = (
    "Anna Ben Carla David Elena Felix Grace Hugo Ines Jonas Kira "
    "Liam Maya Noah Olga Paul Rosa Sam Tara Umar Vera Will Yara Zoe"
).split()
LAST = (
    "Novak Schmidt Rossi Dubois Silva Jensen Kowalski Murphy Tanaka Okafor "
    "Haddad Larsen Moreau Costa Weber Fischer Nakamura Patel Garcia Ivanova"
).split()
COMPANIES = [
    "Acme Analytics",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Hooli",
    "Stark Logistics",
    "Wayne Fintech",
    "Soylent Foods",
    "Cyberdyne Robotics",
    "Tyrell Biotech",
    "Aperture Labs",
]
LONG_COMPANY = "International Consolidated Holdings for Advanced Industrial and Commercial Solutions GmbH & Co. KG"
TITLES = [
    "CTO",
    "VP Engineering",
    "Head of Sales",
    "Founder",
    "Product Manager",
    "Data Scientist",
    "COO",
]
NOTE = (
    "Hi {first_name}, I came across your work as {title} at {company} and would love to connect — "
    "we help teams like yours cut reporting time in half. Open to a short chat?"
)


@dataclass(frozen=True)
class DemoResult:
    workspace_id: int
    admin_email: str
    rep_email: str
    contacts: int


@dataclass
class _Script:
    """The path one contact walks: (days before now, event, detail, message)."""

    steps: list[tuple[float, ContactEvent, EventDetail | None, str | None]]


def _connection_script(rng: random.Random, fields: dict[str, str]) -> _Script:
    roll = rng.random()
    visit = 30 + rng.random() * 25
    second = EventDetail(degree=rng.choice([2, 2, 3]))
    if roll < 0.14:
        return _Script([])
    if roll < 0.19:
        return _Script([(visit, ContactEvent.PROFILE_VISITED, EventDetail(degree=1), None)])
    steps: list[tuple[float, ContactEvent, EventDetail | None, str | None]] = [
        (visit, ContactEvent.PROFILE_VISITED, second, None)
    ]
    if roll < 0.36:
        if rng.random() < 0.55:
            code = rng.choice(list(ErrorCode))
            message = {
                ErrorCode.EMAIL_REQUIRED: "Invitation requires the member's email address",
                ErrorCode.MESSAGE_TOO_LONG: None,
                ErrorCode.TOO_MANY_REQUESTS: "You've reached the weekly invitation limit",
                ErrorCode.OTHER: "Profile temporarily unavailable",
            }[code]
            if code is ErrorCode.MESSAGE_TOO_LONG:
                fields["company"] = LONG_COMPANY
                note = check_note(NOTE, fields, SenderTier.BASIC)
                message = (
                    f"The note has {note.length} characters; a basic sender allows {note.limit}"
                )
            steps.append(
                (
                    visit - 1,
                    ContactEvent.ACTION_FAILED,
                    EventDetail(error_code=code, error_message=message),
                    None,
                )
            )
        return _Script(steps)
    invited = rng.uniform(1, 19) if roll < 0.6 else rng.uniform(21, visit - 1)
    steps.append((invited, ContactEvent.INVITE_SENT, None, render(NOTE, fields)))
    if roll < 0.6:
        return _Script(steps)
    if roll < 0.86:
        accepted = invited - rng.uniform(0.2, min(invited - 0.5, 12))
        steps.append((accepted, ContactEvent.INVITE_ACCEPTED, None, None))
        followed = accepted - 2
        if followed > 0 and rng.random() < 0.7:
            steps.append(
                (
                    followed,
                    ContactEvent.MESSAGE_SENT,
                    None,
                    render("Thanks for connecting, {first_name}!", fields),
                )
            )
            if rng.random() < 0.3:
                steps.append(
                    (followed - min(followed, 0.5), ContactEvent.REPLY_RECEIVED, None, None)
                )
        return _Script(steps)
    steps.append((invited - 20.2, ContactEvent.INVITE_EXPIRED, None, None))
    if invited - 20.2 > 21.5:
        steps.append((invited - 20.2 - 21.1, ContactEvent.REINVITE_ALLOWED, None, None))
    return _Script(steps)


def _message_script(
    rng: random.Random, campaign_type: CampaignType, fields: dict[str, str]
) -> _Script:
    steps: list[tuple[float, ContactEvent, EventDetail | None, str | None]] = []
    start = 20 + rng.random() * 20
    if campaign_type is not CampaignType.EXISTING_CONNECTIONS:
        if rng.random() < 0.2:
            return _Script([])
        steps.append(
            (start, ContactEvent.PROFILE_VISITED, EventDetail(degree=rng.choice([1, 2, 3])), None)
        )
    roll = rng.random()
    if roll < 0.6:
        text = render("Hello {first_name}, a quick question about {company}…", fields)
        steps.append((start - 1, ContactEvent.MESSAGE_SENT, None, text))
        if rng.random() < 0.25:
            steps.append((start - 3, ContactEvent.REPLY_RECEIVED, None, None))
    elif roll < 0.7:
        steps.append(
            (
                start - 1,
                ContactEvent.ACTION_FAILED,
                EventDetail(
                    error_code=ErrorCode.OTHER, error_message="Recipient cannot be messaged"
                ),
                None,
            )
        )
    return _Script(steps)


def seed_demo(
    session: Session, *, admin_email: str, password: str, contacts: int = 2000, now: datetime
) -> DemoResult:
    """Create the demo workspace. Raises Conflict when the admin email is already taken."""
    rng = random.Random(20261127)  # noqa: S311 - demo data, not security
    workspace = create_workspace(
        session, name="Demo workspace", admin_email=admin_email, admin_password=password
    )
    rep_email = "rep@" + admin_email.split("@", 1)[1]
    create_user(
        session, workspace_id=workspace.id, email=rep_email, password=password, role=Role.REP
    )
    hours = WorkingHours(start="08:00", end="18:00", days=[1, 2, 3, 4, 5])
    basic = create_sender(
        session,
        workspace_id=workspace.id,
        data=SenderCreate(
            name="Alex Morgan",
            tier=SenderTier.BASIC,
            timezone="Europe/Berlin",
            working_hours=hours,
        ),
    )
    premium = create_sender(
        session,
        workspace_id=workspace.id,
        data=SenderCreate(
            name="Jordan Lee",
            tier=SenderTier.PREMIUM,
            timezone="America/New_York",
            working_hours=hours,
            limits=SenderLimits(daily_invites=25, weekly_invites=120),
        ),
    )
    plans = [
        ("Q4 — CTOs in DACH", CampaignType.CONNECTION, basic.id, 0.5),
        ("Customers — upsell", CampaignType.EXISTING_CONNECTIONS, premium.id, 0.2),
        ("InMail — enterprise buyers", CampaignType.INMAIL, premium.id, 0.15),
        ("SaaStr group members", CampaignType.GROUPS_EVENTS, premium.id, 0.15),
    ]
    total = 0
    serial = 0
    for name, campaign_type, sender_id, share in plans:
        campaign = create_campaign(
            session,
            workspace_id=workspace.id,
            data=CampaignCreate(
                name=name,
                type=campaign_type,
                sender_id=sender_id,
                connection_template=NOTE if campaign_type is CampaignType.CONNECTION else "",
                # The demo's connection campaign invites a withdrawn person once more.
                max_reinvites=1 if campaign_type is CampaignType.CONNECTION else 0,
                follow_up_steps=[
                    FollowUpStep(delay_days=2, template="Thanks for connecting, {first_name}!"),
                    FollowUpStep(delay_days=5, template="{first_name}, worth a 15-minute call?"),
                ],
            ),
        )
        update_campaign(
            session,
            workspace_id=workspace.id,
            campaign_id=campaign.id,
            data=CampaignUpdate(state=CampaignState.RUNNING),
            now=now - timedelta(days=60),
        )
        count = round(contacts * share)
        serial = _seed_contacts(session, rng, campaign, count, serial, now)
        total += count
    return DemoResult(workspace.id, admin_email.lower(), rep_email.lower(), total)


def _seed_contacts(
    session: Session, rng: random.Random, campaign: Campaign, count: int, serial: int, now: datetime
) -> int:
    contact_rows: list[dict[str, Any]] = []
    histories: list[list[dict[str, Any]]] = []
    for _ in range(count):
        serial += 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        fields = {
            "first_name": first,
            "last_name": last,
            "company": rng.choice(COMPANIES),
            "title": rng.choice(TITLES),
        }
        if campaign.type is CampaignType.CONNECTION:
            script = _connection_script(rng, fields)
        else:
            script = _message_script(rng, campaign.type, fields)
        created = now - timedelta(days=58 - rng.random() * 3)
        state = ContactState(
            status=initial_status(campaign.type, ContactSource.CSV), status_changed_at=created
        )
        history: list[dict[str, Any]] = []
        for days_ago, event, detail, message in script.steps:
            at = now - timedelta(days=days_ago)
            before = state.status
            state = transition(
                state,
                event,
                campaign.type,
                now=at,
                detail=detail,
                max_reinvites=campaign.max_reinvites,
            )
            failed = event is ContactEvent.ACTION_FAILED
            error = state.last_error if failed else None
            history.append(
                {
                    "kind": activity_kind_for(event, campaign.type),
                    "outcome": Outcome.ERROR if failed else Outcome.SUCCESS,
                    "error_code": error.code if error else None,
                    "error_message": error.message if error else None,
                    "message": message,
                    "status_from": before,
                    "status_to": state.status,
                    "detail": {
                        "event": event.value,
                        **({"degree": detail.degree} if detail and detail.degree else {}),
                    },
                    "created_at": at,
                    "completed_at": at,
                }
            )
        columns = state_columns(state)
        contact_rows.append(
            {
                "workspace_id": campaign.workspace_id,
                "campaign_id": campaign.id,
                "linkedin_url": f"https://www.linkedin.com/in/{first}-{last}-{serial:05d}".lower(),
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}{serial}@example.com".lower()
                if rng.random() < 0.6
                else None,
                "company": fields["company"],
                "title": fields["title"],
                "custom_fields": {"lead_score": str(rng.randint(1, 100))},
                "source": ContactSource.CSV,
                **columns,
                "follow_ups_sent": sum(1 for h in history if h["kind"].value == "follow_up"),
                "created_at": created,
                "updated_at": history[-1]["completed_at"] if history else created,
                "status_changed_at": columns["status_changed_at"] or created,
            }
        )
        histories.append(history)
    ids = insert_replayed_contacts(session, contact_rows)
    activity_rows = []
    pending_invites = []
    for contact_id, contact, history in zip(ids, contact_rows, histories, strict=True):
        for entry in history:
            activity_rows.append(
                {
                    **entry,
                    "workspace_id": campaign.workspace_id,
                    "contact_id": contact_id,
                    "campaign_id": campaign.id,
                    "sender_id": campaign.sender_id,
                }
            )
        if (
            campaign.type is CampaignType.CONNECTION
            and contact["status"] is ContactStatus.NOT_CONNECTED
            and contact["error_code"] is None
        ):
            pending_invites.append((contact_id, contact))
    if pending_invites:
        account = session.get_one(SenderAccount, campaign.sender_id)
        recent = [
            r["completed_at"]
            for r in activity_rows
            if r["kind"].value == "connection_request" and r["outcome"] is Outcome.SUCCESS
        ]
        expected = projected_times(
            sender_pacing(account),
            CappedAction.INVITE,
            recent=recent,
            now=now,
            count=len(pending_invites),
        )
        for (contact_id, contact), at in zip(pending_invites, expected, strict=True):
            activity_rows.append(
                {
                    "workspace_id": campaign.workspace_id,
                    "contact_id": contact_id,
                    "campaign_id": campaign.id,
                    "sender_id": campaign.sender_id,
                    "kind": activity_kind_for(ContactEvent.INVITE_SENT, campaign.type),
                    "outcome": Outcome.PENDING,
                    "message": render(NOTE, contact),
                    "detail": {"event": ContactEvent.INVITE_SENT.value},
                    "created_at": now,
                    "scheduled_for": now,
                    "waiting_reason": (
                        WaitingReason.DAILY_CAP if at.date() > now.date() else WaitingReason.QUEUED
                    ).value,
                    "expected_at": at,
                }
            )
    activity_rows.sort(key=lambda r: r["created_at"])
    if activity_rows:
        insert_replayed_activities(session, activity_rows)
    return serial
