from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Table,
    and_,
    any_,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from app.domain.errors import ErrorCode
from app.domain.statuses import ActivityKind, ContactStatus, Outcome
from app.domain.transitions import Counted
from app.models import Activity, BlacklistEntry, Contact


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


def insert_contacts_skip_existing(
    session: Session, rows: Sequence[Mapping[str, Any]], *, common: Mapping[str, Any]
) -> dict[str, int]:
    """Insert contacts of one campaign in one statement; rows whose (campaign, URL) exists are
    skipped, not errors. `common` holds the values every row shares (campaign_id among them);
    each row the ones that vary, under the same keys in every row.

    Returns profile URL → new id for the rows actually inserted (a concurrent writer may win a race).
    Bulk rows go to the driver directly: each value passes through its column's own bind
    processor (shared values once), not through SQLAlchemy's per-row parameter machinery, which
    cost more than the insert itself.
    """
    if not rows:
        return {}
    session.flush()
    table = cast(Table, Contact.__table__)
    connection = session.connection()
    dialect = connection.dialect
    varying = list(rows[0])
    shared = {**_defaults(table, set(varying) | set(common)), **common}
    shared_names = list(shared)
    shared_values = tuple(_processed(table.c[n], dialect, [shared[n]])[0] for n in shared_names)
    names = shared_names + varying
    columns = [_processed(table.c[n], dialect, [row[n] for row in rows]) for n in varying]
    # Only the table's own column names and types are spliced into the SQL; values are parameters.
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    conflict = "ON CONFLICT (campaign_id, linkedin_url) DO NOTHING"
    if dialect.name == "postgresql":
        # One statement whatever the batch size: each varying column travels as one array.
        shared_marks = [f"%(s{i})s" for i in range(len(shared_names))]
        arrays = ", ".join(
            f"%(v{i})s::{table.c[n].type.compile(dialect=dialect)}[]" for i, n in enumerate(varying)
        )
        result = connection.exec_driver_sql(
            f"INSERT INTO contacts ({quoted}) SELECT {', '.join(shared_marks + ['u.*'])} "  # noqa: S608
            f"FROM unnest({arrays}) AS u {conflict} RETURNING linkedin_url, id",
            {
                **{f"s{i}": v for i, v in enumerate(shared_values)},
                **{f"v{i}": values for i, values in enumerate(columns)},
            },
        )
        return {str(url): int(id_) for url, id_ in result.all()}
    # SQLite: executemany discards RETURNING rows, so the new ids are read back by range. Writers
    # hold the database's write lock from BEGIN IMMEDIATE, so every id above the previous
    # maximum is one of these rows.
    before = int(
        connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM contacts").scalar_one()
    )
    # The shared values are bound once, as the statement's literals, not once per row.
    literals = ", ".join(_sqlite_literal(v) for v in shared_values)
    marks = ", ".join("?" * len(varying))
    written = connection.exec_driver_sql(
        f"INSERT INTO contacts ({quoted}) VALUES ({literals}, {marks}) {conflict}",  # noqa: S608
        list(zip(*columns, strict=True)),
    ).rowcount
    if written == len(rows):
        # Nothing skipped: SQLite numbered the rows max + 1, max + 2, … in order (checked).
        last = connection.exec_driver_sql("SELECT max(id) FROM contacts").scalar()
        if last == before + written:
            urls = columns[varying.index("linkedin_url")]
            return {str(url): before + 1 + i for i, url in enumerate(urls)}
    result = connection.exec_driver_sql(
        "SELECT linkedin_url, id FROM contacts WHERE id > ? AND campaign_id = ?",
        (before, shared["campaign_id"]),
    )
    return {str(url): int(id_) for url, id_ in result.all()}


def _sqlite_literal(value: Any) -> str:
    """A driver-ready value as SQLite literal text (the bulk insert's shared values)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQLite literal for {type(value).__name__}")


def _defaults(table: Table, given: set[str]) -> dict[str, Any]:
    """Python-side column defaults for the columns not given (what a Core insert would add)."""
    out = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None or column.primary_key:
            continue
        out[column.name] = default.arg({}) if default.is_callable else default.arg  # type: ignore[attr-defined]
    return out


def _processed(column: Any, dialect: Any, values: list[Any]) -> list[Any]:
    """One column's values as the driver takes them (the column type's own bind processing)."""
    impl = column.type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if process is None:
        return values
    if isinstance(impl, JSON):
        return [process(v) for v in values]
    seen: dict[Any, Any] = {}  # enums and instants repeat: process each distinct value once
    out = []
    for v in values:
        try:
            out.append(seen[v])
        except KeyError:
            out.append(seen.setdefault(v, process(v)))
    return out


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


def has_pending(session: Session, contact_id: int, kinds: Sequence[ActivityKind]) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Activity.contact_id == contact_id,
                    Activity.outcome == Outcome.PENDING,
                    Activity.kind.in_(kinds),
                )
            )
        )
    )


def contacts_by_ids(session: Session, ids: Sequence[int]) -> list[Contact]:
    if not ids:
        return []
    return list(session.scalars(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)))


def in_campaign(session: Session, campaign_id: int) -> ColumnElement[bool]:
    """`campaign_id = :c`, spelt `= ANY(ARRAY[:c])` on PostgreSQL. With a plain equality the planner
    treats campaign_id as a constant and drops it from the keyset order (campaign_id, id), so it may
    still walk the primary key from the first id, filtering out every earlier campaign's rows
    (0.1–1 s for a campaign behind a large one). A one-element array is not folded into a constant:
    the order keeps campaign_id, which only the campaign's composite indexes provide, so a page
    costs a short index range whatever the campaign, the status filter or the depth."""
    if session.get_bind().dialect.name == "postgresql":
        return Contact.campaign_id == any_(array([campaign_id]))
    return Contact.campaign_id == campaign_id


def counted_condition(counted: Counted) -> ColumnElement[bool]:
    """The contacts a campaign count holds, as SQL (app.domain.transitions.counted_as)."""
    connected = Contact.status == ContactStatus.CONNECTED
    conditions: dict[Counted, ColumnElement[bool]] = {
        Counted.INVITED: Contact.invites_sent > 0,
        Counted.ACCEPTED: and_(Contact.invites_sent > 0, connected),
        Counted.ALREADY_CONNECTED: and_(Contact.invites_sent == 0, connected),
        Counted.REPLIED: Contact.replied.is_(True),
    }
    return conditions[counted]


def filtered_contacts(
    session: Session,
    *,
    campaign_id: int,
    statuses: Sequence[ContactStatus] = (),
    error: ErrorCode | None = None,
    any_error: bool = False,
    q: str | None = None,
    reached: Counted | None = None,
    columns: Sequence[Any] | None = None,
    workspace_id: int | None = None,
) -> Select[Any]:
    """A campaign's contacts under the list filters: whole contacts, or just `columns`; with
    `workspace_id`, only if the campaign is that workspace's (no rows otherwise)."""
    stmt: Select[Any] = select(*columns) if columns else select(Contact)
    stmt = stmt.where(in_campaign(session, campaign_id))
    if workspace_id is not None:
        stmt = stmt.where(Contact.workspace_id == workspace_id)
    if statuses:
        stmt = stmt.where(Contact.status.in_(statuses))
    if error is not None:
        stmt = stmt.where(Contact.error_code == error)
    elif any_error:
        stmt = stmt.where(Contact.error_code.is_not(None))
    if reached is not None:
        stmt = stmt.where(counted_condition(reached))
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
