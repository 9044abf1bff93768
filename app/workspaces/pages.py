"""Workspace settings: admins rename the workspace and set when stale invitations are withdrawn.

Lowering the threshold can make many open invites stale at once; the page says how many, live as
the number changes, and asks before applying."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.accounts import audit
from app.accounts.security import AdminDep, CsrfDep
from app.domain.transitions import MAX_WITHDRAW_AFTER_DAYS, MIN_WITHDRAW_AFTER_DAYS
from app.web.deps import NowDep, SessionDep
from app.web.forms import field_errors
from app.web.templating import page
from app.workspaces import service
from app.workspaces.schemas import WorkspaceUpdate

router = APIRouter(include_in_schema=False)
TEMPLATE = "workspaces/settings.html"


def _page(
    request: Request,
    session: SessionDep,
    workspace_id: int,
    now: NowDep,
    *,
    block: str | None = None,
    status_code: int = 200,
    **extra: object,
) -> Response:
    workspace = service.get_workspace(session, workspace_id=workspace_id)
    context: dict[str, object] = {
        "workspace": workspace,
        "name": workspace.name,
        "days": workspace.withdraw_after_days,
        "min_days": MIN_WITHDRAW_AFTER_DAYS,
        "max_days": MAX_WITHDRAW_AFTER_DAYS,
        "errors": {},
        "saved": False,
        "confirm": False,
        "stale": None,
        **extra,
    }
    return page(request, TEMPLATE, context, block=block, status_code=status_code)


@router.get("/admin/workspace")
def settings(
    request: Request, session: SessionDep, viewer: AdminDep, now: NowDep, saved: bool = False
) -> Response:
    return _page(request, session, viewer.workspace_id, now, saved=saved)


@router.get("/admin/workspace/stale")
def stale_preview(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    withdraw_after_days: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """The live line under the field: how many invites a threshold of N days makes stale now."""
    try:  # the form's own rule (WorkspaceUpdate), not a second copy of the range
        days = WorkspaceUpdate.model_validate(
            {"withdraw_after_days": withdraw_after_days.strip() or None}
        ).withdraw_after_days
    except ValidationError:
        days = None
    stale = (
        None
        if days is None
        else service.stale_at_once(session, workspace_id=viewer.workspace_id, days=days, now=now)
    )
    return _page(
        request, session, viewer.workspace_id, now, block="preview", days=days, stale=stale
    )


@router.post("/admin/workspace", dependencies=[CsrfDep])
def update_settings(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    name: Annotated[str, Form(max_length=1000)] = "",
    withdraw_after_days: Annotated[str, Form(max_length=10)] = "",
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    try:
        data = WorkspaceUpdate.model_validate(
            {"name": name, "withdraw_after_days": withdraw_after_days.strip() or None}
        )
    except ValidationError as exc:
        return _page(
            request,
            session,
            viewer.workspace_id,
            now,
            status_code=422,
            errors=field_errors(exc),
            name=name,
            days=withdraw_after_days,
        )
    workspace = service.get_workspace(session, workspace_id=viewer.workspace_id)
    days = data.withdraw_after_days
    if days is not None and days != workspace.withdraw_after_days and not confirmed:
        # A change of the threshold is applied only once the admin has seen what it does.
        stale = service.stale_at_once(session, workspace_id=viewer.workspace_id, days=days, now=now)
        return _page(
            request,
            session,
            viewer.workspace_id,
            now,
            confirm=True,
            stale=stale,
            name=data.name or workspace.name,
            days=days,
        )
    service.update_workspace(session, workspace_id=viewer.workspace_id, data=data)
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="workspace.updated",
        detail=data.model_dump(exclude_none=True),
        now=now,
    )
    return RedirectResponse("/admin/workspace?saved=1", status_code=303)
