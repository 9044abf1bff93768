"""The lifecycle owner's queries: a contact's pending actions and the sweep's set-based statements."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Table,
    and_,
    any_,
    case,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.engine import Dialect, Engine, Row
from sqlalchemy.orm import Session
from sqlalchemy.sql import column as column_of

from app.db import JSONType, UTCDateTime, utc_param
from app.domain.errors import ErrorCode
from app.domain.statuses import (
    ActivityKind,
    CampaignState,
    CampaignType,
    ContactStatus,
    Outcome,
)
from app.models import Activity, Campaign, CampaignCount, Contact
from app.queue.repository import has_pending, not_blacklisted

__all__ = ["has_pending"]


def pending_actions(session: Session, contact_id: int) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.contact_id == contact_id, Activity.outcome == Outcome.PENDING)
            .order_by(Activity.id)
        )
    )


def is_blacklisted(session: Session, contact_id: int) -> bool:
    """Whether the workspace's blacklist (or the campaign's) holds this contact."""
    return bool(
        session.scalar(select(exists().where(Contact.id == contact_id, ~not_blacklisted())))
    )


def _skipped(reason: str, now: datetime) -> dict[str, Any]:
    """The columns of a pending action settled as skipped, `reason` saying why."""
    return {
        "outcome": Outcome.SKIPPED,
        "completed_at": now,
        "waiting_reason": None,
        "waiting_cap": None,
        "expected_at": None,
        "leased_until": None,
        "detail": literal({"reason": reason}, JSONType),
    }


def skip_pending_of_campaign(
    session: Session, campaign_id: int, *, reason: str, now: datetime
) -> None:
    """Settle as skipped every pending action of a campaign but its withdrawals (cleanup)."""
    session.execute(
        update(Activity)
        .where(
            Activity.campaign_id == campaign_id,
            Activity.outcome == Outcome.PENDING,
            Activity.kind != ActivityKind.WITHDRAW_INVITE,
        )
        .values(_skipped(reason, now))
        .execution_options(synchronize_session=False)
    )


# How many contacts of a set share what their counts depend on: (campaign, status (when asked),
# last error, invitations sent, replied, how many).
Shape = tuple[int, ContactStatus | None, ErrorCode | None, int, bool, int]


@dataclass(frozen=True)
class Batch:
    """One batch of the sweep: its contacts, fixed (and on PostgreSQL locked) before any of its
    statements changes them."""

    where: ColumnElement[bool]  # the batch's contacts, for every statement of the batch
    actions: ColumnElement[bool]  # the actions of the batch's contacts
    size: int
    ids_table: str | None  # SQLite: the temporary table holding their ids (read by primary key)
    ids: str | None  # PostgreSQL: their ids as an array literal ("{1,2,3}")
    # PostgreSQL: the batch's shapes, counted as it was locked (no statement of its own).
    shapes: list[Shape] | None = None


def stale_batch(
    session: Session, *, workspace_id: int, cutoff: datetime, limit: int | None
) -> Batch:
    """The workspace's stale invites: the first `limit` of them, campaign by campaign, oldest
    invite first, when given (one batch of the sweep). Read along the index on (campaign, status,
    invited_at), the batch stops at `limit`; ordered by id, every batch sorted all the stale
    invites left (50,000: 25 batches, 0.24 of a 1.1 s sweep on SQLite).

    SQLite: the ids never leave the database. They are written into a temporary table of this
    connection (one per connection, emptied for each batch; SQLite's write lock is held from the
    transaction's start, so nothing moves them meanwhile), which every statement of the batch reads
    by its primary key. Fetched into Python and sent back with each statement (as one JSON array),
    50,000 ids cost the sweep 0.2 s, and each statement built its own index of them first.

    PostgreSQL: the ids, locked FOR NO KEY UPDATE in id order before any of the batch's statements
    changes them (the contact first, as every writer locks it; the condition checked again on each
    row it had to wait for), so no integration's event moves one between the batch's statements;
    the same statement counts them by shape (what the counts depend on: the rows are locked, so
    the figures hold for the batch). The statements take the ids as one array parameter (as an IN
    list of 2,000 values, rendering the parameters cost more Python than the statement took)."""
    stale = stale_invites(workspace_id=workspace_id, cutoff=cutoff)
    first = (
        select(Contact.id)
        .where(stale)
        .order_by(Contact.campaign_id, Contact.status, Contact.invited_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name != "postgresql":
        connection = session.connection()
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_BATCH_TABLE} (id INTEGER PRIMARY KEY)"
        )
        connection.exec_driver_sql(f"DELETE FROM {_BATCH_TABLE}")  # noqa: S608
        held = table(_BATCH_TABLE, column_of("id", Integer), schema="temp")
        written = connection.execute(insert(held).from_select(["id"], first))
        return Batch(
            where=Contact.id.in_(select(held.c.id)),
            actions=Activity.contact_id.in_(select(held.c.id)),
            size=int(written.rowcount or 0),
            ids_table=f"temp.{_BATCH_TABLE}",
            ids=None,
        )
    shape = (Contact.campaign_id, Contact.error_code, Contact.invites_sent, Contact.replied)
    locked = (
        select(Contact.id, *shape)
        .where(Contact.id.in_(first.scalar_subquery()), stale)
        .order_by(Contact.id)
        .with_for_update(key_share=True)
        .cte("locked")
    )
    grouped = [locked.c[column.key] for column in shape]
    rows = session.execute(
        select(*grouped, func.count(), func.array_agg(locked.c.id)).group_by(*grouped)
    ).all()
    ids = sorted(id_ for row in rows for id_ in row[5])
    array = "{" + ",".join(map(str, ids)) + "}"
    ids_param = literal(array).cast(ARRAY(BigInteger))
    return Batch(
        where=Contact.id == any_(ids_param),
        actions=Activity.contact_id == any_(ids_param),
        size=len(ids),
        ids_table=None,
        ids=array,
        shapes=[(r[0], None, r[1], r[2], r[3], r[4]) for r in rows],
    )


# SQLite: the temporary table a sweep batch's ids are written into (per connection, never
# committed anywhere but that connection's temporary database).
_BATCH_TABLE = "lifecycle_batch_ids"


def stale_invites(*, workspace_id: int, cutoff: datetime) -> ColumnElement[bool]:
    """Contacts of the workspace's live connection campaigns invited at or before `cutoff`."""
    live = select(Campaign.id).where(
        Campaign.workspace_id == workspace_id,
        Campaign.type == CampaignType.CONNECTION,
        Campaign.state != CampaignState.ARCHIVED,
    )
    return and_(
        Contact.campaign_id.in_(live),
        Contact.status == ContactStatus.INVITE_SENT,
        Contact.invited_at <= cutoff,
    )


def count_shapes(
    session: Session, where: ColumnElement[bool], *, with_status: bool = False
) -> list[Shape]:
    """How many contacts match, per campaign and per what their counts depend on."""
    groups: list[Any] = [
        Contact.campaign_id,
        Contact.error_code,
        Contact.invites_sent,
        Contact.replied,
    ]
    if with_status:
        groups.append(Contact.status)
    rows = session.execute(select(*groups, func.count()).where(where).group_by(*groups)).all()
    return [(r[0], r[4] if with_status else None, r[1], r[2], r[3], r[-1]) for r in rows]


SUMMARY_COLUMNS = (
    Contact.id,
    Contact.workspace_id,
    Contact.campaign_id,
    Contact.linkedin_url,
    Contact.first_name,
    Contact.last_name,
    Contact.email,
    Contact.company,
    Contact.status,
)


def summaries(session: Session, where: ColumnElement[bool]) -> list[dict[str, Any]]:
    """The event summary columns of the contacts matching `where` (and their workspace), in id
    order: the events built from them follow it, as SQLite's own do (unordered, PostgreSQL hands
    rows back in whatever order their latest versions lie in the table)."""
    return [
        dict(row._mapping)
        for row in session.execute(select(*SUMMARY_COLUMNS).where(where).order_by(Contact.id))
    ]


def delete_contacts(session: Session, where: ColumnElement[bool]) -> int:
    result = session.execute(
        delete(Contact).where(where).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def record_expiries(
    session: Session,
    where: ColumnElement[bool],
    *,
    now: datetime,
    to_status: ContactStatus,
    waiting_reason: str,
    waiting_cap: str,
    after_days: int,
) -> None:
    """One Pending withdraw_invite per matching contact, recording its move, in one INSERT …
    SELECT; its detail says after how many days (the workspace's threshold then) and whether
    the campaign's re-invites will invite the person again."""
    base = {
        "reason": "stale",
        "event": "invite_expired",
        "cause": "engine",
        "after_days": after_days,
    }
    # The campaign (joined below) still allows this person another invite, or not.
    detail = case(
        (
            Contact.invites_sent <= Campaign.max_reinvites,
            literal({**base, "reinvite": True}, JSONType),
        ),
        else_=literal({**base, "reinvite": False}, JSONType),
    )
    source = (
        select(
            Contact.workspace_id,
            Contact.id,
            Contact.campaign_id,
            Campaign.sender_id,
            literal(ActivityKind.WITHDRAW_INVITE.value),
            literal(Outcome.PENDING.value),
            literal(ContactStatus.INVITE_SENT.value),
            literal(to_status.value),
            detail,
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
            literal(waiting_reason),
            literal(waiting_cap),
            literal(0),
        )
        .join(Campaign, Campaign.id == Contact.campaign_id)
        .where(where)
    )
    session.execute(
        insert(Activity).from_select(
            [
                "workspace_id",
                "contact_id",
                "campaign_id",
                "sender_id",
                "kind",
                "outcome",
                "status_from",
                "status_to",
                "detail",
                "created_at",
                "scheduled_for",
                "waiting_reason",
                "waiting_cap",
                "attempts",
            ],
            source,
        )
    )


def skip_pending_of(
    session: Session,
    actions: ColumnElement[bool],
    *,
    kinds: Sequence[ActivityKind],
    reason: str,
    now: datetime,
) -> None:
    """Settle as skipped the pending actions of these kinds among `actions` (a batch's)."""
    session.execute(
        update(Activity)
        .where(actions, Activity.outcome == Outcome.PENDING, Activity.kind.in_(kinds))
        .values(_skipped(reason, now))
        .execution_options(synchronize_session=False)
    )


# A statement that reads an UPDATE's rows from its CTE `changed`: SQL, parameters, columns read.
ReadsChanged = tuple[str, dict[str, Any], tuple[str, ...]]


def mark_withdrawn(
    session: Session,
    batch: Batch,
    *,
    to_status: ContactStatus,
    now: datetime,
    then: ReadsChanged | None = None,
) -> int:
    """The batch's contacts become withdrawn, their last error cleared; returns how many.

    SQLite: the few contacts with an error are cleared apart from the status UPDATE (a column in
    its SET clause rewrites the entry of every index holding it, error_code's, for every row: 60 ms
    of a sweep of 50,000 invites). PostgreSQL writes a new entry into every index for each row
    whose status changes anyway, so one UPDATE does both; `then` (the batch's events) runs in the
    same statement, reading the rows as they now are from the CTE `changed`: nothing is looked up
    again by id."""
    if batch.ids is None:
        if then is not None:
            raise ValueError("SQLite writes the events of a sweep's batch after its UPDATE")
        clear_errors_of(session, batch.where)
        result = session.execute(
            update(Contact)
            .where(batch.where)
            .values(status=to_status, withdrawn_at=now, status_changed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
    connection = session.connection()
    params: dict[str, Any] = {
        "wd_ids": batch.ids,
        "wd_status": to_status.value,
        "wd_now": utc_param(connection.dialect, now),
    }
    then_sql, then_params, columns = then if then is not None else ("", {}, ("id",))
    params.update(then_params)
    sql = (
        "WITH changed AS (UPDATE contacts SET status = %(wd_status)s, withdrawn_at = %(wd_now)s, "  # noqa: S608
        "status_changed_at = %(wd_now)s, updated_at = %(wd_now)s, error_code = NULL, "
        f"error_message = NULL WHERE id = ANY(%(wd_ids)s::bigint[]) RETURNING {', '.join(columns)})"
        + (f", then_ AS ({then_sql})" if then_sql else "")
        + " SELECT count(*) FROM changed"
    )
    return int(connection.exec_driver_sql(sql, params).scalar_one())


def clear_errors_of(session: Session, where: ColumnElement[bool]) -> None:
    """Clear the last error of the matching contacts that have one. Apart from the status UPDATE:
    a column in its SET clause rewrites the entry of every index holding it (error_code's) for
    every row, though few of them have an error (60 ms of a sweep of 50,000 invites on SQLite)."""
    session.execute(
        update(Contact)
        .where(where, or_(Contact.error_code.is_not(None), Contact.error_message.is_not(None)))
        .values(error_code=None, error_message=None)
        .execution_options(synchronize_session=False)
    )


def insert_activities(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    session.execute(insert(Activity), list(rows))


def insert_contacts(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert whole contacts; their ids in the rows' order."""
    return list(
        session.scalars(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True), list(rows)
        )
    )


# A statement that reads an INSERT's rows from its CTE `inserted`: SQL, parameters, columns read.
Companion = tuple[str, Mapping[str, Any], Sequence[str]]
# A context around a long call into the driver (see insert_contacts_skip_existing).
Waiting = Callable[[], contextlib.AbstractContextManager[object]]


class Turns(Protocol):
    """The order of batches written side by side in several transactions (an import's lanes on
    PostgreSQL): a batch's new ids are drawn after the previous batch's, and it writes rows other
    batches write too (counts, the import's checkpoint) only once the previous batch committed."""

    def drawn(self) -> None:
        """This batch's new ids are drawn: the next batch may draw its own."""

    def settled(self) -> None:
        """Wait until the batches before this one committed (raises if one of them did not)."""


@dataclass(frozen=True)
class ContactValues:
    """A batch of new contacts' varying values made ready for the driver, without a session, so
    an import's reading thread makes the next batch's while this one is written: each value
    through its column's own bind processing, as ONE JSON array of the rows' arrays (SQLite: read
    by json_each in one INSERT … SELECT; a JSON column's value nested as it is, not a string), or
    as the text of a `COPY` (PostgreSQL: the row's number, then its values, tab-separated)."""

    names: list[str]
    urls: list[str]
    json_rows: str = ""
    copy_text: str = ""


def contact_values(dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> ContactValues:
    """`rows` (the same keys in every row) as the driver of `dialect` takes them."""
    table = cast(Table, Contact.__table__)
    names = list(rows[0]) if rows else []
    urls = [str(row["linkedin_url"]) for row in rows]
    if dialect.name != "postgresql":
        # One json.dumps of the whole batch (in C), a JSON column's values nested in it: SQLite
        # stores them as its `->` gives them back (minified JSON text), the same data.
        columns = [
            [row[n] for row in rows]
            if isinstance(table.c[n].type, JSON)
            else _processed(table.c[n], dialect, [row[n] for row in rows])
            for n in names
        ]
        text = json.dumps(list(zip(*columns, strict=True)), ensure_ascii=False)
        return ContactValues(names, urls, json_rows=text)
    fields = [
        _copy_texts([_json_field(row[n]) for row in rows])
        if isinstance(table.c[n].type, JSON)
        else _copy_texts(_processed(table.c[n], dialect, [row[n] for row in rows]))
        for n in names
    ]
    lines = ["\t".join(values) for values in zip(map(str, range(len(rows))), *fields, strict=True)]
    return ContactValues(names, urls, copy_text="\n".join(lines) + "\n" if lines else "")


def _copy_field(value: Any) -> str:
    """One value in COPY's text format: NULL as \\N; backslash, tab, newline and carriage
    return escaped (the values are the already-validated ones: PostgreSQL only stores them)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        text = str(value)  # a StrEnum's value
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            text = text.replace("\\", "\\\\").replace("\t", "\\t")
            return text.replace("\n", "\\n").replace("\r", "\\r")
        return text
    raise TypeError(f"no COPY text for {type(value).__name__}")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# json.dumps with an argument builds an encoder per call: one, kept, encodes the same text.
_json_text = json.JSONEncoder(ensure_ascii=False).encode
_json_string = json.encoder.encode_basestring  # one string as JSON, in C (non-ASCII kept)


def _json_field(value: Any) -> str:
    """A JSON column's value as JSON text, as `_json_text` writes it. A flat object of strings
    (an import's custom fields, nearly always) is written from its strings, each encoded in C:
    1.5 µs a row against 5 µs through the encoder's Python layers."""
    if type(value) is dict:
        try:
            return (
                "{"
                + ", ".join([_json_string(k) + ": " + _json_string(v) for k, v in value.items()])
                + "}"
            )
        except TypeError:  # a key or value that is not a string: the encoder decides
            pass
    return _json_text(value)


def _copy_texts(values: Sequence[Any]) -> list[str]:
    """A column's values as `_copy_field` writes them. A column of strings and NULLs (nearly
    every column of a batch) is looked at once for a character to escape, one scan in C: value
    by value, the checks cost 2.5 µs a value, half the batch's preparation."""
    if not all(v is None or type(v) is str for v in values):
        return [_copy_field(v) for v in values]
    text = "".join([v for v in values if v is not None])
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return ["\\N" if v is None else v.translate(_COPY_ESCAPES) for v in values]
    return ["\\N" if v is None else v for v in values]


def insert_contacts_skip_existing(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    *,
    common: Mapping[str, Any],
    values: ContactValues,
    then: Sequence[Companion] = (),
    waiting: Waiting = contextlib.nullcontext,
    turns: Turns | None = None,
) -> dict[str, int]:
    """Insert contacts of one campaign in one statement; rows whose (campaign, URL) exists are
    skipped, not errors. `common` holds the values every row shares (campaign_id among them);
    each row the ones that vary, under the same keys in every row (`values`: the same rows
    made ready by `contact_values`). `then` (PostgreSQL only): statements run in the same one,
    each reading the inserted rows from a CTE named `inserted` (its SQL, its parameters and the
    columns it reads there); they run when `rows` is not empty. `waiting`: a context around each
    long call into the driver (an import's reading thread reads only then). `turns`: told when
    the rows' ids are drawn (PostgreSQL: they are drawn in the rows' order before the insert).

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
    varying = values.names
    shared = {**_defaults(table, set(varying) | set(common)), **common}
    shared_names = list(shared)
    shared_values = tuple(_processed(table.c[n], dialect, [shared[n]])[0] for n in shared_names)
    names = shared_names + varying
    if dialect.name == "postgresql":
        shared_map = dict(zip(shared_names, shared_values, strict=True))
        return _copy_skip_existing(connection, table, shared_map, values, then, waiting, turns)
    if then:
        raise ValueError("a statement run with the insert is PostgreSQL's")
    # Only the table's own column names and types are spliced into the SQL; values are parameters.
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    conflict = "ON CONFLICT (campaign_id, linkedin_url) DO NOTHING"
    # SQLite: executemany discards RETURNING rows, so the new ids are read back by range. Writers
    # hold the database's write lock from BEGIN IMMEDIATE, so every id above the previous
    # maximum is one of these rows.
    before = int(
        connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM contacts").scalar_one()
    )
    # The rows come as ONE JSON parameter read by json_each, in their order: one statement, one
    # step of the driver (executemany binds and steps each row, giving the GIL up and back each
    # time: 200,000 rows took 2.5 s of statements against 1.5 s this way). The shared values are
    # parameters too, never literals: the statement's text is then the same for every batch, and
    # the driver's statement cache holds one statement, not one per batch, each keeping its
    # last parameters (128 of them held 128 batches' JSON: 140 MB).
    marks = ", ".join("?" * len(shared_values))
    picks = ", ".join(
        f"value -> {i}" if isinstance(table.c[n].type, JSON) else f"value ->> {i}"
        for i, n in enumerate(varying)
    )
    sql = (
        f"INSERT INTO contacts ({quoted}) SELECT {marks}, {picks} "  # noqa: S608
        f"FROM json_each(?) ORDER BY key {conflict}"
    )
    with waiting():
        written = connection.exec_driver_sql(sql, (*shared_values, values.json_rows)).rowcount
    if written == len(rows):
        # Nothing skipped: SQLite numbered the rows max + 1, max + 2, … in order (checked).
        last = connection.exec_driver_sql("SELECT max(id) FROM contacts").scalar()
        if last == before + written:
            return {url: before + 1 + i for i, url in enumerate(values.urls)}
    result = connection.exec_driver_sql(
        "SELECT linkedin_url, id FROM contacts WHERE id > ? AND campaign_id = ?",
        (before, shared["campaign_id"]),
    )
    return {str(url): int(id_) for url, id_ in result.all()}


def _copy_skip_existing(
    connection: Connection,
    table: Table,
    shared: Mapping[str, Any],
    values: ContactValues,
    then: Sequence[Companion],
    waiting: Waiting,
    turns: Turns | None,
) -> dict[str, int]:
    """PostgreSQL: the rows go through `COPY` (text already made by `contact_values`: no SQL text
    and no parameter per value) into a temporary table the connection keeps (`_staging_table`),
    numbered in their order, each drawing its new id from the contacts' sequence as COPY writes it
    (so the ids follow the rows' order, and a batch written beside another in a second transaction
    draws all of its ids after the previous batch's: `turns`), then ONE `INSERT … SELECT … ON
    CONFLICT DO NOTHING` moves them into contacts with those ids (a skipped row's id is left
    unused, as a sequence default's would be). The commit empties that table; a second batch in
    the same transaction empties it first. The data never meets PostgreSQL's CSV parser."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    varying = values.names
    staging = _staging_table(connection, table, varying)
    driver = connection.connection.driver_connection
    assert driver is not None  # noqa: S101 - a live connection in a transaction
    text = values.copy_text.encode(driver.info.encoding)
    filled: set[str] = connection.info.setdefault(_FILLED, set())
    if staging in filled:  # an earlier batch of this transaction: its rows are still there
        connection.exec_driver_sql(f"DELETE FROM {staging}")  # noqa: S608 - our own name
    copied = ", ".join(["n", *(quote(n) for n in varying)])  # `id`: its default draws it
    with (
        waiting(),
        driver.cursor() as cursor,
        cursor.copy(f"COPY {staging} ({copied}) FROM STDIN") as copy,
    ):
        copy.write(text)
    filled.add(staging)
    if turns is not None:
        turns.drawn()
    names = ", ".join(quote(n) for n in ["id", *shared, *varying])
    marks = ", ".join(
        ["u.id"] + [f"%(s{i})s" for i in range(len(shared))] + [f"u.{quote(n)}" for n in varying]
    )
    # The ids were drawn in the rows' order. When every row went in under
    # consecutive ids (no row skipped, no other writer drawing in between), the i-th id is the
    # i-th row's and ONE small row comes back: shipping 5,000 ids back cost the writer more than
    # their reading (the driver takes the GIL back for each piece of the answer, while the reading
    # thread holds it). Otherwise every inserted (id, URL) pair comes back too. `then` (the
    # batch's events, counts, an import's checkpoint) read the inserted rows from the CTE: a
    # data-modifying CTE runs to its end whether or not the answer reads it, and each saved a
    # round trip and the writer's Python around it.
    returned = ["id", "linkedin_url"]
    for _, _, reads in then:
        returned += [n for n in reads if n not in returned]
    companions = "".join(f"companion_{i} AS ({sql}), " for i, (sql, _, _) in enumerate(then))
    sql = (
        f"WITH inserted AS (INSERT INTO contacts ({names}) SELECT {marks} "  # noqa: S608
        f"FROM {staging} AS u "
        "ON CONFLICT (campaign_id, linkedin_url) DO NOTHING "
        f"RETURNING {', '.join(quote(n) for n in returned)}), {companions}"
        "span AS (SELECT count(*) AS k, min(id) AS lo, max(id) AS hi FROM inserted) "
        "SELECT k, lo, NULL, NULL FROM span UNION ALL "
        "SELECT NULL, NULL, i.id, i.linkedin_url FROM inserted AS i, span "
        "WHERE NOT (span.k = %(rows)s AND span.hi - span.lo + 1 = span.k)"
    )
    params = {
        "rows": len(values.urls),
        **{f"s{i}": v for i, v in enumerate(shared.values())},
    }
    for _, their, _ in then:
        params.update(their)
    with waiting():
        answer = connection.exec_driver_sql(sql, params).all()
    pairs = {str(url): int(id_) for _, _, id_, url in answer if id_ is not None}
    count, first = next((k, lo) for k, lo, id_, _ in answer if id_ is None)
    if count and not pairs:
        return {url: int(first) + i for i, url in enumerate(values.urls)}
    return pairs


# The staging tables a connection has made (PostgreSQL), in its `info`. Any rollback, even to a
# savepoint, forgets them: it may have dropped one made since (made again IF NOT EXISTS: one round
# trip, no harm).
_STAGING = "contacts_staging_tables"
# The staging tables holding rows in the connection's current transaction (PostgreSQL): a commit
# empties them (ON COMMIT DELETE ROWS).
_FILLED = "contacts_staging_filled"


def _staging_table(connection: Connection, table: Table, varying: Sequence[str]) -> str:
    """PostgreSQL: the name of a temporary table for a batch of new contacts with these varying
    columns (a row number `n` first, then the new id, drawn from the contacts' own sequence as
    each row is written), made once per database connection, emptied at each commit (ON COMMIT
    DELETE ROWS). Made and dropped for each batch, it cost two round trips and a dozen catalog
    rows written and deleted every 5,000 contacts."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    # Only the table's own column names and types are spliced into the SQL.
    typed = ", ".join(f"{quote(n)} {table.c[n].type.compile(dialect=dialect)}" for n in varying)
    name = "new_contacts_" + hashlib.sha1(typed.encode(), usedforsecurity=False).hexdigest()[:12]
    made: set[str] = connection.info.setdefault(_STAGING, set())
    if name not in made:
        sequence = connection.exec_driver_sql(
            "SELECT pg_get_serial_sequence('contacts', 'id')"
        ).scalar_one()
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {name} (n integer, "
            f"id bigint DEFAULT nextval('{sequence}'), {typed}) ON COMMIT DELETE ROWS"
        )
        made.add(name)
    return name


@event.listens_for(Engine, "rollback")
@event.listens_for(Engine, "rollback_savepoint")
def _staging_unknown(connection: Connection, *args: object) -> None:
    connection.info.pop(_STAGING, None)


@event.listens_for(Engine, "commit")
def _staging_emptied(connection: Connection) -> None:
    connection.info.pop(_FILLED, None)


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


def count_contacts(session: Session, where: ColumnElement[bool]) -> int:
    """How many contacts match `where` (one of this module's predicates)."""
    return int(session.scalar(select(func.count()).select_from(Contact).where(where)) or 0)


# ---------------------------------------------------------------- the counts' rows


def count_rows(session: Session, campaign_ids: Sequence[int]) -> Sequence[Row[int, str, int]]:
    """(campaign_id, key, count) of the campaigns' maintained counts."""
    return session.execute(
        select(CampaignCount.campaign_id, CampaignCount.key, CampaignCount.count).where(
            CampaignCount.campaign_id.in_(campaign_ids)
        )
    ).all()


def delete_counts(session: Session, campaign_id: int) -> None:
    session.execute(delete(CampaignCount).where(CampaignCount.campaign_id == campaign_id))


def contact_shapes(
    session: Session, campaign_id: int
) -> Sequence[Row[ContactStatus, ErrorCode | None, int, bool, int]]:
    """How many of the campaign's contacts per (status, error, invites sent, replied): a scan."""
    return session.execute(
        select(
            Contact.status,
            Contact.error_code,
            Contact.invites_sent,
            Contact.replied,
            func.count(),
        )
        .where(Contact.campaign_id == campaign_id)
        .group_by(Contact.status, Contact.error_code, Contact.invites_sent, Contact.replied)
    ).all()
