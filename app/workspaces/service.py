"""The caller's workspace and its settings (SPEC §4 `GET/PATCH /workspace`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.lifecycle.repository import count_contacts, stale_invites
from app.models import Workspace
from app.workspaces.schemas import WorkspaceRead, WorkspaceUpdate


def get_workspace(session: Session, *, workspace_id: int) -> Workspace:
    return session.get_one(Workspace, workspace_id)


def update_workspace(session: Session, *, workspace_id: int, data: WorkspaceUpdate) -> Workspace:
    """Apply the given fields. A shorter withdrawal threshold takes effect at the next engine tick:
    invites already older than it are withdrawn then (see `stale_at_once`)."""
    workspace = get_workspace(session, workspace_id=workspace_id)
    if data.name is not None:
        workspace.name = data.name
    if data.withdraw_after_days is not None:
        workspace.withdraw_after_days = data.withdraw_after_days
    session.flush()
    return workspace


def stale_at_once(session: Session, *, workspace_id: int, days: int, now: datetime) -> int:
    """How many open invites would be past a threshold of `days` right now: what the next engine
    tick withdraws at once if the workspace's threshold became `days`."""
    return count_contacts(
        session, stale_invites(workspace_id=workspace_id, cutoff=now - timedelta(days=days))
    )


def workspace_read(workspace: Workspace) -> WorkspaceRead:
    return WorkspaceRead(
        id=workspace.id,
        name=workspace.name,
        withdraw_after_days=workspace.withdraw_after_days,
        created_at=workspace.created_at,
    )
