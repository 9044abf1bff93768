"""The overview: one card per campaign, and the 30-day activity chart."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.dashboard import service
from app.web.deps import NowDep, SessionDep
from app.web.security import ViewerDep
from app.web.templating import page

router = APIRouter(include_in_schema=False)


@router.get("/", name="overview")
def overview(request: Request, session: SessionDep, viewer: ViewerDep, now: NowDep) -> Response:
    cards = service.overview(session, workspace_id=viewer.workspace_id, now=now)
    days = service.actions_per_day(
        session,
        workspace_id=viewer.workspace_id,
        now=now,
        closed_days=request.app.state.closed_days,
    )
    return page(request, "dashboard/overview.html", {"cards": cards, "days": days})
