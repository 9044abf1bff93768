"""Plain builders: add, flush, return. Every test composes the rows it needs from these."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.accounts.service import create_api_key, create_user, create_workspace
from app.campaigns.schemas import CampaignCreate, CampaignUpdate
from app.campaigns.service import create_campaign, update_campaign
from app.domain.statuses import CampaignState, CampaignType, Role, SenderTier
from app.models import Campaign, SenderAccount, User, Workspace
from app.senders.schemas import SenderCreate
from app.senders.service import create_sender

_seq = itertools.count(1)


def a_workspace(session: Session, name: str = "Acme") -> Workspace:
    n = next(_seq)
    return create_workspace(
        session,
        name=f"{name} {n}",
        admin_email=f"admin{n}@example.com",
        admin_password="password-123",
    )


def a_user(session: Session, workspace: Workspace, role: Role = Role.REP) -> User:
    n = next(_seq)
    return create_user(
        session,
        workspace_id=workspace.id,
        email=f"user{n}@example.com",
        password="password-123",
        role=role,
    )


def an_api_key(session: Session, workspace: Workspace, name: str = "integration") -> str:
    return create_api_key(session, workspace_id=workspace.id, name=name).token


def a_sender(session: Session, workspace: Workspace, **kw: Any) -> SenderAccount:
    data = {"name": "Sender", "tier": SenderTier.BASIC, **kw}
    return create_sender(session, workspace_id=workspace.id, data=SenderCreate(**data))


def a_campaign(
    session: Session,
    workspace: Workspace,
    sender: SenderAccount | None = None,
    *,
    type: CampaignType = CampaignType.CONNECTION,
    running: bool = False,
    now: datetime | None = None,
    **kw: Any,
) -> Campaign:
    sender = sender or a_sender(session, workspace)
    campaign = create_campaign(
        session,
        workspace_id=workspace.id,
        data=CampaignCreate(name=kw.pop("name", "Campaign"), type=type, sender_id=sender.id, **kw),
    )
    if running:
        assert now is not None
        update_campaign(
            session,
            workspace_id=workspace.id,
            campaign_id=campaign.id,
            data=CampaignUpdate(state=CampaignState.RUNNING),
            now=now,
        )
    return campaign
