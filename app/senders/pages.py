"""Sender accounts: admins edit caps and hours; reps read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.accounts.security import AdminDep, CsrfDep, ViewerDep
from app.errors import ValidationFailed
from app.senders import service
from app.senders.schemas import SenderCreate, SenderLimitsPatch, SenderUpdate, WorkingHours
from app.web.deps import SessionDep
from app.web.forms import field_errors
from app.web.templating import page

router = APIRouter(include_in_schema=False)
LIMIT_FIELDS = [
    ("daily_invites", "Invites per day"),
    ("weekly_invites", "Invites per 7 days"),
    ("daily_profile_visits", "Profile visits per day"),
    ("daily_follow_ups", "Messages per day"),
    ("daily_inmails", "InMails per day"),
    ("daily_withdrawals", "Withdrawals per day"),
]


def _page(request: Request, session: SessionDep, workspace_id: int, **extra: object) -> Response:
    senders = [
        service.sender_read(s)
        for s in service.list_senders(session, workspace_id=workspace_id, limit=200)
    ]
    return page(
        request,
        "senders/senders.html",
        {"senders": senders, "limit_fields": LIMIT_FIELDS, "errors": {}, "saved": False, **extra},
        status_code=422 if extra.get("errors") else 200,
    )


@router.get("/senders")
def senders(
    request: Request, session: SessionDep, viewer: ViewerDep, saved: bool = False
) -> Response:
    return _page(request, session, viewer.workspace_id, saved=saved)


@router.post("/senders", dependencies=[CsrfDep])
def add_sender(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    name: Annotated[str, Form(max_length=200)] = "",
    tier: Annotated[str, Form(max_length=20)] = "basic",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
) -> Response:
    try:
        data = SenderCreate.model_validate({"name": name, "tier": tier, "timezone": timezone})
    except ValidationError as exc:
        return _page(request, session, viewer.workspace_id, errors={0: field_errors(exc)})
    service.create_sender(session, workspace_id=viewer.workspace_id, data=data)
    return RedirectResponse("/senders?saved=1", status_code=303)


@router.post("/senders/{sender_id:id}", dependencies=[CsrfDep])
async def update_sender(
    sender_id: int, request: Request, session: SessionDep, viewer: AdminDep
) -> Response:
    form = await request.form()
    try:
        data = SenderUpdate(
            name=str(form.get("name", "")),
            tier=str(form.get("tier", "basic")),
            timezone=str(form.get("timezone", "UTC")),
            working_hours=WorkingHours(
                start=str(form.get("start", ""))[:5],
                end=str(form.get("end", ""))[:5],
                days=[int(str(d)) for d in form.getlist("days") if str(d).isdigit()],
            ),
            limits=SenderLimitsPatch.model_validate({f: form.get(f) for f, _ in LIMIT_FIELDS}),
        )
    except (ValidationError, ValueError) as exc:
        errors = field_errors(exc) if isinstance(exc, ValidationError) else {"form": [str(exc)]}
        return _page(request, session, viewer.workspace_id, errors={sender_id: errors})
    try:
        service.update_sender(
            session, workspace_id=viewer.workspace_id, sender_id=sender_id, data=data
        )
    except ValidationFailed as exc:
        return _page(request, session, viewer.workspace_id, errors={sender_id: exc.errors})
    return RedirectResponse(f"/senders?saved=1#sender-{sender_id}", status_code=303)
