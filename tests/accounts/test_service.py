from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.accounts.service import (
    authenticate_user,
    change_password,
    create_api_key,
    create_user,
    create_workspace,
    resolve_api_key,
    revoke_api_key,
)
from app.domain.statuses import Role
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import ApiKey, User
from tests.builders import a_workspace
from tests.conftest import T0


def test_workspace_comes_with_an_admin_whose_password_is_argon2(session: Session) -> None:
    ws = create_workspace(
        session, name="Acme", admin_email=" Boss@Acme.COM ", admin_password="s3cret-pass"
    )
    admin = session.query(User).filter_by(workspace_id=ws.id).one()
    assert admin.email == "boss@acme.com"
    assert admin.role is Role.ADMIN
    assert admin.password_hash.startswith("$argon2id$")
    assert "s3cret-pass" not in admin.password_hash


def test_authenticate_checks_password_and_active_flag(session: Session) -> None:
    ws = a_workspace(session)
    user = create_user(
        session, workspace_id=ws.id, email="rep@x.io", password="password-1", role=Role.REP
    )
    assert authenticate_user(session, email="REP@x.io", password="password-1", now=T0) is user
    assert user.last_login_at == T0
    assert authenticate_user(session, email="rep@x.io", password="wrong-password", now=T0) is None
    assert authenticate_user(session, email="nobody@x.io", password="password-1", now=T0) is None
    user.is_active = False
    assert authenticate_user(session, email="rep@x.io", password="password-1", now=T0) is None


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [("not-an-email", "password-1", "email"), ("ok@x.io", "short", "password")],
)
def test_bad_user_input_names_the_field(
    session: Session, email: str, password: str, field: str
) -> None:
    ws = a_workspace(session)
    with pytest.raises(ValidationFailed) as exc:
        create_user(session, workspace_id=ws.id, email=email, password=password, role=Role.REP)
    assert field in exc.value.errors


def test_duplicate_email_is_a_conflict(session: Session) -> None:
    ws = a_workspace(session)
    create_user(session, workspace_id=ws.id, email="dup@x.io", password="password-1", role=Role.REP)
    with pytest.raises(Conflict, match="dup@x.io"):
        create_user(
            session, workspace_id=ws.id, email="DUP@x.io", password="password-1", role=Role.REP
        )


def test_change_password_requires_the_current_one(session: Session) -> None:
    ws = a_workspace(session)
    user = create_user(
        session, workspace_id=ws.id, email="c@x.io", password="password-1", role=Role.REP
    )
    with pytest.raises(ValidationFailed):
        change_password(session, user=user, current="nope-nope", new="password-2")
    change_password(session, user=user, current="password-1", new="password-2")
    assert authenticate_user(session, email="c@x.io", password="password-2", now=T0) is user


def test_api_key_is_shown_once_and_stored_hashed(session: Session) -> None:
    ws = a_workspace(session)
    issued = create_api_key(session, workspace_id=ws.id, name="CRM sync")
    assert issued.token.startswith("ctk_") and len(issued.token) > 40
    row = session.get(ApiKey, issued.api_key.id)
    assert row is not None and issued.token not in (row.key_hash, row.prefix)
    assert resolve_api_key(session, token=issued.token, now=T0) is row
    assert row.last_used_at == T0
    # Last use is recorded at most once a minute, so reads do not turn into writes.
    resolve_api_key(session, token=issued.token, now=T0 + timedelta(seconds=30))
    assert row.last_used_at == T0
    resolve_api_key(session, token=issued.token, now=T0 + timedelta(minutes=2))
    assert row.last_used_at == T0 + timedelta(minutes=2)


def test_revoked_or_unknown_keys_do_not_resolve(session: Session) -> None:
    ws = a_workspace(session)
    issued = create_api_key(session, workspace_id=ws.id, name="k")
    revoke_api_key(session, workspace_id=ws.id, api_key_id=issued.api_key.id, now=T0)
    assert resolve_api_key(session, token=issued.token, now=T0) is None
    assert resolve_api_key(session, token="ctk_" + "x" * 43, now=T0) is None


def test_keys_are_scoped_to_their_workspace(session: Session) -> None:
    ws, other = a_workspace(session), a_workspace(session)
    issued = create_api_key(session, workspace_id=ws.id, name="k")
    with pytest.raises(NotFound):
        revoke_api_key(session, workspace_id=other.id, api_key_id=issued.api_key.id, now=T0)
