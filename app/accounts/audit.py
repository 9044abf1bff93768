"""The audit log of admin actions (SPEC §8): role and user changes, password resets, API keys
created or revoked, workspace settings, imports undone, campaigns archived, webhooks changed.

Recorded by the entry points (pages, API routes, CLI) beside the service call, in the same
transaction: they know who acts (a signed-in admin, an API key, the operator at the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.accounts import repository
from app.models import AuditEvent

ACTIONS = {
    "user.created": "User added",
    "user.access_changed": "Role or access changed",
    "user.password_reset": "Password reset by an admin",
    "user.password_set": "Password set at the command line",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "workspace.updated": "Workspace settings changed",
    "import.undone": "Import undone",
    "campaign.archived": "Campaign archived",
    "webhook.created": "Webhook created",
    "webhook.updated": "Webhook changed",
    "webhook.deleted": "Webhook deleted",
    "webhook.secret_rotated": "Webhook secret rotated",
}


@dataclass(frozen=True)
class Actor:
    label: str  # an email, "api key ctk_abc…", "cli"
    user_id: int | None = None


def api_actor(api_key_id: int) -> Actor:
    return Actor(label=f"API key #{api_key_id}")


def user_actor(email: str, user_id: int) -> Actor:
    return Actor(label=email, user_id=user_id)


def record(
    session: Session,
    *,
    workspace_id: int,
    actor: Actor,
    action: str,
    now: datetime,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    assert action in ACTIONS, action  # noqa: S101 - a typo here is a bug
    repository.add_audit_event(
        session,
        {
            "workspace_id": workspace_id,
            "actor_user_id": actor.user_id,
            "actor": actor.label[:320],
            "action": action,
            "target": target[:300],
            "detail": dict(detail or {}),
            "at": now,
        },
    )


def events(
    session: Session,
    *,
    workspace_id: int,
    action: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    return repository.audit_events(
        session,
        workspace_id=workspace_id,
        action=action if action in ACTIONS else None,
        actor=actor or None,
        before_id=before_id,
        limit=limit,
    )


def actors(session: Session, *, workspace_id: int) -> list[str]:
    return repository.audit_actors(session, workspace_id=workspace_id)
