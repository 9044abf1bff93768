"""The engine's sweeps (SPEC §3): stale invites withdrawn, old withdrawals freed for a re-invite,
and withdrawals chosen by hand. Set-based through the lifecycle owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.domain.transitions import REINVITE_AFTER, ContactEvent
from app.engine import repository
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause


def withdraw_stale_invites(session: Session, *, now: datetime) -> int:
    """Every invite older than its workspace's limit (default 20 days) becomes withdrawn, with a
    withdraw_invite action queued (Pending until it runs, within the daily withdrawal cap)."""
    return sum(
        lifecycle.expire_invites(session, workspace_id=workspace_id, withdraw_after=days, now=now)
        for workspace_id, days in repository.workspaces_withdraw_after(session).items()
    )


def release_old_withdrawals(session: Session, *, now: datetime, limit: int = 10_000) -> int:
    """Withdrawn contacts with a re-invite left become not connected 3 weeks after the withdrawal
    went out; the others stay withdrawn (their log said so when the invite was withdrawn)."""
    contacts = repository.reinvitable_contacts(session, cutoff=now - REINVITE_AFTER, limit=limit)
    campaigns = repository.campaigns_by_id(session, {x.campaign_id for x in contacts})
    for contact in contacts:
        lifecycle.apply_event(
            session,
            contact=contact,
            campaign=campaigns[contact.campaign_id],
            event=ContactEvent.REINVITE_ALLOWED,
            now=now,
            cause=Cause.ENGINE,
            explain=False,
        )
    return len(contacts)
