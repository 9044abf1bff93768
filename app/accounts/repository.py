from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.models import ApiKey, LoginFailure, User, WebSession, Workspace


def get_workspace(session: Session, workspace_id: int) -> Workspace | None:
    return session.get(Workspace, workspace_id)


def first_workspace_id(session: Session) -> int | None:
    return session.scalar(select(Workspace.id).order_by(Workspace.id).limit(1))


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def find_api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def list_api_keys(session: Session, workspace_id: int) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.id)
    return list(session.scalars(stmt))


def list_users(session: Session, workspace_id: int) -> list[User]:
    stmt = select(User).where(User.workspace_id == workspace_id).order_by(User.id)
    return list(session.scalars(stmt))


def sign_out_everywhere(session: Session, *, user_id: int) -> None:
    """End every dashboard session of the user."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


# ---------------------------------------------------------------- sign-in


def recent_failures(
    session: Session, *, email: str, ip: str, since: datetime
) -> tuple[int, datetime | None]:
    """Failed sign-ins for this email or address after `since`: how many, and the oldest."""
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.at > since, (LoginFailure.email == email) | (LoginFailure.ip == ip)
        )
    ).one()
    return int(count or 0), oldest


def forget_failures(session: Session, *, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))


def web_session_by_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))


def delete_web_session(session: Session, token_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
