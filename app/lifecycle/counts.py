"""Per-campaign counts, maintained with every change instead of counted per request: per status
(`status:<value>`), per error (`error:<code>`) and the acceptance figures (`funnel:invited`,
`funnel:accepted`, `funnel:already_connected`, `funnel:replied`; app.domain.transitions.counted_as).

Every count is a function of each contact's own row, so a change's delta is the row's keys after
minus its keys before. ORM changes to contacts are picked up before each flush; set-based statements
(bulk inserts, sweeps, undo) report their deltas with `bump`. `recount` rebuilds a campaign's counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.domain.errors import ErrorCode
from app.domain.statuses import ContactStatus
from app.domain.transitions import Counted, counted_as
from app.lifecycle import repository
from app.models import CampaignCount, Contact

Deltas = Counter[tuple[int, str]]


def status_key(status: ContactStatus | str) -> str:
    return f"status:{ContactStatus(status).value}"


def error_key(code: ErrorCode | str) -> str:
    return f"error:{ErrorCode(code).value}"


def funnel_key(counted: Counted | str) -> str:
    return f"funnel:{Counted(counted).value}"


def row_keys(
    status: ContactStatus | str,
    error_code: ErrorCode | str | None,
    invites_sent: int | None,
    replied: bool | None,
) -> list[str]:
    """Every count one contact row is in."""
    keys = [status_key(status)]
    if error_code:
        keys.append(error_key(error_code))
    keys.extend(
        funnel_key(c) for c in counted_as(ContactStatus(status), invites_sent or 0, bool(replied))
    )
    return keys


def bump(session: Session, deltas: Mapping[tuple[int, str], int]) -> None:
    """Add each delta to its (campaign, key) count, creating the row when needed."""
    rows = [{"campaign_id": c, "key": k, "count": n} for (c, k), n in sorted(deltas.items()) if n]
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(CampaignCount)
    stmt = stmt.on_conflict_do_update(
        index_elements=["campaign_id", "key"],
        set_={"count": CampaignCount.count + stmt.excluded.count},
    )
    session.execute(stmt, rows)


# PostgreSQL: each count a batch of new contacts of one shape is in, raised by the number of rows
# the INSERT's CTE `inserted` holds (`per_row` of a key for each), as part of that statement.
_BUMP_WITH_INSERT = (
    "INSERT INTO campaign_counts (campaign_id, key, count) "
    "SELECT d.campaign_id, d.key, d.per_row * n.k "
    "FROM unnest(CAST(%(cnt_campaigns)s AS bigint[]), CAST(%(cnt_keys)s AS text[]), "
    "CAST(%(cnt_per_row)s AS integer[])) AS d(campaign_id, key, per_row), "
    "(SELECT count(*) AS k FROM inserted) AS n WHERE n.k > 0 "
    "ON CONFLICT (campaign_id, key) DO UPDATE SET count = campaign_counts.count + excluded.count"
)


def bump_with_insert(
    per_row: Mapping[tuple[int, str], int],
) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """`bump` of `per_row` times the rows an INSERT inserts, as a statement run in its own (SQL
    reading its CTE `inserted`, parameters, no column read): PostgreSQL."""
    items = sorted((c, k, n) for (c, k), n in per_row.items() if n)
    params = {
        "cnt_campaigns": [c for c, _, _ in items],
        "cnt_keys": [k for _, k, _ in items],
        "cnt_per_row": [n for _, _, n in items],
    }
    return _BUMP_WITH_INSERT, params, ()


# The columns of a contact's row its counts depend on (what `deltas_for_rows` reads).
COUNTED_COLUMNS = frozenset(("campaign_id", "status", "error_code", "invites_sent", "replied"))


def deltas_for_rows(rows: Iterable[Mapping[str, Any]], sign: int = 1) -> Deltas:
    """Deltas for whole contacts (dicts with campaign_id, status, and error_code, invites_sent and
    replied when they are not the defaults) appearing (sign 1) or going (sign -1)."""
    # A batch has few shapes (its rows share campaign and status): keys are worked out per shape.
    shapes = Counter(
        (
            row["campaign_id"],
            row["status"],
            row.get("error_code"),
            row.get("invites_sent"),
            row.get("replied"),
        )
        for row in rows
    )
    out: Deltas = Counter()
    for (cid, status, code, invites, replied), n in shapes.items():
        for key in row_keys(status, code, invites, replied):
            out[(cid, key)] += sign * n
    return out


def read_counts(session: Session, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {cid: {} for cid in campaign_ids}
    if not campaign_ids:
        return out
    for cid, key, count in repository.count_rows(session, campaign_ids):
        out[cid][key] = count
    return out


def recount(session: Session, campaign_id: int) -> None:
    """Rebuild one campaign's counts from its contacts (repair, and the tests' reference)."""
    repository.delete_counts(session, campaign_id)
    bump(session, counted(session, campaign_id))


def counted(session: Session, campaign_id: int) -> Deltas:
    """One campaign's counts as its contacts are now (a scan: for repair and tests)."""
    deltas: Deltas = Counter()
    for status, code, invites, replied, n in repository.contact_shapes(session, campaign_id):
        for key in row_keys(status, code, invites, replied):
            deltas[(campaign_id, key)] += n
    return deltas


_COUNTED_ATTRS = ("status", "error_code", "invites_sent", "replied")


def _orm_deltas(session: Session) -> Deltas:
    deltas: Deltas = Counter()
    for obj in session.new:
        if isinstance(obj, Contact):
            for key in row_keys(obj.status, obj.error_code, obj.invites_sent, obj.replied):
                deltas[(obj.campaign_id, key)] += 1
    for obj in session.deleted:
        if isinstance(obj, Contact):
            for key in row_keys(obj.status, obj.error_code, obj.invites_sent, obj.replied):
                deltas[(obj.campaign_id, key)] -= 1
    for obj in session.dirty:
        if not isinstance(obj, Contact):
            continue
        state = inspect(obj)
        before: dict[str, Any] = {}
        changed = False
        for attr in _COUNTED_ATTRS:
            history = state.attrs[attr].history
            if history.has_changes():
                changed = True
                before[attr] = history.deleted[0] if history.deleted else None
            else:
                before[attr] = getattr(obj, attr)
        if not changed:
            continue
        for key in row_keys(
            before["status"], before["error_code"], before["invites_sent"], before["replied"]
        ):
            deltas[(obj.campaign_id, key)] -= 1
        for key in row_keys(obj.status, obj.error_code, obj.invites_sent, obj.replied):
            deltas[(obj.campaign_id, key)] += 1
    return deltas


def _count_orm_changes(session: Session, _context: Any, _instances: Any) -> None:
    deltas = _orm_deltas(session)
    if any(deltas.values()):
        bump(session, deltas)


def install() -> None:
    """Keep the counts of contacts changed through the ORM (a flush) with every session: called
    once at start-up by the app, the CLI, the test suite and the benchmarks (idempotent)."""
    if not event.contains(Session, "before_flush", _count_orm_changes):
        event.listen(Session, "before_flush", _count_orm_changes)
