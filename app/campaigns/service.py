"""Campaigns: creation, editing, state changes, and their per-status statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.campaigns import repository
from app.campaigns.schemas import (
    CampaignCreate,
    CampaignRead,
    CampaignStats,
    CampaignUpdate,
    FollowUpStep,
)
from app.domain.campaigns import InvalidCampaignState, change_campaign_state
from app.domain.errors import ErrorCode
from app.domain.messages import (
    NOTE_LIMITS,
    PLACEHOLDERS,
    TemplateError,
    check_template,
    note_length,
    render,
)
from app.domain.statuses import CampaignState, CampaignType, SenderTier
from app.domain.transitions import Counted
from app.errors import Conflict, NotFound, ValidationFailed
from app.events import outbox
from app.events.types import EventType
from app.lifecycle import counts
from app.lifecycle import repository as lifecycle_repository
from app.lifecycle import service as lifecycle
from app.models import Campaign
from app.models import FollowUpStep as FollowUpStepRow
from app.queue.explain import explain_sender
from app.senders.service import get_sender


def get_campaign(
    session: Session, *, workspace_id: int, campaign_id: int, with_steps: bool = True
) -> Campaign:
    """The campaign in this workspace; NotFound for another workspace's id."""
    campaign = repository.get_campaign(session, campaign_id, with_steps=with_steps)
    if campaign is None or campaign.workspace_id != workspace_id:
        raise NotFound(f"Campaign {campaign_id} not found")
    return campaign


def list_campaigns(
    session: Session, *, workspace_id: int, after_id: int | None = None, limit: int = 100
) -> list[Campaign]:
    return repository.list_campaigns(
        session, workspace_id=workspace_id, after_id=after_id, limit=limit
    )


def _check_templates(
    connection_template: str | None, steps: Sequence[FollowUpStep] | None, tier: SenderTier
) -> None:
    errors: dict[str, list[str]] = {}
    if connection_template is not None:
        try:
            check_template(connection_template)
            fixed = note_length(render(connection_template, {}))
            if fixed > NOTE_LIMITS[tier]:
                errors["connection_template"] = [
                    f"Even with empty placeholders the note has {fixed} characters; "
                    f"a {tier.value} sender allows {NOTE_LIMITS[tier]}"
                ]
        except TemplateError as exc:
            errors["connection_template"] = [str(exc)]
    for i, step in enumerate(steps or ()):
        try:
            check_template(step.template)
        except TemplateError as exc:
            errors[f"follow_up_steps.{i}.template"] = [str(exc)]
    if errors:
        raise ValidationFailed("A template cannot be used as written", errors)


def _set_steps(session: Session, campaign: Campaign, steps: Sequence[FollowUpStep]) -> None:
    campaign.follow_up_steps.clear()
    session.flush()
    campaign.follow_up_steps.extend(
        FollowUpStepRow(position=i + 1, delay_days=s.delay_days, template=s.template)
        for i, s in enumerate(steps)
    )


def create_campaign(session: Session, *, workspace_id: int, data: CampaignCreate) -> Campaign:
    """A draft campaign. Raises NotFound for a sender outside the workspace, ValidationFailed for templates."""
    sender = get_sender(session, workspace_id=workspace_id, sender_id=data.sender_id)
    _check_templates(data.connection_template, data.follow_up_steps, sender.tier)
    if data.type is not CampaignType.CONNECTION and data.connection_template:
        raise ValidationFailed(
            "Only connection campaigns send a connection note",
            {
                "connection_template": [
                    f"Leave it empty: {data.type.label} campaigns send no connection note"
                ]
            },
        )
    campaign = Campaign(
        workspace_id=workspace_id,
        sender_id=sender.id,
        name=data.name.strip(),
        type=data.type,
        state=CampaignState.DRAFT,
        connection_template=data.connection_template,
        max_reinvites=data.max_reinvites,
        follow_up_steps=[
            FollowUpStepRow(position=i + 1, delay_days=s.delay_days, template=s.template)
            for i, s in enumerate(data.follow_up_steps)
        ],
    )
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(
    session: Session, *, workspace_id: int, campaign_id: int, data: CampaignUpdate, now: datetime
) -> Campaign:
    """Rename, edit templates, change state. Raises Conflict for a move the life cycle forbids."""
    campaign = get_campaign(session, workspace_id=workspace_id, campaign_id=campaign_id)
    if data.connection_template is not None or data.follow_up_steps is not None:
        sender = get_sender(session, workspace_id=workspace_id, sender_id=campaign.sender_id)
        _check_templates(data.connection_template, data.follow_up_steps, sender.tier)
    if data.name is not None:
        campaign.name = data.name.strip()
    if data.connection_template is not None:
        if data.connection_template != campaign.connection_template:
            # A new note may fit: contacts held back as too long are tried again.
            cleared = lifecycle_repository.clear_errors(
                session, campaign_id=campaign.id, code=ErrorCode.MESSAGE_TOO_LONG
            )
            counts.bump(
                session, {(campaign.id, counts.error_key(ErrorCode.MESSAGE_TOO_LONG)): -cleared}
            )
        campaign.connection_template = data.connection_template
    if data.max_reinvites is not None:
        campaign.max_reinvites = data.max_reinvites
    if data.follow_up_steps is not None:
        _set_steps(session, campaign, data.follow_up_steps)
    if data.state is not None:
        try:
            new_state = change_campaign_state(campaign.state, data.state)
        except InvalidCampaignState as exc:
            raise Conflict(str(exc)) from exc
        if new_state is CampaignState.RUNNING and campaign.started_at is None:
            campaign.started_at = now
        before = campaign.state
        changed = new_state is not before
        campaign.state = new_state
        if changed:
            outbox.record(
                session,
                workspace_id=workspace_id,
                type=EventType.CAMPAIGN_STATE_CHANGED,
                data={"campaign_id": campaign.id, "from": before.value, "to": new_state.value},
                now=now,
            )
            if new_state is CampaignState.ARCHIVED:
                lifecycle.settle_archived_campaign(session, campaign=campaign, now=now)
            # A pause or a resume changes what holds the sender's pending actions.
            session.flush()
            explain_sender(session, sender_id=campaign.sender_id, now=now)
    session.flush()
    return campaign


def campaign_stats(session: Session, campaign_ids: Sequence[int]) -> dict[int, CampaignStats]:
    """Counts per status and error, read from the maintained counts (no scan of the contacts)."""
    out: dict[int, CampaignStats] = {}
    for cid, keyed in counts.read_counts(session, campaign_ids).items():
        statuses = {
            k.split(":", 1)[1]: n for k, n in keyed.items() if k.startswith("status:") and n
        }
        errors = {
            ErrorCode(k.split(":", 1)[1]): n
            for k, n in keyed.items()
            if k.startswith("error:") and n
        }
        funnel = {c: keyed.get(counts.funnel_key(c), 0) for c in Counted}
        invited = funnel[Counted.INVITED]
        out[cid] = CampaignStats(
            **statuses,
            total=sum(statuses.values()),
            errors=sum(errors.values()),
            errors_by_code=errors,
            invited=invited,
            accepted=funnel[Counted.ACCEPTED],
            already_connected=funnel[Counted.ALREADY_CONNECTED],
            replied=funnel[Counted.REPLIED],
            acceptance_rate=funnel[Counted.ACCEPTED] / invited if invited else None,
        )
    return out


def campaign_reads(session: Session, campaigns: Sequence[Campaign]) -> list[CampaignRead]:
    stats = campaign_stats(session, [c.id for c in campaigns])
    return [
        CampaignRead(
            id=c.id,
            name=c.name,
            type=c.type,
            state=c.state,
            sender_id=c.sender_id,
            connection_template=c.connection_template,
            follow_up_steps=[
                FollowUpStep(delay_days=s.delay_days, template=s.template)
                for s in c.follow_up_steps
            ],
            max_reinvites=c.max_reinvites,
            started_at=c.started_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
            stats=stats[c.id],
        )
        for c in campaigns
    ]


@dataclass(frozen=True)
class NoteCheckView:
    length: int
    limit: int
    unknown: str | None
    exceeding: int | None

    @property
    def over(self) -> bool:
        return self.length > self.limit or self.unknown is not None


SAMPLE_CONTACT = {
    "first_name": "Alexandra",
    "last_name": "Johnson",
    "company": "Acme Corporation",
    "title": "VP Engineering",
}


def note_check(
    session: Session,
    *,
    workspace_id: int,
    template: str,
    sender_id: int | None,
    campaign_id: int | None,
) -> NoteCheckView:
    """A note's length against the sender tier's limit (rendered for a sample contact) and, for an
    existing campaign, how many contacts not yet invited would exceed it — counted in SQL."""
    tier = SenderTier.BASIC
    if campaign_id is not None:
        campaign = get_campaign(
            session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
        )
        sender_id = campaign.sender_id
    if sender_id is not None:
        tier = get_sender(session, workspace_id=workspace_id, sender_id=sender_id).tier
    limit = NOTE_LIMITS[tier]
    try:
        check_template(template)
        unknown = None
    except TemplateError as exc:
        unknown = str(exc)
    length = note_length(render(template, SAMPLE_CONTACT))
    exceeding = None
    if campaign_id is not None and unknown is None:
        fixed = note_length(render(template, {}))
        uses = {p: template.count("{" + p + "}") for p in PLACEHOLDERS}
        exceeding = repository.count_notes_over(
            session, campaign_id=campaign_id, fixed=fixed, uses=uses, limit=limit
        )
    return NoteCheckView(length=length, limit=limit, unknown=unknown, exceeding=exceeding)


def campaign_workspace(session: Session, campaign_id: int) -> int:
    """The workspace a campaign belongs to (the CLI acts with the operator's full rights)."""
    campaign = repository.get_campaign(session, campaign_id)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} not found")
    return campaign.workspace_id
