"""The imports' queries: the import records, their rejected rows and their undo record."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, select, text, update
from sqlalchemy.orm import Session

from app.domain.statuses import ImportState
from app.models import Contact, ContactImport, ImportChange, ImportRejection


def list_imports(
    session: Session, *, workspace_id: int, campaign_id: int | None, limit: int
) -> list[ContactImport]:
    stmt = select(ContactImport).where(ContactImport.workspace_id == workspace_id)
    if campaign_id is not None:
        stmt = stmt.where(ContactImport.campaign_id == campaign_id)
    return list(session.scalars(stmt.order_by(ContactImport.id.desc()).limit(limit)))


def locked(session: Session, import_id: int, *, refresh: bool = False) -> ContactImport:
    """The import, its row locked until the transaction ends (a batch against a cancel).
    `refresh`: the session's copy, loaded before, takes the values read under the lock."""
    stmt = select(ContactImport).where(ContactImport.id == import_id).with_for_update()
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    return session.scalars(stmt).one()


# SQLite's page cache for a connection writing an import batch, in KiB. A batch of 5,000 contacts
# dirties about 5 MB of pages (their rows, the entries of their nine indexes, their events): more
# than the default 2 MiB holds, so pages were written out and read back before the commit.
BATCH_CACHE_KIB = 16 * 1024


def widen_cache(session: Session) -> None:
    """SQLite: a page cache the batch being written fits in (kept by the pooled connection)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"PRAGMA cache_size = -{BATCH_CACHE_KIB}"))


def claimable(
    session: Session, *, now: datetime, import_id: int | None, limit: int = 20
) -> list[ContactImport]:
    """Queued imports and running ones whose lease lapsed (or, with `import_id`, that one import
    if queued or running), oldest first, locked; rows another claimer holds are skipped."""
    if import_id is None:
        stmt = select(ContactImport).where(
            (ContactImport.state == ImportState.QUEUED)
            | ((ContactImport.state == ImportState.RUNNING) & (ContactImport.lease_until < now))
        )
    else:
        stmt = select(ContactImport).where(
            ContactImport.id == import_id,
            ContactImport.state.in_([ImportState.QUEUED, ImportState.RUNNING]),
        )
    return list(
        session.scalars(
            stmt.order_by(ContactImport.id).limit(limit).with_for_update(skip_locked=True)
        )
    )


def campaign_busy(session: Session, *, campaign_id: int, besides: int, now: datetime) -> bool:
    """Another import of the campaign runs under a live lease."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    ContactImport.campaign_id == campaign_id,
                    ContactImport.id != besides,
                    ContactImport.state == ImportState.RUNNING,
                    ContactImport.lease_until >= now,
                )
            )
        )
    )


# PostgreSQL: a batch's progress and checkpoint on its import, in the statement that inserts the
# batch's contacts (reading how many went in from its CTE `inserted`).
_CHECKPOINT_WITH_INSERT = (
    "UPDATE imports SET rows_read = rows_read + %(imp_rows)s, imported = imported + n.k, "
    "duplicates = duplicates + %(imp_fresh)s - n.k + %(imp_in_file)s, "
    "invalid = invalid + %(imp_invalid)s, checkpoint_row = %(imp_row)s, "
    "checkpoint_offset = %(imp_offset)s, checkpoint_line = %(imp_line)s, "
    "lease_until = %(imp_lease)s, failures = 0 "
    "FROM (SELECT count(*) AS k FROM inserted) AS n WHERE imports.id = %(imp_id)s"
)


def checkpoint_with_insert(
    session: Session, import_id: int, progress: Mapping[str, Any], *, fresh: int, in_file: int
) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """A batch's progress and checkpoint on its import as a statement run in the INSERT of the
    batch's `fresh` new contacts (PostgreSQL: SQL reading that INSERT's CTE `inserted`,
    parameters, no column read): rows read, invalid, checkpoint and lease from `progress` (this
    batch's own figures); imported and duplicates from how many the INSERT inserted."""
    dialect = session.get_bind().dialect
    lease = ContactImport.__table__.c.lease_until.type.dialect_impl(dialect)
    bind = lease.bind_processor(dialect)
    params = {
        "imp_id": import_id,
        "imp_rows": progress["rows_read"],
        "imp_invalid": progress["invalid"],
        "imp_fresh": fresh,
        "imp_in_file": in_file,
        "imp_row": progress["checkpoint_row"],
        "imp_offset": progress["checkpoint_offset"],
        "imp_line": progress["checkpoint_line"],
        "imp_lease": bind(progress["lease_until"]) if bind else progress["lease_until"],
    }
    return _CHECKPOINT_WITH_INSERT, params, ()


def add_rejections(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(insert(ImportRejection), rows)


def rejections_after(
    session: Session, import_id: int, *, after_row: int, limit: int
) -> Sequence[Any]:
    """(row_number, cells, reason) of the import's rejected rows past `after_row`, in file order."""
    return session.execute(
        select(ImportRejection.row_number, ImportRejection.cells, ImportRejection.reason)
        .where(ImportRejection.import_id == import_id, ImportRejection.row_number > after_row)
        .order_by(ImportRejection.row_number)
        .limit(limit)
    ).all()


def campaign_contacts_by_url(
    session: Session, campaign_id: int, urls: Collection[str]
) -> Sequence[Contact]:
    return session.scalars(
        select(Contact).where(Contact.campaign_id == campaign_id, Contact.linkedin_url.in_(urls))
    ).all()


def merged_contact_ids(session: Session, import_id: int) -> set[int]:
    """The contacts that existed before the import and that it has merged a row into."""
    return set(
        session.scalars(select(ImportChange.contact_id).where(ImportChange.import_id == import_id))
    )


def restore_changes(session: Session, import_id: int) -> None:
    """Put back the fields the import changed on contacts it did not create; forget its changes."""
    for change in session.scalars(select(ImportChange).where(ImportChange.import_id == import_id)):
        if not change.previous:
            continue  # the contact's first row in the file changed nothing
        session.execute(
            update(Contact)
            .where(Contact.id == change.contact_id)
            .values(**change.previous)
            .execution_options(synchronize_session=False)
        )
    session.execute(delete(ImportChange).where(ImportChange.import_id == import_id))


def ended_with_files(
    session: Session, *, ended: Collection[ImportState], before: datetime, limit: int
) -> Sequence[ContactImport]:
    """Imports that ended before `before` and still have their file, locked, skipping rows
    another process holds."""
    return session.scalars(
        select(ContactImport)
        .where(
            ContactImport.state.in_(list(ended)),
            ContactImport.finished_at < before,
            ContactImport.file_removed_at.is_(None),
        )
        .order_by(ContactImport.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
