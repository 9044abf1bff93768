"""Server-side browser sessions and sign-in throttling (SPEC §8)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.accounts import repository
from app.accounts.service import authenticate_user
from app.errors import RateLimited
from app.models import LoginFailure, User, WebSession

LAST_SEEN_RESOLUTION = timedelta(minutes=1)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: WebSession
    token: str


def sign_in(
    session: Session,
    *,
    email: str,
    password: str,
    ip: str,
    now: datetime,
    policy: SessionPolicy,
    old_token: str | None,
) -> SignedIn | None:
    """A new session (a fresh token: never the one the browser had before) or None for bad credentials.

    Raises RateLimited after too many failures for this email or address in 15 minutes.
    """
    email = email.strip().lower()
    since = now - THROTTLE_WINDOW
    failures, oldest = repository.recent_failures(session, email=email, ip=ip, since=since)
    if failures >= MAX_FAILURES:
        wait = max(1, int(((oldest or now) + THROTTLE_WINDOW - now).total_seconds()))
        raise RateLimited(
            f"Too many failed sign-ins. Try again in {max(1, wait // 60)} minute(s).",
            retry_after=wait,
        )
    user = authenticate_user(session, email=email, password=password, now=now)
    if user is None:
        session.add(LoginFailure(email=email[:320], ip=ip[:64], at=now))
        return None
    if old_token:
        sign_out(session, token=old_token)
    repository.forget_failures(session, email=email)
    token = secrets.token_urlsafe(32)
    web = WebSession(
        token_hash=_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
    )
    session.add(web)
    session.flush()
    return SignedIn(user=user, session=web, token=token)


@dataclass(frozen=True)
class LiveSession:
    user: User
    web: WebSession
    needs_touch: bool


def find_session(
    session: Session, *, token: str, now: datetime, policy: SessionPolicy
) -> LiveSession | None:
    """The live session for this cookie, or None (unknown, idle too long, past its absolute end).

    Reads only; `needs_touch` says the caller should record the activity (`touch_session`).
    """
    web = repository.web_session_by_hash(session, _hash(token))
    if web is None or now >= web.expires_at or now - web.last_seen_at >= policy.idle:
        return None
    user = session.get(User, web.user_id)
    if user is None or not user.is_active:
        return None
    return LiveSession(
        user=user, web=web, needs_touch=now - web.last_seen_at >= LAST_SEEN_RESOLUTION
    )


def touch_session(session: Session, *, session_id: int, now: datetime) -> None:
    web = session.get(WebSession, session_id)
    if web is not None:
        web.last_seen_at = now


def sign_out(session: Session, *, token: str) -> None:
    repository.delete_web_session(session, _hash(token))
