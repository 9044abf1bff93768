"""Workspaces, users and API keys: creation, authentication, revocation (SPEC §2, §8)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.accounts import repository
from app.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from app.domain.statuses import Role
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import ApiKey, User, WebSession, Workspace

API_KEY_PREFIX = "ctk_"
# Writing last_used_at on every request would make every read a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    """Lower-cased, trimmed; raises ValidationFailed when it is not an address."""
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise ValidationFailed(
            "Invalid email address", {"email": ["Enter an address like name@company.com"]}
        )
    return email


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "Password too short",
            {"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters"]},
        )


def has_any_workspace(session: Session) -> bool:
    return repository.first_workspace_id(session) is not None


def create_workspace(
    session: Session, *, name: str, admin_email: str, admin_password: str
) -> Workspace:
    """A new tenant with its first admin. Raises ValidationFailed or Conflict (email taken)."""
    name = name.strip()
    if not name:
        raise ValidationFailed("Workspace name is empty", {"name": ["Give the workspace a name"]})
    workspace = Workspace(name=name)
    session.add(workspace)
    session.flush()
    create_user(
        session,
        workspace_id=workspace.id,
        email=admin_email,
        password=admin_password,
        role=Role.ADMIN,
    )
    return workspace


def create_user(
    session: Session, *, workspace_id: int, email: str, password: str, role: Role
) -> User:
    """Raises Conflict when the email already has an account (emails are global sign-in names)."""
    email = normalize_email(email)
    check_password_strength(password)
    if repository.find_user_by_email(session, email) is not None:
        raise Conflict(f"A user with the email {email} already exists")
    user = User(
        workspace_id=workspace_id, email=email, password_hash=hash_password(password), role=role
    )
    session.add(user)
    session.flush()
    return user


def authenticate_user(session: Session, *, email: str, password: str, now: datetime) -> User | None:
    """The active user with this email and password, or None (same cost either way)."""
    user = repository.find_user_by_email(session, email.strip().lower())
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user is None or not user.is_active:
        return None
    user.last_login_at = now
    return user


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(
            "Current password is wrong", {"current_password": ["This is not your current password"]}
        )
    check_password_strength(new)
    user.password_hash = hash_password(new)
    user.must_change_password = False


def list_users(session: Session, *, workspace_id: int) -> list[User]:
    return repository.list_users(session, workspace_id)


def list_api_keys(session: Session, *, workspace_id: int) -> list[ApiKey]:
    return repository.list_api_keys(session, workspace_id)


def set_user_access(
    session: Session, *, workspace_id: int, user_id: int, role: Role, active: bool, by: int
) -> User:
    """Change a user's role or disable them. An admin cannot demote or disable themselves (so a
    workspace never loses its last way in by accident). Raises NotFound, ValidationFailed."""
    user = session.get(User, user_id)
    if user is None or user.workspace_id != workspace_id:
        raise NotFound(f"User {user_id} not found")
    if user.id == by and (role is not Role.ADMIN or not active):
        raise ValidationFailed(
            "You cannot remove your own admin access",
            {"role": ["Ask another admin to change your role"]},
        )
    user.role = role
    user.is_active = active
    if not active:
        sign_out_everywhere(session, user_id=user.id)
    return user


def hash_api_key(token: str) -> str:
    """SHA-256 is enough here: the token has 256 bits of entropy, unlike a password."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    token: str


def create_api_key(
    session: Session, *, workspace_id: int, name: str, expires_at: datetime | None = None
) -> IssuedApiKey:
    """A new key (optionally expiring); the token is returned here once and only its hash is
    stored."""
    name = name.strip()
    if not name:
        raise ValidationFailed("API key name is empty", {"name": ["Name the key after its use"]})
    if repository.get_workspace(session, workspace_id) is None:
        raise NotFound(f"Workspace {workspace_id} does not exist")
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        workspace_id=workspace_id,
        name=name,
        prefix=token[:12],
        key_hash=hash_api_key(token),
        expires_at=expires_at,
    )
    session.add(api_key)
    session.flush()
    return IssuedApiKey(api_key=api_key, token=token)


def revoke_api_key(
    session: Session, *, workspace_id: int, api_key_id: int, now: datetime
) -> ApiKey:
    api_key = session.get(ApiKey, api_key_id)
    if api_key is None or api_key.workspace_id != workspace_id:
        raise NotFound(f"API key {api_key_id} not found")
    if api_key.revoked_at is None:
        api_key.revoked_at = now
    return api_key


def resolve_api_key(session: Session, *, token: str, now: datetime) -> ApiKey | None:
    """The live key for this token, or None (unknown, revoked or expired); records its last use."""
    api_key = repository.find_api_key_by_hash(session, hash_api_key(token))
    if api_key is None or api_key.revoked_at is not None:
        return None
    if api_key.expires_at is not None and api_key.expires_at <= now:
        return None
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        api_key.last_used_at = now
    return api_key


def sign_out_everywhere(session: Session, *, user_id: int) -> None:
    """End every dashboard session of the user (after a password change, or losing access)."""
    repository.sign_out_everywhere(session, user_id=user_id)


def temporary_password() -> str:
    """A one-time password an admin hands over: 16 characters, no look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def reset_password(
    session: Session, *, workspace_id: int, user_id: int, by: int
) -> tuple[User, str]:
    """An admin's reset: a temporary password (returned once), every session of the user ended,
    and a new password required at the next sign-in before any page."""
    user = session.get(User, user_id)
    if user is None or user.workspace_id != workspace_id:
        raise NotFound(f"User {user_id} not found")
    if user.id == by:
        raise ValidationFailed(
            "Change your own password on your account page",
            {"user": ["Use Your account → Change password"]},
        )
    password = temporary_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    sign_out_everywhere(session, user_id=user.id)
    return user, password


def set_password(session: Session, *, email: str, password: str) -> User:
    """The operator's `set-password`: a new password (checked for strength), every session of
    the user ended. Raises NotFound for an unknown email."""
    user = repository.find_user_by_email(session, email.strip().lower())
    if user is None:
        raise NotFound(f"No user with the email {email.strip()}")
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.must_change_password = False
    sign_out_everywhere(session, user_id=user.id)
    return user


def user_sessions(session: Session, *, user_id: int, now: datetime) -> list[WebSession]:
    """The user's sessions still alive (the absolute end not reached), most recent first."""
    return repository.live_sessions(session, user_id=user_id, now=now)


def end_session(session: Session, *, user_id: int, session_id: int) -> None:
    """End one of the user's own sessions (a stranger's id is simply not found)."""
    if not repository.delete_session_of(session, user_id=user_id, session_id=session_id):
        raise NotFound(f"Session {session_id} not found")


def end_other_sessions(session: Session, *, user_id: int, keep: int) -> int:
    return repository.delete_sessions_except(session, user_id=user_id, keep=keep)
