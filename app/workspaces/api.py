"""/api/v1/workspace — thin: parse, call the service, return."""

from __future__ import annotations

from fastapi import APIRouter

from app.accounts import audit
from app.accounts.api_caller import ApiCallerDep
from app.web.deps import NowDep, SessionDep
from app.workspaces import service
from app.workspaces.schemas import WorkspaceRead, WorkspaceUpdate

router = APIRouter(prefix="/workspace", tags=["workspace"])


@router.get(
    "",
    operation_id="getWorkspace",
    response_model=WorkspaceRead,
    summary="Get the caller's workspace",
)
def get_workspace(session: SessionDep, caller: ApiCallerDep) -> WorkspaceRead:
    return service.workspace_read(service.get_workspace(session, workspace_id=caller.workspace_id))


@router.patch(
    "",
    operation_id="updateWorkspace",
    response_model=WorkspaceRead,
    summary="Change the caller's workspace",
    description="Only the fields given change. A shorter `withdraw_after_days` takes effect at the "
    "next engine tick: open invites already older than it are withdrawn then.",
)
def update_workspace(
    data: WorkspaceUpdate, session: SessionDep, caller: ApiCallerDep, now: NowDep
) -> WorkspaceRead:
    workspace = service.update_workspace(session, workspace_id=caller.workspace_id, data=data)
    audit.record(
        session,
        workspace_id=caller.workspace_id,
        actor=audit.api_actor(caller.api_key_id),
        action="workspace.updated",
        detail=data.model_dump(exclude_none=True),
        now=now,
    )
    return service.workspace_read(workspace)
