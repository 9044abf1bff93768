"""Admin pages for webhooks: subscribe (the secret shown once), enable, disable, delete, rotate the
secret, send a test, replay from a seq, and read each attempt, the backlog and the delivery lag."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.accounts import audit
from app.accounts.security import AdminDep, CsrfDep
from app.errors import AppError
from app.web.deps import NowDep, SessionDep
from app.web.forms import field_errors
from app.web.templating import page
from app.webhooks import service
from app.webhooks.api import keys
from app.webhooks.schemas import TYPE_NAMES, ReplayIn, WebhookIn

router = APIRouter(include_in_schema=False)


def _list(
    request: Request,
    session: SessionDep,
    workspace_id: int,
    *,
    status_code: int = 200,
    **extra: object,
) -> Response:
    hooks = service.list_webhooks(session, workspace_id=workspace_id)
    context: dict[str, object] = {
        "hooks": [service.webhook_read(session, w) for w in hooks],
        "types": TYPE_NAMES,
        "errors": {},
        "form": {"url": "", "description": "", "event_types": []},
        "created": None,
        **extra,
    }
    return page(request, "webhooks/list.html", context, status_code=status_code)


@router.get("/admin/webhooks")
def list_page(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    return _list(request, session, viewer.workspace_id)


@router.post("/admin/webhooks", dependencies=[CsrfDep])
def create(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    url: Annotated[str, Form(max_length=4000)] = "",
    description: Annotated[str, Form(max_length=1000)] = "",
    event_types: Annotated[list[str] | None, Form(max_length=20)] = None,
) -> Response:
    form = {"url": url, "description": description, "event_types": event_types or []}
    try:
        data = WebhookIn.model_validate(form)
        webhook, secret = service.create_webhook(
            session, workspace_id=viewer.workspace_id, data=data, keys=keys(request), now=now
        )
    except ValidationError as exc:
        return _list(
            request,
            session,
            viewer.workspace_id,
            status_code=422,
            errors=field_errors(exc),
            form=form,
        )
    except AppError as exc:
        errors = getattr(exc, "errors", None) or {"url": [exc.detail]}
        return _list(
            request, session, viewer.workspace_id, status_code=422, errors=errors, form=form
        )
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="webhook.created",
        target=webhook.url,
        now=now,
    )
    # The secret is shown in this answer only (never put in a URL, never shown again).
    return _list(
        request, session, viewer.workspace_id, created={"id": webhook.id, "secret": secret}
    )


def _detail(
    request: Request,
    session: SessionDep,
    workspace_id: int,
    webhook_id: int,
    *,
    status_code: int = 200,
    **extra: object,
) -> Response:
    webhook = service.get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    context: dict[str, object] = {
        "hook": service.webhook_read(session, webhook),
        "attempts": service.attempts(
            session, workspace_id=workspace_id, webhook_id=webhook_id, cursor=None, limit=100
        ).items,
        "message": None,
        "secret": None,
        "errors": {},
        **extra,
    }
    return page(request, "webhooks/detail.html", context, status_code=status_code)


@router.get("/admin/webhooks/{webhook_id:id}")
def detail(request: Request, session: SessionDep, viewer: AdminDep, webhook_id: int) -> Response:
    return _detail(request, session, viewer.workspace_id, webhook_id)


@router.post("/admin/webhooks/{webhook_id:id}/enabled", dependencies=[CsrfDep])
def set_enabled(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    webhook_id: int,
    enabled: Annotated[bool, Form()],
) -> Response:
    webhook = service.get_webhook(session, workspace_id=viewer.workspace_id, webhook_id=webhook_id)
    if enabled is not webhook.enabled:
        service.set_enabled(
            session, webhook, enabled=enabled, now=now, reason="Disabled by an admin"
        )
        audit.record(
            session,
            workspace_id=viewer.workspace_id,
            actor=audit.user_actor(viewer.email, viewer.user_id),
            action="webhook.updated",
            target=webhook.url,
            detail={"enabled": enabled},
            now=now,
        )
    message = (
        "Enabled: events recorded from now on are sent (replay what was missed)."
        if enabled
        else "Disabled: waiting deliveries were cancelled."
    )
    return _detail(request, session, viewer.workspace_id, webhook.id, message=message)


@router.post("/admin/webhooks/{webhook_id:id}/rotate", dependencies=[CsrfDep])
def rotate(
    request: Request, session: SessionDep, viewer: AdminDep, now: NowDep, webhook_id: int
) -> Response:
    secret, until = service.rotate_secret(
        session,
        workspace_id=viewer.workspace_id,
        webhook_id=webhook_id,
        keys=keys(request),
        now=now,
    )
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="webhook.secret_rotated",
        target=f"webhook {webhook_id}",
        now=now,
    )
    message = f"New secret below, shown once. Until {until:%Y-%m-%d %H:%M} UTC deliveries carry both signatures."
    return _detail(
        request, session, viewer.workspace_id, webhook_id, message=message, secret=secret
    )


@router.post("/admin/webhooks/{webhook_id:id}/test", dependencies=[CsrfDep])
def send_test(
    request: Request, session: SessionDep, viewer: AdminDep, now: NowDep, webhook_id: int
) -> Response:
    try:
        service.send_test(session, workspace_id=viewer.workspace_id, webhook_id=webhook_id, now=now)
        message = "A webhook.test event is on its way: its attempt appears below."
    except AppError as exc:
        message = exc.detail
    return _detail(request, session, viewer.workspace_id, webhook_id, message=message)


@router.post("/admin/webhooks/{webhook_id:id}/replay", dependencies=[CsrfDep])
def replay(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    webhook_id: int,
    after: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    try:
        data = ReplayIn.model_validate({"after": after.strip() or None})
        _hook, until = service.replay(
            session, workspace_id=viewer.workspace_id, webhook_id=webhook_id, after=data.after
        )
    except ValidationError as exc:
        return _detail(
            request,
            session,
            viewer.workspace_id,
            webhook_id,
            status_code=422,
            errors=field_errors(exc),
        )
    except AppError as exc:
        return _detail(
            request,
            session,
            viewer.workspace_id,
            webhook_id,
            status_code=422,
            errors={"after": [exc.detail]},
        )
    message = f"Replaying events {data.after + 1}–{until} in the background."
    return _detail(request, session, viewer.workspace_id, webhook_id, message=message)


@router.post("/admin/webhooks/{webhook_id:id}/delete", dependencies=[CsrfDep])
def delete(session: SessionDep, viewer: AdminDep, now: NowDep, webhook_id: int) -> Response:
    url = service.get_webhook(session, workspace_id=viewer.workspace_id, webhook_id=webhook_id).url
    service.delete_webhook(session, workspace_id=viewer.workspace_id, webhook_id=webhook_id)
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="webhook.deleted",
        target=url,
        now=now,
    )
    return RedirectResponse("/admin/webhooks", status_code=303)
