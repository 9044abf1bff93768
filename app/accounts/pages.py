"""Sign-in, sign-out, password change, and the admin's users and API keys pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts import audit, service, throttle
from app.accounts.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AdminDep,
    CsrfDep,
    Viewer,
    ViewerDep,
    check_login_csrf,
    current_viewer,
    forget_cookie,
    new_login_csrf,
    read_cookie,
    session_policy,
    write_cookie,
)
from app.accounts.sessions import open_session, sign_in, sign_out
from app.domain.statuses import Role
from app.errors import AppError, RateLimited, ValidationFailed
from app.models import User
from app.web.deps import NowDep, SessionDep
from app.web.forms import form_id
from app.web.templating import page

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another site."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or urlparse(target).netloc
    ):
        return "/"
    return target


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    email: str = "",
    next_: str = "/",
    status: int = 200,
) -> Response:
    token = new_login_csrf()
    response = page(
        request,
        "accounts/login.html",
        {"error": error, "email": email, "next": next_, "login_csrf": token},
        status_code=status,
    )
    write_cookie(response, request, LOGIN_CSRF_COOKIE, token, samesite="strict", max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query name users see
    if current_viewer(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    now: NowDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002
) -> Response:
    """No request transaction here: the attempt is counted, the password checked and the session
    written in steps, so the hash never runs inside a write transaction (app.accounts.sessions)."""
    check_login_csrf(request, csrf_token)
    settings = request.app.state.settings
    ip = request.client.host if request.client else "unknown"
    device = throttle.known_device(
        settings.secret_key, read_cookie(request, throttle.DEVICE_COOKIE), email
    )
    try:
        signed = sign_in(
            request.app.state.sessionmaker,
            request.app.state.read_sessionmaker,
            email=email,
            password=password,
            ip=ip,
            device=device,
            now=now,
            policy=session_policy(settings),
            old_token=read_cookie(request, SESSION_COOKIE),
        )
    except RateLimited as exc:
        response = _login_page(
            request, error=exc.detail, email=email, next_=_safe_next(next), status=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if signed is None:
        return _login_page(
            request,
            error="Wrong email or password.",
            email=email,
            next_=_safe_next(next),
            status=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    write_cookie(
        response,
        request,
        SESSION_COOKIE,
        signed.token,
        max_age=settings.session_absolute_hours * 3600,
    )
    if device is None:  # this browser is a known device of the account from now on
        write_cookie(
            response,
            request,
            throttle.DEVICE_COOKIE,
            throttle.device_cookie(settings.secret_key, email),
            max_age=throttle.DEVICE_COOKIE_DAYS * 86400,
        )
    forget_cookie(response, request, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", dependencies=[CsrfDep])
def logout(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    token = read_cookie(request, SESSION_COOKIE)
    if token:
        sign_out(session, token=token)
    response = RedirectResponse("/login", status_code=303)
    forget_cookie(response, request, SESSION_COOKIE)
    return response


def _account(
    request: Request,
    session: SessionDep,
    viewer: Viewer,
    *,
    status_code: int = 200,
    **extra: object,
) -> Response:
    now = request.app.state.clock()
    context: dict[str, object] = {
        "saved": False,
        "errors": {},
        "message": None,
        "sessions": service.user_sessions(session, user_id=viewer.user_id, now=now),
        **extra,
    }
    return page(request, "accounts/account.html", context, status_code=status_code)


@router.get("/account")
def account(
    request: Request, session: SessionDep, viewer: ViewerDep, saved: bool = False
) -> Response:
    return _account(request, session, viewer, saved=saved)


@router.post("/account/sessions/{session_id:id}/end", dependencies=[CsrfDep])
def end_session(
    request: Request, session: SessionDep, viewer: ViewerDep, session_id: int
) -> Response:
    if session_id == viewer.session_id:
        return _account(
            request, session, viewer, message="This is the session you are using: sign out instead."
        )
    service.end_session(session, user_id=viewer.user_id, session_id=session_id)
    return _account(request, session, viewer, message="That session was ended.")


@router.post("/account/sessions/end-others", dependencies=[CsrfDep])
def end_other_sessions(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    ended = service.end_other_sessions(session, user_id=viewer.user_id, keep=viewer.session_id)
    return _account(
        request, session, viewer, message=f"{ended} other session{'s' if ended != 1 else ''} ended."
    )


@router.post("/account/password", dependencies=[CsrfDep])
def change_password(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    now: NowDep,
    current_password: Annotated[str, Form(max_length=1000)] = "",
    new_password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    user = session.get_one(User, viewer.user_id)
    try:
        with request.app.state.sessionmaker.begin() as counting:
            throttle.reserve_password_check(counting, user_id=user.id, now=now)
        service.change_password(session, user=user, current=current_password, new=new_password)
    except RateLimited as exc:
        response = _account(
            request, session, viewer, errors={"current_password": [exc.detail]}, status_code=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except ValidationFailed as exc:
        return _account(request, session, viewer, errors=exc.errors, status_code=422)
    service.sign_out_everywhere(session, user_id=user.id)
    # Keep this browser signed in with a fresh session (the password was just checked).
    signed = open_session(
        session,
        user_id=user.id,
        email=user.email,
        ip=request.client.host if request.client else "unknown",
        device=None,
        now=now,
        policy=session_policy(request.app.state.settings),
        old_token=None,
    )
    response = RedirectResponse("/account?saved=1", status_code=303)
    write_cookie(
        response,
        request,
        SESSION_COOKIE,
        signed.token,
        max_age=request.app.state.settings.session_absolute_hours * 3600,
    )
    return response


# ------------------------------------------------------------------ admin: users


@router.get("/admin/users")
def users(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    return page(
        request,
        "accounts/users.html",
        {"users": service.list_users(session, workspace_id=viewer.workspace_id)},
    )


@router.post("/admin/users", dependencies=[CsrfDep])
def add_user(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[Role, Form()] = Role.REP,
) -> Response:
    try:
        created = service.create_user(
            session, workspace_id=viewer.workspace_id, email=email, password=password, role=role
        )
        audit.record(
            session,
            workspace_id=viewer.workspace_id,
            actor=audit.user_actor(viewer.email, viewer.user_id),
            action="user.created",
            target=created.email,
            detail={"role": role.value},
            now=request.app.state.clock(),
        )
    except AppError as exc:
        detail = (
            "; ".join(sum(exc.errors.values(), []))
            if isinstance(exc, ValidationFailed)
            else exc.detail
        )
        listed = service.list_users(session, workspace_id=viewer.workspace_id)
        return page(
            request, "accounts/users.html", {"users": listed, "error": detail}, status_code=422
        )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id:id}", dependencies=[CsrfDep])
def update_user(
    user_id: int,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    role: Annotated[Role, Form()],
    active: Annotated[bool, Form()],
) -> Response:
    user = service.set_user_access(
        session,
        workspace_id=viewer.workspace_id,
        user_id=user_id,
        role=role,
        active=active,
        by=viewer.user_id,
    )
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="user.access_changed",
        target=user.email,
        detail={"role": role.value, "active": active},
        now=now,
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id:id}/reset-password", dependencies=[CsrfDep])
def reset_password(
    request: Request, user_id: int, session: SessionDep, viewer: AdminDep, now: NowDep
) -> Response:
    """A one-time temporary password, shown once in this answer; the user's sessions end and
    their next sign-in asks for a new password before any page."""
    try:
        user, password = service.reset_password(
            session, workspace_id=viewer.workspace_id, user_id=user_id, by=viewer.user_id
        )
    except ValidationFailed as exc:
        listed = service.list_users(session, workspace_id=viewer.workspace_id)
        return page(
            request, "accounts/users.html", {"users": listed, "error": exc.detail}, status_code=422
        )
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="user.password_reset",
        target=user.email,
        now=now,
    )
    listed = service.list_users(session, workspace_id=viewer.workspace_id)
    return page(
        request,
        "accounts/users.html",
        {"users": listed, "reset": {"email": user.email, "password": password}},
        headers={"Cache-Control": "no-store"},
    )


# ------------------------------------------------------------------ admin: API keys


@router.get("/admin/api-keys")
def api_keys(request: Request, session: SessionDep, viewer: AdminDep, now: NowDep) -> Response:
    return page(
        request,
        "accounts/api_keys.html",
        {"keys": service.list_api_keys(session, workspace_id=viewer.workspace_id), "now": now},
    )


@router.post("/admin/api-keys", dependencies=[CsrfDep])
def create_key(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    name: Annotated[str, Form(max_length=200)] = "",
    expires_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        expires_at = expiry_of(expires_on, now)
        issued = service.create_api_key(
            session, workspace_id=viewer.workspace_id, name=name, expires_at=expires_at
        )
    except ValidationFailed as exc:
        keys = service.list_api_keys(session, workspace_id=viewer.workspace_id)
        return page(
            request,
            "accounts/api_keys.html",
            {"keys": keys, "error": exc.detail, "now": now},
            status_code=422,
        )
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="api_key.created",
        target=f"{issued.api_key.name} ({issued.api_key.prefix}…)",
        detail={"expires_at": expires_at.isoformat() if expires_at else None},
        now=now,
    )
    keys = service.list_api_keys(session, workspace_id=viewer.workspace_id)
    # Shown once, in this response only; never stored in clear.
    return page(
        request,
        "accounts/api_keys.html",
        {"keys": keys, "new_token": issued.token, "now": now},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/admin/api-keys/{key_id:id}/revoke", dependencies=[CsrfDep])
def revoke_key(key_id: int, session: SessionDep, viewer: AdminDep, now: NowDep) -> Response:
    key = service.revoke_api_key(
        session, workspace_id=viewer.workspace_id, api_key_id=key_id, now=now
    )
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="api_key.revoked",
        target=f"{key.name} ({key.prefix}…)",
        now=now,
    )
    return RedirectResponse("/admin/api-keys", status_code=303)


# ------------------------------------------------------------------ admin: the audit log


@router.get("/admin/audit")
def audit_log(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=320)] = "",
    before: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    before_id = form_id(before)
    events = audit.events(
        session,
        workspace_id=viewer.workspace_id,
        action=action or None,
        actor=actor or None,
        before_id=before_id,
        limit=100,
    )
    return page(
        request,
        "accounts/audit.html",
        {
            "events": events,
            "actions": audit.ACTIONS,
            "actors": audit.actors(session, workspace_id=viewer.workspace_id),
            "action": action,
            "actor": actor,
            "more": events[-1].id if len(events) == 100 else None,
        },
    )


def expiry_of(value: str, now: datetime) -> datetime | None:
    """An optional expiry date (YYYY-MM-DD, in the future): the key works until that day ends."""
    value = value.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(
            "The expiry date is not a date", {"expires_on": ["Use YYYY-MM-DD, or leave it empty"]}
        ) from exc
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
    if end <= now:
        raise ValidationFailed(
            "The expiry date is in the past", {"expires_on": ["Choose a later day"]}
        )
    return end
