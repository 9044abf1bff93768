"""The campaign page (contact table, filters, admin actions), the editor, and the CSV export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.accounts import audit
from app.accounts.security import AdminDep, CsrfDep
from app.campaigns import service
from app.campaigns.schemas import CampaignCreate, CampaignUpdate, FollowUpStep
from app.domain.statuses import CampaignState
from app.errors import Conflict, ValidationFailed
from app.senders.service import list_senders
from app.web.deps import NowDep, SessionDep
from app.web.forms import field_errors, form_id
from app.web.templating import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
STATE_ACTIONS = {
    CampaignState.DRAFT: [("running", "Start"), ("archived", "Archive")],
    CampaignState.RUNNING: [("paused", "Pause"), ("archived", "Archive")],
    CampaignState.PAUSED: [("running", "Resume"), ("archived", "Archive")],
    CampaignState.ARCHIVED: [],
}


@router.post("/campaigns/{campaign_id:id}/state", dependencies=[CsrfDep])
def change_state(
    campaign_id: int,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    state: Annotated[CampaignState, Form()],
) -> Response:
    campaign = service.update_campaign(
        session,
        workspace_id=viewer.workspace_id,
        campaign_id=campaign_id,
        data=CampaignUpdate(state=state),
        now=now,
    )
    if state is CampaignState.ARCHIVED:
        audit.record(
            session,
            workspace_id=viewer.workspace_id,
            actor=audit.user_actor(viewer.email, viewer.user_id),
            action="campaign.archived",
            target=campaign.name,
            now=now,
        )
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


def _steps_from_form(form: Any) -> list[dict[str, Any]]:
    steps = []
    for i in range(5):
        template = str(form.get(f"step_template_{i}", "")).strip()
        delay = str(form.get(f"step_delay_{i}", "")).strip()
        if template:
            steps.append({"delay_days": int(delay) if delay.isdigit() else 0, "template": template})
    return steps


def _form_values(form: Any) -> dict[str, Any]:
    sender = str(form.get("sender_id", ""))
    return {
        "name": str(form.get("name", "")),
        "type": str(form.get("type", "connection")),
        "sender_id": form_id(sender),
        "connection_template": str(form.get("connection_template", "")),
        "steps": [FollowUpStep.model_construct(**s) for s in _steps_from_form(form)],
        "max_reinvites": form.get("max_reinvites") or "0",
    }


def _editor(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    campaign: Any,
    values: dict[str, Any],
    errors: dict[str, list[str]],
) -> Response:
    senders = list_senders(session, workspace_id=viewer.workspace_id, limit=200)
    return page(
        request,
        "campaigns/form.html",
        {"campaign": campaign, "form": values, "errors": errors, "senders": senders, "check": None},
        status_code=422 if errors else 200,
    )


@router.get("/campaigns/new")
def new_campaign(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    values: dict[str, Any] = {
        "name": "",
        "type": "connection",
        "sender_id": None,
        "connection_template": "",
        "steps": [],
        "max_reinvites": 0,
    }
    return _editor(request, session, viewer, None, values, {})


@router.post("/campaigns/new", dependencies=[CsrfDep])
async def create_campaign(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    form = await request.form()
    values = _form_values(form)
    try:
        data = CampaignCreate.model_validate(
            {
                "name": values["name"],
                "type": values["type"],
                "sender_id": values["sender_id"] or 0,
                "connection_template": values["connection_template"],
                "follow_up_steps": _steps_from_form(form),
                "max_reinvites": values["max_reinvites"],
            }
        )
        campaign = service.create_campaign(session, workspace_id=viewer.workspace_id, data=data)
    except ValidationError as exc:
        return _editor(request, session, viewer, None, values, field_errors(exc))
    except ValidationFailed as exc:
        return _editor(request, session, viewer, None, values, exc.errors)
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


@router.get("/campaigns/{campaign_id:id}/edit")
def edit_campaign(
    campaign_id: int, request: Request, session: SessionDep, viewer: AdminDep
) -> Response:
    c = service.get_campaign(session, workspace_id=viewer.workspace_id, campaign_id=campaign_id)
    values = {
        "name": c.name,
        "type": c.type.value,
        "sender_id": c.sender_id,
        "connection_template": c.connection_template,
        "steps": c.follow_up_steps,
        "max_reinvites": c.max_reinvites,
    }
    return _editor(request, session, viewer, c, values, {})


@router.post("/campaigns/{campaign_id:id}/edit", dependencies=[CsrfDep])
async def save_campaign(
    campaign_id: int, request: Request, session: SessionDep, viewer: AdminDep, now: NowDep
) -> Response:
    campaign = service.get_campaign(
        session, workspace_id=viewer.workspace_id, campaign_id=campaign_id
    )
    form = await request.form()
    values = _form_values(form)
    try:
        data = CampaignUpdate.model_validate(
            {
                "name": values["name"],
                "connection_template": values["connection_template"],
                "follow_up_steps": _steps_from_form(form),
                "max_reinvites": values["max_reinvites"],
            }
        )
        service.update_campaign(
            session, workspace_id=viewer.workspace_id, campaign_id=campaign_id, data=data, now=now
        )
    except ValidationError as exc:
        return _editor(request, session, viewer, campaign, values, field_errors(exc))
    except (ValidationFailed, Conflict) as exc:
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": [exc.detail]}
        return _editor(request, session, viewer, campaign, values, errors)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/note-check", dependencies=[CsrfDep])
async def note_check(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    """The editor's live length check: the note against the sender's tier, and how many contacts exceed it."""
    form = await request.form()
    template = str(form.get("connection_template", ""))[:2000]
    sender_id = str(form.get("sender_id", ""))
    campaign_id = str(form.get("campaign_id", ""))
    check = service.note_check(
        session,
        workspace_id=viewer.workspace_id,
        template=template,
        sender_id=form_id(sender_id),
        campaign_id=int(campaign_id) if campaign_id.isdigit() else None,
    )
    return page(
        request,
        "campaigns/form.html",
        {"check": check, "campaign": None, "form": {}, "errors": {}, "senders": []},
        block="note_check",
    )
