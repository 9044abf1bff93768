"""The overview: one card per campaign, and the 30-day activity chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.accounts.security import ViewerDep
from app.dashboard import service
from app.web.deps import NowDep, SessionDep
from app.web.templating import page

router = APIRouter(include_in_schema=False)


@router.get("/", name="overview")
def overview(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    now: NowDep,
    archived: Annotated[bool, Query()] = False,
) -> Response:
    cards = service.overview(session, workspace_id=viewer.workspace_id, now=now, archived=archived)
    hidden = 0 if archived else service.count_archived(session, workspace_id=viewer.workspace_id)
    days = service.actions_per_day(
        session,
        workspace_id=viewer.workspace_id,
        now=now,
        closed_days=request.app.state.closed_days,
    )
    context = {"cards": cards, "days": days, "archived": archived, "hidden_archived": hidden}
    return page(request, "dashboard/overview.html", context)
