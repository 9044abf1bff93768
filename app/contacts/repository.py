from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.domain.errors import ErrorCode
from app.domain.statuses import ContactStatus
from app.models import BlacklistEntry, Contact


def existing_urls(session: Session, campaign_id: int, urls: Sequence[str]) -> dict[str, int]:
    """Profile URL → contact id for those already in the campaign."""
    out: dict[str, int] = {}
    for start in range(0, len(urls), 500):
        chunk = urls[start : start + 500]
        rows = session.execute(
            select(Contact.linkedin_url, Contact.id).where(
                Contact.campaign_id == campaign_id, Contact.linkedin_url.in_(chunk)
            )
        )
        out.update(dict(rows.all()))
    return out


def insert_contacts_skip_existing(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert rows in one statement; rows whose (campaign, URL) exists are skipped, not errors.

    Returns profile URL → new id for the rows actually inserted (a concurrent writer may win a race).
    """
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    stmt: Any
    # The Core table, not the ORM entity: bulk rows skip the ORM's per-row bookkeeping.
    table = cast(Table, Contact.__table__)
    if dialect == "postgresql":
        stmt = pg_insert(table).on_conflict_do_nothing(
            index_elements=["campaign_id", "linkedin_url"]
        )
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing(
            index_elements=["campaign_id", "linkedin_url"]
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        stmt = insert(table)
    result = session.execute(stmt.returning(table.c.linkedin_url, table.c.id), rows)
    return dict(result.all())


def clear_errors(session: Session, *, campaign_id: int, code: ErrorCode) -> int:
    result = session.execute(
        update(Contact)
        .where(Contact.campaign_id == campaign_id, Contact.error_code == code)
        .values(error_code=None, error_message=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def blacklisted_urls(session: Session, workspace_id: int, urls: Sequence[str]) -> set[str]:
    if not urls:
        return set()
    rows = session.scalars(
        select(BlacklistEntry.linkedin_url).where(
            BlacklistEntry.workspace_id == workspace_id, BlacklistEntry.linkedin_url.in_(urls)
        )
    )
    return {u for u in rows if u}


def contacts_by_ids(session: Session, ids: Sequence[int]) -> list[Contact]:
    if not ids:
        return []
    return list(session.scalars(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)))


def filtered_contacts(
    *,
    campaign_id: int,
    statuses: Sequence[ContactStatus] = (),
    error: ErrorCode | None = None,
    any_error: bool = False,
    q: str | None = None,
) -> Select[Contact]:
    stmt = select(Contact).where(Contact.campaign_id == campaign_id)
    if statuses:
        stmt = stmt.where(Contact.status.in_(statuses))
    if error is not None:
        stmt = stmt.where(Contact.error_code == error)
    elif any_error:
        stmt = stmt.where(Contact.error_code.is_not(None))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Contact.first_name.ilike(pattern, escape="\\"),
                Contact.last_name.ilike(pattern, escape="\\"),
                Contact.company.ilike(pattern, escape="\\"),
                Contact.linkedin_url.ilike(pattern, escape="\\"),
                Contact.email.ilike(pattern, escape="\\"),
            )
        )
    return stmt
