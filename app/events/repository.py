"""The event log's statements: the outbox's INSERTs, the numberer's, the readers' and the purge's."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import delete, exists, func, insert, or_, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from app.db import UTCDateTime, utc_param
from app.models import Event, EventHead
from app.models.event import EventBatch, LoggedEvent, UnpackedEvent

# The key of the numberer's advisory lock on PostgreSQL ("evnt" in ASCII): one numberer at a time.
NUMBERER_LOCK_KEY = 0x65766E74


def numbers_at_write(session: Session) -> bool:
    """SQLite: the writer numbers its own events. Its write transactions are serialised (each
    takes the lock up front, BEGIN IMMEDIATE), so the numbers a writer gives follow every number
    already committed and no other writer commits in between: its events become readable, in
    order, when it commits. Numbering at the INSERT spares every event an UPDATE after it.
    PostgreSQL's writers commit out of order: there the numberer does it after they commit."""
    return session.get_bind().dialect.name != "postgresql"


# SQLite: a change's events (from `outbox.event_row`) in ONE INSERT … SELECT from a JSON array of
# them, each numbered by its workspace's head plus its place among that workspace's events, then
# ONE upsert of those heads. Through the ORM (read the heads, insert, update them) one event cost
# three statements and 1-2 ms of Python: most of what an engine result or an integration's event
# spends on SQLite.
_EVENTS_SQLITE = (
    "INSERT INTO events (uid, workspace_id, seq, type, occurred_at, recorded_at, data) "
    "SELECT j.value ->> 0, j.value ->> 1, "
    "coalesce((SELECT h.last_seq FROM event_heads AS h WHERE h.workspace_id = j.value ->> 1), 0)"
    " + row_number() OVER (PARTITION BY j.value ->> 1 ORDER BY j.key), "
    "j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5 "
    "FROM json_each(?) AS j ORDER BY j.key"
)
# SQLite: the heads of the given workspaces (a JSON array) moved to their largest number: the
# last number of their last row (a packed run's last, `Event.event_count`).
_HEADS_SQLITE = (
    "INSERT INTO event_heads (workspace_id, last_seq, purged_through) "
    "SELECT w.value, (SELECT e.seq + coalesce(e.event_count, 1) - 1 FROM events AS e "
    "WHERE e.workspace_id = w.value ORDER BY e.seq DESC LIMIT 1), 0 "
    "FROM json_each(?) AS w WHERE true "
    "ON CONFLICT (workspace_id) DO UPDATE SET last_seq = excluded.last_seq"
)


def insert_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """SQLite: the rows in ONE INSERT into the log, numbered as they are written
    (`numbers_at_write`), and one upsert of their workspaces' heads. PostgreSQL: one batch row
    (`insert_batches`)."""
    rows = list(rows)
    if not rows:
        return
    if not numbers_at_write(session):
        insert_batches(session, rows)
        return
    connection = session.connection()
    dialect = connection.dialect
    stamp = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert stamp is not None  # noqa: S101 - UTCDateTime always processes
    # Each event's data as the JSON column writes it (a string inside the array: stored as is).
    data = Event.__table__.c.data.type.dialect_impl(dialect).bind_processor(dialect)
    events = [
        [
            r["uid"],
            int(r["workspace_id"]),
            r["type"],
            stamp(r["occurred_at"]),
            stamp(r["recorded_at"]),
            data(r["data"]) if data is not None else json.dumps(r["data"]),
        ]
        for r in rows
    ]
    connection.exec_driver_sql(_EVENTS_SQLITE, (json.dumps(events),))
    workspaces = sorted({e[1] for e in events})
    connection.exec_driver_sql(_HEADS_SQLITE, (json.dumps(workspaces),))


def batch_element(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event as a batch holds it: `occurred_at` as ISO-8601 with its offset (exact to the
    microsecond), left out when it is the batch's `recorded_at`."""
    element = {"type": row["type"], "data": row["data"]}
    occurred_at: datetime = row["occurred_at"]
    if occurred_at != row["recorded_at"]:
        if occurred_at.tzinfo is None:
            raise ValueError("naive datetime given as an event's occurred_at")
        element["occurred_at"] = occurred_at.astimezone(UTC).isoformat()
    return element


def insert_batches(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """PostgreSQL: the rows (from `outbox.event_row`) as ONE batch row per workspace and
    `recorded_at` (a change records all its events at one instant, in one workspace: one row),
    in one INSERT; the events' public ids are drawn when they are numbered."""
    batches = []
    for (workspace_id, recorded_at), group in groupby(
        rows, key=lambda r: (int(r["workspace_id"]), r["recorded_at"])
    ):
        events = [batch_element(r) for r in group]
        batches.append(
            {
                "workspace_id": workspace_id,
                "recorded_at": recorded_at,
                "event_count": len(events),
                "events": events,
            }
        )
    session.execute(insert(EventBatch), batches)


# ---------------------------------------------------------------- the numberer


def take_numberer_lock(session: Session) -> None:
    """PostgreSQL: wait for the numberer's advisory lock, held until this transaction ends. SQLite
    needs none: a write transaction already excludes every other writer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": NUMBERER_LOCK_KEY})


def has_unnumbered(session: Session) -> bool:
    """Whether committed events wait for a number: a batch (PostgreSQL), or a row of the log
    without one (written before the batches)."""
    return bool(
        session.scalar(
            select(or_(exists().where(Event.seq.is_(None)), select(EventBatch.id).exists()))
        )
    )


def batch_end(session: Session, limit: int) -> tuple[int, int] | None:
    """How many committed events wait (up to `limit`) and the largest id among the first
    `limit` of them, or None when none wait."""
    ids = select(Event.id).where(Event.seq.is_(None)).order_by(Event.id).limit(limit).subquery()
    count, last = session.execute(select(func.count(), func.max(ids.c.id))).one()
    return (int(count), int(last)) if count else None


def last_seqs(session: Session, workspace_ids: Iterable[int]) -> dict[int, int]:
    rows = session.execute(
        select(EventHead.workspace_id, EventHead.last_seq).where(
            EventHead.workspace_id.in_(list(workspace_ids))
        )
    )
    return {row.workspace_id: row.last_seq for row in rows}


def number_up_to(session: Session, max_id: int) -> list[tuple[int, int]]:
    """Number every committed, unnumbered event with an id up to `max_id`, in ONE statement: each
    workspace's next numbers in id order (its head plus a row number), computed by the database.
    Returns (workspace_id, seq) of each row numbered."""
    numbered = (
        select(
            Event.id.label("id"),
            (
                func.coalesce(EventHead.last_seq, 0)
                + func.row_number().over(partition_by=Event.workspace_id, order_by=Event.id)
            ).label("seq"),
        )
        .select_from(Event)
        .outerjoin(EventHead, EventHead.workspace_id == Event.workspace_id)
        .where(Event.seq.is_(None), Event.id <= max_id)
        .subquery()
    )
    rows = session.execute(
        update(Event)
        .where(Event.id == numbered.c.id)
        .values(seq=numbered.c.seq)
        .returning(Event.workspace_id, Event.seq)
        .execution_options(synchronize_session=False)
    )
    return [(int(row[0]), int(row[1] or 0)) for row in rows]


# PostgreSQL: committed batches, in id order, become numbered rows of the log in ONE statement.
# `picked` stops adding batches once `limit` events are taken (a batch is never split: a pass may
# number up to one batch more). Their rows are deleted and their events inserted with each
# workspace's head plus their place (batch id, then place in the batch), each with its random
# public id, and the heads move to the largest number given. Every CTE runs on the statement's
# one snapshot, taken after the numberer's lock: an uncommitted batch is not seen, and waits for
# a later pass. A batch of `contact.created` (`created_cause` set) holds the contacts' columns:
# it becomes ONE packed row of the log (`Event.event_count`; `unpack` builds each event's data when
# it is read): expanded here into a row and a JSON object per contact, a bulk add's events made
# the numberer a tenth of the API's ingest time. A batch whose `events` is an object (the sweep's
# `contact.status_changed`, `_CHANGED_POSTGRESQL`) is a packed row already: its type and data.
_NUMBER_BATCHES = text(
    """
WITH picked AS (
    SELECT id FROM (
        SELECT id, sum(event_count) OVER (ORDER BY id) - event_count AS before
        FROM event_batches ORDER BY id LIMIT :limit
    ) AS running
    WHERE before < :limit
), taken AS (
    DELETE FROM event_batches AS b USING picked WHERE b.id = picked.id
    RETURNING b.id, b.workspace_id, b.recorded_at, b.created_cause, b.events, b.event_count
), elements AS (
    SELECT t.id AS batch_id, t.workspace_id, t.recorded_at, e.n, e.type, e.occurred_at, e.data,
        1 AS cnt, NULL::integer AS packed
    FROM taken AS t
    CROSS JOIN LATERAL ROWS FROM (
        json_to_recordset(t.events) AS (type text, occurred_at timestamptz, data jsonb)
    ) WITH ORDINALITY AS e(type, occurred_at, data, n)
    WHERE t.created_cause IS NULL AND json_typeof(t.events) = 'array'
    UNION ALL
    SELECT t.id, t.workspace_id, t.recorded_at, 1, t.events ->> 'type', NULL,
        (t.events -> 'data')::jsonb, t.event_count, t.event_count
    FROM taken AS t
    WHERE json_typeof(t.events) = 'object'
    UNION ALL
    SELECT t.id, t.workspace_id, t.recorded_at, 1, 'contact.created', NULL,
        jsonb_build_object('cause', t.created_cause, 'shared', '{}'::jsonb, 'names',
            '["id", "campaign_id", "linkedin_url", "first_name", "last_name", "email",
              "company", "status", "source"]'::jsonb, 'rows', t.events::jsonb),
        t.event_count, t.event_count
    FROM taken AS t
    WHERE t.created_cause IS NOT NULL
), numbered AS (
    SELECT e.*, coalesce(h.last_seq, 0) - e.cnt + 1
        + sum(e.cnt) OVER (PARTITION BY e.workspace_id ORDER BY e.batch_id, e.n) AS seq
    FROM elements AS e
    LEFT JOIN event_heads AS h ON h.workspace_id = e.workspace_id
), inserted AS (
    INSERT INTO events (uid, workspace_id, seq, event_count, type, occurred_at, recorded_at, data)
    SELECT 'evt_' || CASE WHEN packed IS NULL THEN encode(uuid_send(gen_random_uuid()), 'hex')
            ELSE left(encode(uuid_send(gen_random_uuid()), 'hex'), 24) END,
        workspace_id, seq, packed, type, coalesce(occurred_at, recorded_at), recorded_at, data
    FROM numbered
    RETURNING workspace_id, seq + coalesce(event_count, 1) - 1 AS last, coalesce(event_count, 1) AS cnt
), heads AS (
    INSERT INTO event_heads (workspace_id, last_seq, purged_through)
    SELECT workspace_id, max(last), 0 FROM inserted GROUP BY workspace_id
    ON CONFLICT (workspace_id) DO UPDATE SET last_seq = excluded.last_seq
)
SELECT coalesce(sum(cnt), 0) FROM inserted
"""
)


def number_batches(session: Session, limit: int) -> int:
    """PostgreSQL: number the committed batches waiting, in id order, about `limit` events (whole
    batches); returns how many events were numbered."""
    return int(session.execute(_NUMBER_BATCHES, {"limit": limit}).scalar_one())


def save_last_seqs(session: Session, heads: Mapping[int, int], *, known: Iterable[int]) -> None:
    known = set(known)
    new = [
        {"workspace_id": w, "last_seq": s, "purged_through": 0}
        for w, s in heads.items()
        if w not in known
    ]
    old = [{"workspace_id": w, "last_seq": s} for w, s in heads.items() if w in known]
    if new:
        session.execute(insert(EventHead), new)
    if old:
        session.execute(update(EventHead), old)


# ---------------------------------------------------------------- readers


def head(session: Session, workspace_id: int) -> tuple[int, int]:
    """(last numbered seq, last purged seq) of a workspace; (0, 0) before its first event."""
    row = session.execute(
        select(EventHead.last_seq, EventHead.purged_through).where(
            EventHead.workspace_id == workspace_id
        )
    ).one_or_none()
    return (row.last_seq, row.purged_through) if row else (0, 0)


def numbered_page(
    session: Session,
    *,
    workspace_id: int,
    after: int,
    upto: int,
    limit: int,
    types: Sequence[str] | None,
) -> list[LoggedEvent]:
    """Up to `limit` of the workspace's events numbered after `after` and up to `upto`, of
    `types` (None: all), in `seq` order; packed runs unpacked, from the one holding `after + 1`
    when `after` falls inside it."""
    where = [Event.workspace_id == workspace_id]
    if types:
        where.append(Event.type.in_(types))
    rows = list(
        session.scalars(
            select(Event)
            .where(*where, Event.seq > after, Event.seq <= upto)
            .order_by(Event.seq)
            .limit(limit)
        )
    )
    # The row numbered last at or before `after` (one step back along the index): a packed
    # run that may go on past it.
    holder = session.scalars(
        select(Event)
        .where(Event.workspace_id == workspace_id, Event.seq <= after)
        .order_by(Event.seq.desc())
        .limit(1)
    ).first()
    if (
        holder is not None
        and holder.event_count is not None
        and holder.seq is not None
        and holder.seq + holder.event_count - 1 > after
        and (not types or holder.type in types)
    ):
        rows.insert(0, holder)
    page: list[LoggedEvent] = []
    for row in rows:
        if row.event_count is None:
            page.append(row)
        else:
            page.extend(unpack(row, after=after, upto=upto, limit=limit - len(page)))
        if len(page) >= limit:
            break
    return page[:limit]


def unpack(row: Event, *, after: int, upto: int, limit: int) -> list[UnpackedEvent]:
    """The events of a packed run (`Event.event_count`) numbered after `after` and up to `upto`,
    at most `limit`, each with the `data` a single row of its type holds: `contact.created`
    (`_CREATED_SQLITE`: the contacts' ids run from `first_id`) or `contact.status_changed`
    (`_CHANGED_SQLITE`: `to` is the contact's status, `from` is shared)."""
    assert row.seq is not None  # noqa: S101 - packed runs are numbered as they are written
    packed = row.data
    names: list[str] = packed["names"]
    shared: dict[str, Any] = packed["shared"]
    first_id, cause = packed.get("first_id"), packed["cause"]
    at = {name: i for i, name in enumerate(names)}

    def column(values: list[Any], name: str) -> Any:
        i = at.get(name)
        return values[i] if i is not None else shared.get(name)

    def data(i: int, values: list[Any]) -> dict[str, Any]:
        # PostgreSQL's created runs hold every column as text (the writer's array): ids are
        # given back as numbers.
        contact = {
            "id": first_id + i if first_id is not None else int(column(values, "id")),
            "campaign_id": int(column(values, "campaign_id")),
            **{name: column(values, name) for name in _SUMMARY_COLUMNS},
            "status": column(values, "status"),
        }
        if row.type == "contact.status_changed":
            return {
                "contact": contact,
                "from": shared["from"],
                "to": contact["status"],
                "cause": cause,
            }
        return {"contact": contact, "source": column(values, "source"), "cause": cause}

    start = max(0, after + 1 - row.seq)
    stop = min(len(packed["rows"]), upto - row.seq + 1, start + max(0, limit))
    return [
        UnpackedEvent(
            uid=f"{row.uid}{i:08x}",
            seq=row.seq + i,
            workspace_id=row.workspace_id,
            type=row.type,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            data=data(i, values),
        )
        for i, values in enumerate(packed["rows"][start:stop], start)
    ]


_SUMMARY_COLUMNS = ("linkedin_url", "first_name", "last_name", "email", "company")


# ---------------------------------------------------------------- retention


def heads_to_purge(session: Session) -> list[tuple[int, int, int]]:
    """(workspace_id, last_seq, purged_through) of every workspace with numbered events."""
    rows = session.execute(
        select(EventHead.workspace_id, EventHead.last_seq, EventHead.purged_through).where(
            EventHead.last_seq > EventHead.purged_through
        )
    )
    return [(r.workspace_id, r.last_seq, r.purged_through) for r in rows]


def first_seq_recorded_since(
    session: Session, *, workspace_id: int, after: int, cutoff: datetime
) -> int | None:
    """The first numbered event past `after` recorded at or after `cutoff` (the log's (ws, seq)
    index walks from `after` and stops at the first one)."""
    return session.scalar(
        select(Event.seq)
        .where(Event.workspace_id == workspace_id, Event.seq > after, Event.recorded_at >= cutoff)
        .order_by(Event.seq)
        .limit(1)
    )


def delete_through(
    session: Session, *, workspace_id: int, through: int, limit: int
) -> tuple[int, int]:
    """Delete up to `limit` of the workspace's rows of the log whose events are all numbered
    `through` or lower; returns (rows, events) deleted (a packed run is one row of many)."""
    ids = (
        select(Event.id)
        .where(
            Event.workspace_id == workspace_id,
            Event.seq <= through,
            Event.seq + func.coalesce(Event.event_count, 1) - 1 <= through,
        )
        .limit(limit)
    )
    counts = session.scalars(
        delete(Event)
        .where(Event.id.in_(ids.scalar_subquery()))
        .returning(func.coalesce(Event.event_count, 1))
        .execution_options(synchronize_session=False)
    ).all()
    return len(counts), sum(counts)


def set_purged_through(session: Session, *, workspace_id: int, through: int) -> None:
    session.execute(
        update(EventHead)
        .where(EventHead.workspace_id == workspace_id)
        .values(purged_through=through)
    )


# ---------------------------------------------------------------- set-based writers


# PostgreSQL: the batch row of the contacts' `contact.created` events in ONE statement: each
# contact's columns (the summary of SPEC §4 Events and its source) as a JSON array of strings (a
# text array: 1.1 µs a contact, json_build_array's arguments 1.5 µs), in the order of the given
# ids; the numberer builds their `data`, the ids numbers again. Nothing when none of the ids is the
# workspace's. Each id is looked up by the primary key alone (LATERAL, kept apart by OFFSET 0,
# the workspace checked after): given the workspace's filter beside it, the planner, trusting a
# fresh table's statistics, scanned every contact of the workspace for each id (a batch of 1,000
# took 74 ms in an empty campaign and 450 ms at 7,000 contacts).
_CREATED_POSTGRESQL = (
    "INSERT INTO event_batches (workspace_id, recorded_at, event_count, created_cause, events) "
    "SELECT %(workspace_id)s, %(now)s, count(*), %(cause)s, json_agg(ARRAY["
    "c.id::text, c.campaign_id::text, c.linkedin_url, c.first_name, c.last_name, c.email, "
    "c.company, c.status, c.source] ORDER BY u.n) "
    "FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS u(id, n) "
    "CROSS JOIN LATERAL (SELECT * FROM contacts WHERE contacts.id = u.id OFFSET 0) AS c "
    "WHERE c.workspace_id = %(workspace_id)s HAVING count(*) > 0 RETURNING event_count"
)
# SQLite numbers at the INSERT (`numbers_at_write`): the workspace's head plus the contact's place
# in the given ids (json_each's key counts from 0), then the head moves to the largest number
# given (`_HEADS_SQLITE`). A window function (row_number) over the batch cost 1.2 µs an event
# more, a third of the whole INSERT.
_CREATED_SQLITE = (
    "INSERT INTO events (uid, workspace_id, seq, type, occurred_at, recorded_at, data) "
    "SELECT 'evt_' || lower(hex(randomblob(16))), c.workspace_id, "
    "(SELECT coalesce(max(last_seq), 0) FROM event_heads WHERE workspace_id = ?1) + p.key + 1, "
    "?2, ?3, ?3, json_object('contact', json_object("
    "'id', c.id, 'campaign_id', c.campaign_id, 'linkedin_url', c.linkedin_url, "
    "'first_name', c.first_name, 'last_name', c.last_name, 'email', c.email, "
    "'company', c.company, 'status', c.status), 'source', c.source, 'cause', ?4) "
    "FROM json_each(?5) AS p JOIN contacts c ON c.id = p.value "
    "WHERE c.workspace_id = ?1 ORDER BY p.key"
)


# SQLite: the sweep's batch of `contact.status_changed` events as ONE packed row (`Event.event_count`):
# each contact's summary read from its row as it now is, in the given ids' order (an aggregate's
# input from an ordered subquery keeps its order: SQLite does not flatten it into the aggregate).
_CHANGED_SQLITE = (
    "INSERT INTO events (uid, workspace_id, seq, event_count, type, occurred_at, recorded_at, data) "
    "SELECT 'evt_' || lower(hex(randomblob(12))), :workspace, "
    "coalesce((SELECT last_seq FROM event_heads WHERE workspace_id = :workspace), 0) + 1, "
    "count(*), 'contact.status_changed', :now, :now, json_object("
    "'cause', :cause, 'shared', json_object('from', :from_status), 'names', json(:names), "
    "'rows', json_group_array(json_array(c.id, c.campaign_id, c.linkedin_url, c.first_name, "
    "c.last_name, c.email, c.company, c.status))) "
    "FROM (SELECT c.id, c.campaign_id, c.linkedin_url, c.first_name, c.last_name, c.email, "
    "c.company, c.status FROM {ids_table} AS p CROSS JOIN contacts c ON c.id = p.id "
    "WHERE c.workspace_id = :workspace ORDER BY p.id) AS c HAVING count(*) > 0"
)
# PostgreSQL: the same packed events as ONE batch row whose `events` is the packed row itself
# (`{"type", "data"}`, numbered as it is by `_NUMBER_BATCHES`), built by the database from the
# contacts' rows as they now are (the rows the UPDATE that changed them returns, in its CTE
# `changed`; looked up again by id after it, they cost 5 ms a batch of 2,000), in id order. Built per event in
# Python from the rows read before the change, 50,000 of them cost the sweep 1.0 s of Python and
# 0.47 s to write their 13 MB.
_CHANGED_FROM_UPDATED = (
    "INSERT INTO event_batches (workspace_id, recorded_at, event_count, events) "
    "SELECT %(ev_workspace)s, %(ev_now)s, count(*), json_build_object("
    "'type', 'contact.status_changed', 'data', json_build_object("
    "'cause', %(ev_cause)s::text, 'shared', json_build_object('from', %(ev_from_status)s::text), "
    "'names', %(ev_names)s::json, 'rows', json_agg(json_build_array(c.id, c.campaign_id, "
    "c.linkedin_url, c.first_name, c.last_name, c.email, c.company, c.status) ORDER BY c.id))) "
    "FROM changed AS c WHERE c.workspace_id = %(ev_workspace)s HAVING count(*) > 0"
)
_CHANGED_NAMES_LIST = (
    "id",
    "campaign_id",
    "linkedin_url",
    "first_name",
    "last_name",
    "email",
    "company",
    "status",
)
_CHANGED_NAMES = json.dumps(_CHANGED_NAMES_LIST)
_CHANGED_FROM_COLUMNS = ("workspace_id", *_CHANGED_NAMES_LIST)


def insert_status_changed_events_sqlite(
    session: Session,
    ids_table: str,
    *,
    workspace_id: int,
    from_status: str,
    cause: str,
    now: datetime,
) -> int:
    """SQLite: the `contact.status_changed` events of contacts just changed together (the sweep),
    in ONE INSERT … SELECT of one packed row numbered as it writes (`numbers_at_write`): each
    summary, and `to`, is read from the contact's row as it now is; the contacts are the ids in
    `ids_table` (a table whose primary key is `id`: the sweep's batch), in id order (CROSS JOIN:
    the ids are read first, whatever the planner guesses of a table it has no statistics of, which
    otherwise walked the workspace's contacts). Built per row in Python, 100,000 of them cost the
    sweep 2.1 s of its 2.8 s; as one row each, built by SQLite, 5 ms a thousand (the packed row:
    2.7)."""
    connection = session.connection()
    params = _changed_params(connection.dialect, workspace_id, from_status, cause, now)
    written = connection.exec_driver_sql(
        _CHANGED_SQLITE.format(ids_table=ids_table) + " RETURNING event_count", params
    ).scalar()
    connection.exec_driver_sql(_HEADS_SQLITE, (json.dumps([workspace_id]),))
    return int(written or 0)


def status_changed_from_updated(
    session: Session, *, workspace_id: int, from_status: str, cause: str, now: datetime
) -> tuple[str, dict[str, Any], tuple[str, ...]] | None:
    """PostgreSQL: the SQL, parameters and columns read of the `contact.status_changed` batch of
    the contacts an UPDATE's CTE named `changed` returns (the sweep's batch, as they now are), for
    that statement to run as one more CTE. None where the events are written apart (SQLite
    numbers them as it writes)."""
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return None
    params = _changed_params(dialect, workspace_id, from_status, cause, now, prefix="ev_")
    return _CHANGED_FROM_UPDATED, params, _CHANGED_FROM_COLUMNS


def _changed_params(
    dialect: Dialect,
    workspace_id: int,
    from_status: str,
    cause: str,
    now: datetime,
    *,
    prefix: str = "",
) -> dict[str, Any]:
    params = {
        "workspace": workspace_id,
        "now": utc_param(dialect, now),
        "from_status": from_status,
        "cause": cause,
        "names": _CHANGED_NAMES,
    }
    return {prefix + name: value for name, value in params.items()}


# PostgreSQL: the same batch row built from the rows of the INSERT that creates the contacts (a CTE
# named `inserted`, RETURNING the summary's columns and source), run inside that one statement:
# nothing is looked up again by id, and no round trip of its own (the lookup of a batch of 5,000
# cost 17 ms of an import's batch). Ordered by id: the ids are drawn in the rows' order.
_CREATED_FROM_INSERTED = (
    "INSERT INTO event_batches (workspace_id, recorded_at, event_count, created_cause, events) "
    "SELECT %(ev_workspace)s, %(ev_now)s, count(*), %(ev_cause)s, json_agg(ARRAY["
    "i.id::text, i.campaign_id::text, i.linkedin_url, i.first_name, i.last_name, i.email, "
    "i.company, i.status, i.source] ORDER BY i.id) "
    "FROM inserted AS i WHERE i.workspace_id = %(ev_workspace)s HAVING count(*) > 0"
)
_CREATED_FROM_COLUMNS = (*_CHANGED_FROM_COLUMNS, "source")


def created_events_from_inserted(
    session: Session, *, workspace_id: int, cause: str, now: datetime
) -> tuple[str, dict[str, Any], tuple[str, ...]] | None:
    """PostgreSQL: the SQL, parameters and columns read of the `contact.created` batch of the
    contacts an INSERT's CTE named `inserted` returns, for that statement to run as one more CTE.
    None where the events are written apart (SQLite numbers them as it writes)."""
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return None
    params = {"ev_workspace": workspace_id, "ev_now": utc_param(dialect, now), "ev_cause": cause}
    return _CREATED_FROM_INSERTED, params, _CREATED_FROM_COLUMNS


@dataclass(frozen=True)
class InsertedRows:
    """A batch of new contacts as the parameters of the SQLite INSERT that wrote them: the names
    of the columns that vary, one JSON array of each row's values in that order, and the values
    every row shares."""

    names: Sequence[str]
    json_rows: str
    shared: Mapping[str, Any]


# SQLite: a batch's `contact.created` events as ONE packed row (`Event.event_count`), its data
# the batch's own insert parameters, numbered from the workspace's head.
_PACKED_SQLITE = (
    "INSERT INTO events (uid, workspace_id, seq, event_count, type, occurred_at, recorded_at, data) "
    "SELECT 'evt_' || lower(hex(randomblob(12))), ?1, "
    "coalesce((SELECT last_seq FROM event_heads WHERE workspace_id = ?1), 0) + 1, ?2, "
    "'contact.created', ?3, ?3, ?4"
)


def _consecutive(ids: Sequence[int]) -> bool:
    return list(ids) == list(range(ids[0], ids[0] + len(ids)))


def insert_created_events(
    session: Session,
    contact_ids: Sequence[int],
    *,
    workspace_id: int,
    cause: str,
    now: datetime,
    rows: InsertedRows | None = None,
) -> int:
    """The `contact.created` events of contacts just inserted. SQLite, when `rows` (every row of
    the batch, inserted in order) gave them consecutive ids: ONE packed row holding the insert's
    own parameters: no statement reads the contacts back and no row, uid or JSON object is made
    per event (built per row from the contacts, a batch's events cost an import a fifth of its
    rate). Otherwise ONE INSERT … SELECT in which the database builds each event's `data` from
    the contact's row: on SQLite into the log, numbered, each with its random public id; on
    PostgreSQL one batch row."""
    if not contact_ids:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    stamp = utc_param(dialect, now)
    if rows is not None and dialect.name != "postgresql" and _consecutive(contact_ids):
        data = (
            f'{{"cause": {json.dumps(cause)}, "first_id": {int(contact_ids[0])}, '
            f'"shared": {json.dumps(rows.shared)}, "names": {json.dumps(list(rows.names))}, '
            f'"rows": {rows.json_rows}}}'
        )
        connection.exec_driver_sql(_PACKED_SQLITE, (workspace_id, len(contact_ids), stamp, data))
        connection.exec_driver_sql(_HEADS_SQLITE, (json.dumps([workspace_id]),))
        return len(contact_ids)
    if dialect.name == "postgresql":
        sql = _CREATED_POSTGRESQL
        params: Any = {
            "workspace_id": workspace_id,
            "now": stamp,
            "cause": cause,
            # As an array literal: psycopg adapting a list of 5,000 ints cost 0.65 µs an id.
            "ids": "{" + ",".join(str(int(i)) for i in contact_ids) + "}",
        }
        return int(connection.exec_driver_sql(sql, params).scalar() or 0)
    sql = _CREATED_SQLITE
    params = (workspace_id, "contact.created", stamp, cause, json.dumps(list(contact_ids)))
    written = int(connection.exec_driver_sql(sql, params).rowcount or 0)
    connection.exec_driver_sql(_HEADS_SQLITE, (json.dumps([workspace_id]),))
    return written
