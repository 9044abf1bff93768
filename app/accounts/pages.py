"""Sign-in, sign-out, password change, and the admin's users and API keys pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts import service, throttle
from app.accounts.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AdminDep,
    CsrfDep,
    ViewerDep,
    check_login_csrf,
    cookie_is_secure,
    current_viewer,
    new_login_csrf,
    session_policy,
)
from app.accounts.sessions import open_session, sign_in, sign_out
from app.domain.statuses import Role
from app.errors import AppError, RateLimited, ValidationFailed
from app.models import User
from app.web.deps import NowDep, SessionDep
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
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request),
        max_age=3600,
    )
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
        settings.secret_key, request.cookies.get(throttle.DEVICE_COOKIE), email
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
            old_token=request.cookies.get(SESSION_COOKIE),
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
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request),
        max_age=settings.session_absolute_hours * 3600,
    )
    if device is None:  # this browser is a known device of the account from now on
        response.set_cookie(
            throttle.DEVICE_COOKIE,
            throttle.device_cookie(settings.secret_key, email),
            httponly=True,
            samesite="lax",
            secure=cookie_is_secure(request),
            max_age=throttle.DEVICE_COOKIE_DAYS * 86400,
        )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", dependencies=[CsrfDep])
def logout(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sign_out(session, token=token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account")
def account(request: Request, viewer: ViewerDep, saved: bool = False) -> Response:
    return page(request, "accounts/account.html", {"saved": saved, "errors": {}})


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
        response = page(
            request,
            "accounts/account.html",
            {"saved": False, "errors": {"current_password": [exc.detail]}},
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except ValidationFailed as exc:
        return page(
            request,
            "accounts/account.html",
            {"saved": False, "errors": exc.errors},
            status_code=422,
        )
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
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(request),
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
        service.create_user(
            session, workspace_id=viewer.workspace_id, email=email, password=password, role=role
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
    role: Annotated[Role, Form()],
    active: Annotated[bool, Form()],
) -> Response:
    service.set_user_access(
        session,
        workspace_id=viewer.workspace_id,
        user_id=user_id,
        role=role,
        active=active,
        by=viewer.user_id,
    )
    return RedirectResponse("/admin/users", status_code=303)


# ------------------------------------------------------------------ admin: API keys


@router.get("/admin/api-keys")
def api_keys(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    return page(
        request,
        "accounts/api_keys.html",
        {"keys": service.list_api_keys(session, workspace_id=viewer.workspace_id)},
    )


@router.post("/admin/api-keys", dependencies=[CsrfDep])
def create_key(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    issued = service.create_api_key(session, workspace_id=viewer.workspace_id, name=name)
    keys = service.list_api_keys(session, workspace_id=viewer.workspace_id)
    # Shown once, in this response only; never stored in clear.
    return page(
        request,
        "accounts/api_keys.html",
        {"keys": keys, "new_token": issued.token},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/admin/api-keys/{key_id:id}/revoke", dependencies=[CsrfDep])
def revoke_key(key_id: int, session: SessionDep, viewer: AdminDep, now: NowDep) -> Response:
    service.revoke_api_key(session, workspace_id=viewer.workspace_id, api_key_id=key_id, now=now)
    return RedirectResponse("/admin/api-keys", status_code=303)
