"""Per-campaign counts by status and error, maintained with every change instead of counted per request.

ORM changes to contacts are picked up automatically before each flush; set-based statements (bulk
inserts, sweeps) report their deltas with `bump`. `recount` rebuilds a campaign's counts from scratch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.domain.errors import ErrorCode
from app.domain.statuses import ContactStatus
from app.models import CampaignCount, Contact

Deltas = Counter[tuple[int, str]]


def status_key(status: ContactStatus | str) -> str:
    return f"status:{ContactStatus(status).value}"


def error_key(code: ErrorCode | str) -> str:
    return f"error:{ErrorCode(code).value}"


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


def deltas_for_rows(rows: Iterable[Mapping[str, Any]], sign: int = 1) -> Deltas:
    """Deltas for whole contacts (dicts with campaign_id, status and error_code) appearing or going."""
    out: Deltas = Counter()
    for row in rows:
        out[(row["campaign_id"], status_key(row["status"]))] += sign
        if row.get("error_code"):
            out[(row["campaign_id"], error_key(row["error_code"]))] += sign
    return out


def read_counts(session: Session, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {cid: {} for cid in campaign_ids}
    if not campaign_ids:
        return out
    for cid, key, count in session.execute(
        select(CampaignCount.campaign_id, CampaignCount.key, CampaignCount.count).where(
            CampaignCount.campaign_id.in_(campaign_ids)
        )
    ):
        out[cid][key] = count
    return out


def recount(session: Session, campaign_id: int) -> None:
    """Rebuild one campaign's counts from its contacts (repair, and the tests' reference)."""
    session.execute(delete(CampaignCount).where(CampaignCount.campaign_id == campaign_id))
    deltas: Deltas = Counter()
    for status, n in session.execute(
        select(Contact.status, func.count())
        .where(Contact.campaign_id == campaign_id)
        .group_by(Contact.status)
    ):
        deltas[(campaign_id, status_key(status))] = n
    for code, n in session.execute(
        select(Contact.error_code, func.count())
        .where(Contact.campaign_id == campaign_id, Contact.error_code.is_not(None))
        .group_by(Contact.error_code)
    ):
        if code is not None:
            deltas[(campaign_id, error_key(code))] = n
    bump(session, deltas)


def _orm_deltas(session: Session) -> Deltas:
    deltas: Deltas = Counter()
    for obj in session.new:
        if isinstance(obj, Contact):
            deltas.update(
                deltas_for_rows(
                    [
                        {
                            "campaign_id": obj.campaign_id,
                            "status": obj.status,
                            "error_code": obj.error_code,
                        }
                    ]
                )
            )
    for obj in session.deleted:
        if isinstance(obj, Contact):
            deltas.update(
                deltas_for_rows(
                    [
                        {
                            "campaign_id": obj.campaign_id,
                            "status": obj.status,
                            "error_code": obj.error_code,
                        }
                    ],
                    -1,
                )
            )
    for obj in session.dirty:
        if not isinstance(obj, Contact):
            continue
        state = inspect(obj)
        for attr, key in (("status", status_key), ("error_code", error_key)):
            history = state.attrs[attr].history
            if not history.has_changes():
                continue
            for old in history.deleted:
                if old is not None:
                    deltas[(obj.campaign_id, key(old))] -= 1
            for new in history.added:
                if new is not None:
                    deltas[(obj.campaign_id, key(new))] += 1
    return deltas


@event.listens_for(Session, "before_flush")
def _count_orm_changes(session: Session, _context: Any, _instances: Any) -> None:
    deltas = _orm_deltas(session)
    if any(deltas.values()):
        bump(session, deltas)
