"""Server-side browser sessions and sign-in throttling (SPEC §8)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.accounts import repository, throttle
from app.accounts.passwords import verify_password
from app.models import User, WebSession

LAST_SEEN_RESOLUTION = timedelta(minutes=1)


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
    factory: sessionmaker[Session],
    reader: sessionmaker[Session],
    *,
    email: str,
    password: str,
    ip: str,
    device: str | None,
    now: datetime,
    policy: SessionPolicy,
    old_token: str | None,
) -> SignedIn | None:
    """A new session (a fresh token: never the one the browser had before) or None for bad
    credentials. Raises RateLimited when the throttle refuses the attempt (app.accounts.throttle).

    Three steps, and the password hash runs in none of their transactions: count the attempt
    (a short write, committed), read the user, verify the password (argon2: tens of ms and 64 MiB),
    then, only for the right password, write the session.
    """
    email = email.strip().lower()
    with factory.begin() as session:
        throttle.reserve(session, email=email, ip=ip, device=device, now=now)
    with reader() as session:
        user = repository.find_user_by_email(session, email)
        password_hash = user.password_hash if user is not None else None
        active = user is not None and user.is_active
    if not verify_password(password_hash, password) or not active or user is None:
        return None
    with factory.begin() as session:
        return open_session(
            session,
            user_id=user.id,
            email=email,
            ip=ip,
            device=device,
            now=now,
            policy=policy,
            old_token=old_token,
        )


def open_session(
    session: Session,
    *,
    user_id: int,
    email: str,
    ip: str,
    device: str | None,
    now: datetime,
    policy: SessionPolicy,
    old_token: str | None,
) -> SignedIn:
    """The session of a user whose password was just verified, in the caller's transaction."""
    user = session.get_one(User, user_id)
    user.last_login_at = now
    if old_token:
        sign_out(session, token=old_token)
    throttle.succeeded(session, email=email, ip=ip, device=device)
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
