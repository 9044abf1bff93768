"""The engine's sweeps (SPEC §3): stale invites withdrawn, old withdrawals freed for a re-invite,
and withdrawals chosen by hand. Set-based through the lifecycle owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.domain.transitions import REINVITE_AFTER, ContactEvent
from app.engine import repository
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause

# Stale invites withdrawn per transaction: on SQLite a transaction holds the only write lock, and
# 100,000 expiries in one held it for about 2 s while every API write waited; a batch holds it for
# a few milliseconds and writers take turns between batches.
SWEEP_BATCH = 2000


def withdraw_stale_invites(session: Session, *, now: datetime, limit: int | None = None) -> int:
    """Invites older than their workspace's limit (default 20 days) become withdrawn, with a
    withdraw_invite action queued (Pending until it runs, within the daily withdrawal cap): all
    of them, or the first `limit` (one batch of the sweep: call again while it returns `limit`)."""
    done = 0
    for workspace_id, days in repository.workspaces_withdraw_after(session).items():
        left = None if limit is None else limit - done
        if left == 0:
            break
        done += lifecycle.expire_invites(
            session, workspace_id=workspace_id, withdraw_after=days, now=now, limit=left
        )
    return done


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
