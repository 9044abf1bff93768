"""Sender accounts: the LinkedIn accounts campaigns send from, their caps and working hours."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.domain.pacing import SenderLimits as DomainLimits
from app.domain.pacing import SenderPacing
from app.domain.pacing import WorkingHours as DomainHours
from app.errors import NotFound
from app.models import SenderAccount
from app.senders.repository import list_senders as list_senders
from app.senders.schemas import (
    SenderCreate,
    SenderLimits,
    SenderRead,
    SenderUpdate,
    WorkingHours,
)

LIMIT_FIELDS = tuple(SenderLimits.model_fields)


def get_sender(session: Session, *, workspace_id: int, sender_id: int) -> SenderAccount:
    """The sender in this workspace; NotFound for another workspace's id."""
    sender = session.get(SenderAccount, sender_id)
    if sender is None or sender.workspace_id != workspace_id:
        raise NotFound(f"Sender account {sender_id} not found")
    return sender


def _apply_hours(sender: SenderAccount, hours: WorkingHours) -> None:
    sender.work_start = hours.start_time
    sender.work_end = hours.end_time
    sender.work_days = "".join(str(d) for d in sorted(set(hours.days)))


def create_sender(session: Session, *, workspace_id: int, data: SenderCreate) -> SenderAccount:
    sender = SenderAccount(
        workspace_id=workspace_id, name=data.name.strip(), tier=data.tier, timezone=data.timezone
    )
    _apply_hours(sender, data.working_hours)
    for field in LIMIT_FIELDS:
        setattr(sender, field, getattr(data.limits, field))
    session.add(sender)
    session.flush()
    return sender


def update_sender(
    session: Session, *, workspace_id: int, sender_id: int, data: SenderUpdate
) -> SenderAccount:
    sender = get_sender(session, workspace_id=workspace_id, sender_id=sender_id)
    if data.name is not None:
        sender.name = data.name.strip()
    if data.tier is not None:
        sender.tier = data.tier
    if data.timezone is not None:
        sender.timezone = data.timezone
    if data.working_hours is not None:
        _apply_hours(sender, data.working_hours)
    if data.limits is not None:
        for field, value in data.limits.model_dump(exclude_none=True).items():
            setattr(sender, field, value)
    session.flush()
    return sender


def sender_read(sender: SenderAccount) -> SenderRead:
    return SenderRead(
        id=sender.id,
        name=sender.name,
        tier=sender.tier,
        timezone=sender.timezone,
        working_hours=WorkingHours.of(
            sender.work_start, sender.work_end, [int(d) for d in sender.work_days]
        ),
        limits=SenderLimits(**{f: getattr(sender, f) for f in LIMIT_FIELDS}),
        cooldown_until=sender.cooldown_until,
        created_at=sender.created_at,
        updated_at=sender.updated_at,
    )


def sender_pacing(sender: SenderAccount) -> SenderPacing:
    """The domain's view of a sender, for pacing decisions."""
    return SenderPacing(
        limits=DomainLimits(**{f: getattr(sender, f) for f in LIMIT_FIELDS}),
        hours=DomainHours(
            start=sender.work_start,
            end=sender.work_end,
            days=frozenset(int(d) for d in sender.work_days),
        ),
        timezone=sender.timezone,
        cooldown_until=sender.cooldown_until,
    )
