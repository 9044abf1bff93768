"""The dashboard's sign-in: session cookies, CSRF tokens, who is signed in and what they may see
(SPEC §8). The security headers every response carries are in app/web/headers.py."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from app.accounts.sessions import SessionPolicy, find_session, touch_session
from app.clock import Clock
from app.config import Settings
from app.domain.statuses import Role
from app.errors import Forbidden, LoginRequired
from app.web.deps import SessionDep

SESSION_COOKIE = "tracker_session"
LOGIN_CSRF_COOKIE = "tracker_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def session_policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


def behind_tls(request: Request) -> bool:
    """Whether users reach us over https: TRACKER_PUBLIC_URL says so, or the request came over
    https (directly, or through a trusted proxy's X-Forwarded-Proto)."""
    public_url = request.app.state.settings.public_url or ""
    return public_url.startswith("https://") or request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    """Over https a cookie carries the `__Host-` prefix: the browser then keeps it only if it is
    Secure, for the whole host (Path=/) and set by this host (no Domain), never by a subdomain."""
    return f"__Host-{base}" if behind_tls(request) else base


def read_cookie(request: Request, base: str) -> str | None:
    return request.cookies.get(cookie_name(request, base))


def write_cookie(
    response: Response,
    request: Request,
    base: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: Literal["lax", "strict"] = "lax",
) -> None:
    response.set_cookie(
        cookie_name(request, base),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite=samesite,
        secure=behind_tls(request),
    )


def forget_cookie(response: Response, request: Request, base: str) -> None:
    response.delete_cookie(
        cookie_name(request, base), path="/", secure=behind_tls(request), httponly=True
    )


@dataclass(frozen=True)
class Viewer:
    """The signed-in person looking at a page."""

    user_id: int
    workspace_id: int
    email: str
    role: Role
    csrf_token: str
    session_id: int
    must_change_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def current_viewer(request: Request, session: Session | None = None) -> Viewer | None:
    """The viewer of this request's session cookie, read in `session` when given (a read-only one),
    otherwise in a short read transaction of its own."""
    token = read_cookie(request, SESSION_COOKIE)
    if not token:
        return None
    settings: Settings = request.app.state.settings
    clock: Clock = request.app.state.clock
    now = clock()
    if session is not None:
        live = find_session(session, token=token, now=now, policy=session_policy(settings))
    else:
        with request.app.state.read_sessionmaker() as own:
            live = find_session(own, token=token, now=now, policy=session_policy(settings))
    if live is None:
        return None
    viewer = Viewer(
        user_id=live.user.id,
        workspace_id=live.user.workspace_id,
        email=live.user.email,
        role=live.user.role,
        csrf_token=live.web.csrf_token,
        session_id=live.web.id,
        must_change_password=live.user.must_change_password,
    )
    if live.needs_touch:
        with request.app.state.sessionmaker.begin() as writer:
            touch_session(writer, session_id=viewer.session_id, now=now)
    return viewer


def require_viewer(request: Request) -> Viewer:
    """The signed-in viewer, read before any transaction of the request (what CSRF checks use:
    the form, perhaps a large upload, is read before a write transaction begins)."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None:
        viewer = current_viewer(request)
    if viewer is None:
        raise LoginRequired("Sign in to continue")
    request.state.viewer = viewer
    _password_first(request, viewer)
    return viewer


# While an admin's reset is pending, these are the only pages: choose a new password, or leave.
PASSWORD_FIRST_PATHS = frozenset({"/account", "/account/password", "/logout"})


def _password_first(request: Request, viewer: Viewer) -> None:
    if viewer.must_change_password and request.url.path not in PASSWORD_FIRST_PATHS:
        raise LoginRequired("Choose a new password first", location="/account")


def require_page_viewer(request: Request, session: SessionDep) -> Viewer:
    """The signed-in viewer of a page. GET and HEAD read it in the request's own read-only
    transaction (one connection and one transaction per page view instead of two); other methods
    keep `require_viewer`'s separate read, so a write transaction never waits on a form upload."""
    if request.method not in ("GET", "HEAD"):
        return require_viewer(request)
    viewer = getattr(request.state, "viewer", None) or current_viewer(request, session)
    if viewer is None:
        raise LoginRequired("Sign in to continue")
    request.state.viewer = viewer
    _password_first(request, viewer)
    return viewer


def require_admin(viewer: Annotated[Viewer, Depends(require_page_viewer)]) -> Viewer:
    if not viewer.is_admin:
        raise Forbidden("Only an admin can do this. Ask an admin of your workspace.")
    return viewer


async def check_csrf(request: Request, viewer: Annotated[Viewer, Depends(require_viewer)]) -> None:
    """Every state-changing form carries the session's CSRF token (field or htmx header)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    require_csrf_token(viewer, sent)


def require_csrf_token(viewer: Viewer, sent: str | None) -> None:
    """Raises Forbidden unless `sent` is the viewer's session CSRF token."""
    if not sent or not hmac.compare_digest(sent, viewer.csrf_token):
        raise Forbidden(
            "The form expired or was not sent from this site. Reload the page and try again."
        )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, sent: str | None) -> None:
    cookie = read_cookie(request, LOGIN_CSRF_COOKIE)
    if not sent or not cookie or not hmac.compare_digest(sent, cookie):
        raise Forbidden("The sign-in form expired. Reload the page and try again.")


ViewerDep = Annotated[Viewer, Depends(require_page_viewer)]
AdminDep = Annotated[Viewer, Depends(require_admin)]
CsrfDep = Depends(check_csrf)
