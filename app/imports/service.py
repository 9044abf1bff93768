"""CSV imports (SPEC §6): accept a file, preview it, run it in batches with a checkpoint, report,
cancel and undo. One service behind the dashboard, the API and the CLI.

Crash safety: each batch's contacts, rejections, counters and checkpoint commit in one transaction,
so a run killed at any point resumes after the last committed row with nothing twice and nothing
missing. Two imports into one campaign run one at a time (the second waits, visibly queued).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.campaigns.service import get_campaign
from app.contacts import repository as contact_repository
from app.domain.statuses import CampaignState, ContactSource, DuplicatePolicy, ImportState
from app.errors import Conflict, ImportRejected, NotFound, PayloadTooLarge, ValidationFailed
from app.events import outbox
from app.events.types import EventType
from app.imports.reader import (
    FIELDS,
    Dialect,
    Row,
    UnreadableFile,
    read_batches,
    read_rows,
    sniff,
)
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause
from app.models import Contact, ContactImport, ImportChange, ImportRejection

LEASE = timedelta(minutes=2)
MAX_FAILURES = 5
PREVIEW_ROWS = 10
UPDATABLE = ("first_name", "last_name", "email", "company", "title")


# ---------------------------------------------------------------- files


def store_upload(source: BinaryIO, *, data_dir: str, max_bytes: int) -> tuple[Path, int]:
    """Copy an upload to the imports folder in chunks (never whole in memory); refuse it past the cap."""
    folder = Path(data_dir) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.csv"
    size = 0
    with path.open("wb") as out:
        while chunk := source.read(1024 * 1024):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                path.unlink(missing_ok=True)
                raise PayloadTooLarge(
                    f"The file is larger than {max_bytes:,} bytes; split it into smaller files"
                )
            out.write(chunk)
    return path, size


def inspect_file(path: Path, *, require_url: bool = True) -> Dialect:
    """The file's encoding, delimiter, header and mapping; ImportRejected when it cannot be read.

    `require_url=False` when the caller brings its own mapping (it may name the URL column)."""
    with path.open("rb") as raw:
        try:
            return sniff(raw, require_url=require_url)
        except UnreadableFile as exc:
            raise ImportRejected(str(exc)) from exc


def parse_mapping(raw: dict[str, str] | None, dialect: Dialect) -> dict[int, str]:
    """A mapping given as {column name or index: field}, checked against the header."""
    if not raw:
        return dict(dialect.mapping)
    mapping: dict[int, str] = {}
    for column, target in raw.items():
        if not target or target == "custom":
            continue
        if target not in FIELDS:
            raise ValidationFailed(
                "Unknown field in mapping",
                {"mapping": [f"{target!r}: use one of {', '.join(FIELDS)}"]},
            )
        index = (
            int(column)
            if str(column).isdigit()
            else (dialect.header.index(column) if column in dialect.header else -1)
        )
        if index < 0 or index >= len(dialect.header):
            raise ValidationFailed(
                "Unknown column in mapping",
                {"mapping": [f"{column!r} is not a column of this file"]},
            )
        if target in mapping.values():
            raise ValidationFailed(
                "A field is mapped twice", {"mapping": [f"{target} comes from two columns"]}
            )
        mapping[index] = target
    if "linkedin_url" not in mapping.values():
        raise ValidationFailed(
            "No profile-URL column", {"mapping": ["Map one column to linkedin_url"]}
        )
    return mapping


@dataclass(frozen=True)
class PreviewRow:
    number: int
    cells: list[str]
    outcome: str  # "import", "duplicate", "invalid"
    detail: str


@dataclass(frozen=True)
class Preview:
    dialect: Dialect
    mapping: dict[int, str]
    rows: list[PreviewRow]


def preview(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    path: Path,
    mapping: dict[int, str] | None = None,
) -> Preview:
    """What the first rows will do, before anything is written."""
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
    )
    dialect = inspect_file(path)
    used = mapping or dialect.mapping
    rows: list[Row] = []
    with path.open("rb") as raw:
        for row in read_rows(raw, dialect, mapping=used):
            rows.append(row)
            if len(rows) >= PREVIEW_ROWS:
                break
    urls = [str(r.contact["linkedin_url"]) for r in rows if r.contact]
    existing = contact_repository.existing_urls(session, campaign.id, urls)
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.contact is None:
            out.append(PreviewRow(r.number, r.cells, "invalid", r.reason or "Invalid"))
            continue
        url = str(r.contact["linkedin_url"])
        if url in existing or url in seen:
            out.append(
                PreviewRow(r.number, r.cells, "duplicate", f"Already in the campaign: {url}")
            )
        else:
            out.append(PreviewRow(r.number, r.cells, "import", url))
        seen.add(url)
    return Preview(dialect=dialect, mapping=dict(used), rows=out)


# ---------------------------------------------------------------- lifecycle


def create_import(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    path: Path,
    filename: str,
    size: int,
    created_by: str,
    user_id: int | None,
    mapping: dict[int, str] | None,
    on_duplicate: DuplicatePolicy,
    now: datetime,
) -> ContactImport:
    """A queued import. Raises ImportRejected for a file that cannot be read (it is deleted)."""
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
    )
    if campaign.state is CampaignState.ARCHIVED:
        path.unlink(missing_ok=True)
        raise Conflict(f"Campaign {campaign_id} is archived; contacts cannot be imported into it")
    try:
        dialect = inspect_file(path, require_url=mapping is None)
    except ImportRejected:
        path.unlink(missing_ok=True)
        raise
    job = ContactImport(
        workspace_id=workspace_id,
        campaign_id=campaign.id,
        user_id=user_id,
        created_by=created_by[:320],
        filename=(os.path.basename(filename) or "upload.csv")[:255],
        path=str(path),
        size_bytes=size,
        encoding=dialect.encoding,
        delimiter=dialect.delimiter,
        mapping={str(k): v for k, v in (mapping or dialect.mapping).items()},
        header=list(dialect.header),
        on_duplicate=on_duplicate,
        state=ImportState.QUEUED,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def get_import(session: Session, *, workspace_id: int, import_id: int) -> ContactImport:
    job = session.get(ContactImport, import_id)
    if job is None or job.workspace_id != workspace_id:
        raise NotFound(f"Import {import_id} not found")
    return job


def list_imports(
    session: Session, *, workspace_id: int, campaign_id: int | None = None, limit: int = 50
) -> list[ContactImport]:
    stmt = select(ContactImport).where(ContactImport.workspace_id == workspace_id)
    if campaign_id is not None:
        stmt = stmt.where(ContactImport.campaign_id == campaign_id)
    return list(session.scalars(stmt.order_by(ContactImport.id.desc()).limit(limit)))


def cancel_import(
    session: Session, *, workspace_id: int, import_id: int, now: datetime
) -> ContactImport:
    """Stop a queued or running import after its current batch; rows already imported stay."""
    job = get_import(session, workspace_id=workspace_id, import_id=import_id)
    if job.state not in (ImportState.QUEUED, ImportState.RUNNING):
        raise Conflict(
            f"Import {import_id} is {job.state.value}; only a queued or running import can be cancelled"
        )
    finish(session, job, ImportState.CANCELLED, now=now)
    return job


def finish(
    session: Session,
    job: ContactImport,
    state: ImportState,
    *,
    now: datetime,
    error: str | None = None,
) -> None:
    """An import ends (done, failed or cancelled), with its `import.finished` event."""
    job.state = state
    job.finished_at = now
    job.lease_until = None
    if error is not None:
        job.error = error[:1000]
    outbox.record(
        session,
        workspace_id=job.workspace_id,
        type=EventType.IMPORT_FINISHED,
        data={
            "import_id": job.id,
            "campaign_id": job.campaign_id,
            "state": state.value,
            "rows_read": job.rows_read,
            "imported": job.imported,
            "duplicates": job.duplicates,
            "invalid": job.invalid,
            "error": job.error,
        },
        now=now,
    )


def undo_import(session: Session, *, workspace_id: int, import_id: int, now: datetime) -> int:
    """Remove the contacts an import created and restore the fields it changed. Returns how many went."""
    job = get_import(session, workspace_id=workspace_id, import_id=import_id)
    if job.state in (ImportState.QUEUED, ImportState.RUNNING):
        raise Conflict(f"Import {import_id} is still {job.state.value}: cancel it first")
    if job.undone_at is not None:
        raise Conflict(f"Import {import_id} was already undone")
    removed = lifecycle.delete_contacts(session, Contact.import_id == job.id, now=now)
    for change in session.scalars(select(ImportChange).where(ImportChange.import_id == job.id)):
        if not change.previous:
            continue  # the contact's first row in the file changed nothing
        session.execute(
            update(Contact)
            .where(Contact.id == change.contact_id)
            .values(**change.previous)
            .execution_options(synchronize_session=False)
        )
    session.execute(delete(ImportChange).where(ImportChange.import_id == job.id))
    job.undone_at = now
    return removed


def rejected_rows(
    session: Session, factory: sessionmaker[Session], *, workspace_id: int, import_id: int
) -> tuple[ContactImport, list[str], Iterator[list[str]]]:
    """The rejected rows as CSV cells: the file's own columns, then the reason.

    The import is checked in `session`; the rows are read lazily, a thousand at a time, each batch
    in a short session of `factory`'s, so a response can stream them after the request's own
    transaction has ended and memory stays flat however many rows were rejected."""
    job = get_import(session, workspace_id=workspace_id, import_id=import_id)
    columns = job.header
    if columns is None and Path(job.path).exists():  # an import from before headers were kept
        with contextlib.suppress(ImportRejected, OSError):
            columns = inspect_file(Path(job.path), require_url=False).header
    header = [*(columns or []), "row", "reason"]

    def rows() -> Iterator[list[str]]:
        last = 0
        while True:
            with factory() as reader:
                batch = reader.execute(
                    select(
                        ImportRejection.row_number, ImportRejection.cells, ImportRejection.reason
                    )
                    .where(
                        ImportRejection.import_id == import_id, ImportRejection.row_number > last
                    )
                    .order_by(ImportRejection.row_number)
                    .limit(1000)
                ).all()
            for number, cells, reason in batch:
                yield [*[str(c) for c in cells.get("cells", [])], str(number), reason]
            if len(batch) < 1000:
                return
            last = batch[-1].row_number

    return job, header, rows()


# ---------------------------------------------------------------- running


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str | None) -> bool:
    """True when a lease holder was a process on this machine that no longer runs (a dead
    process's PID, or a zombie's). Another machine's processes are never judged from here."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (another user's process, say)
    try:  # a killed child its parent has not reaped yet is a zombie: state Z after the name
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def claim_next(
    session: Session, *, now: datetime, import_id: int | None = None
) -> ContactImport | None:
    """Take a queued import (or one whose owner stopped renewing its lease), one per campaign at a time."""
    if import_id is None:
        stmt = select(ContactImport).where(
            (ContactImport.state == ImportState.QUEUED)
            | ((ContactImport.state == ImportState.RUNNING) & (ContactImport.lease_until < now))
        )
    else:
        # An explicit resume also takes over a running import whose process is gone (killed on
        # this machine), without waiting for its lease to lapse.
        stmt = select(ContactImport).where(
            ContactImport.id == import_id,
            ContactImport.state.in_([ImportState.QUEUED, ImportState.RUNNING]),
        )
    for job in session.scalars(
        stmt.order_by(ContactImport.id).limit(20).with_for_update(skip_locked=True)
    ):
        if (
            job.state is ImportState.RUNNING
            and job.lease_until is not None
            and job.lease_until >= now
            and not owner_gone(job.lease_owner)
        ):
            continue
        running_here = session.scalar(
            select(
                exists().where(
                    ContactImport.campaign_id == job.campaign_id,
                    ContactImport.id != job.id,
                    ContactImport.state == ImportState.RUNNING,
                    ContactImport.lease_until >= now,
                )
            )
        )
        if running_here:
            continue
        job.state = ImportState.RUNNING
        job.started_at = job.started_at or now
        job.lease_until = now + LEASE
        job.lease_owner = this_process()
        return job
    return None


def _apply_batch(session: Session, job: ContactImport, rows: list[Row], now: datetime) -> None:
    """One batch in the caller's transaction: new contacts, duplicates per policy, rejections, checkpoint."""
    campaign = get_campaign(
        session, workspace_id=job.workspace_id, campaign_id=job.campaign_id, with_steps=False
    )
    start = lifecycle.new_contact_columns(campaign.type, ContactSource.CSV, now)
    rejections = []
    fresh: dict[str, dict[str, Any]] = {}
    duplicate_rows: list[dict[str, Any]] = []
    in_file = 0
    for row in rows:
        if row.contact is None:
            rejections.append(
                {
                    "import_id": job.id,
                    "row_number": row.number,
                    "reason": (row.reason or "Invalid")[:500],
                    "cells": {"cells": row.cells},
                }
            )
            continue
        url = str(row.contact["linkedin_url"])
        if url in fresh:
            in_file += 1  # the file's first row for a person decides; later ones only count
            continue
        fresh[url] = row.contact
    # The reader's contact dicts hold exactly the varying columns: the URL, the updatable fields
    # and custom_fields; everything else is the same for the whole batch.
    common = {
        "workspace_id": job.workspace_id,
        "campaign_id": campaign.id,
        "source": ContactSource.CSV,
        **start,
        "created_at": now,
        "updated_at": now,
        "import_id": job.id,
    }
    inserted = lifecycle.insert_new_contacts(
        session, list(fresh.values()), common=common, cause=Cause.IMPORT, now=now
    )
    duplicate_rows.extend(contact for url, contact in fresh.items() if url not in inserted)
    if job.on_duplicate is not DuplicatePolicy.SKIP and duplicate_rows:
        _merge_duplicates(session, job, campaign.id, duplicate_rows)
    if rejections:
        session.execute(insert(ImportRejection), rejections)
    job.rows_read += len(rows)
    job.imported += len(inserted)
    job.duplicates += len(duplicate_rows) + in_file
    job.invalid += len(rejections)
    job.checkpoint_row = rows[-1].number
    job.lease_until = now + LEASE
    job.failures = 0


def _merge_duplicates(
    session: Session, job: ContactImport, campaign_id: int, rows: list[dict[str, Any]]
) -> None:
    """Fill empty fields, or overwrite them, on contacts that existed before this import."""
    # The first row for a person is the one that merges, whatever the batch boundaries.
    by_url: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_url.setdefault(str(r["linkedin_url"]), r)
    targets = session.scalars(
        select(Contact).where(
            Contact.campaign_id == campaign_id, Contact.linkedin_url.in_(list(by_url))
        )
    )
    recorded = set(
        session.scalars(select(ImportChange.contact_id).where(ImportChange.import_id == job.id))
    )
    for contact in targets:
        if contact.import_id == job.id or contact.id in recorded:
            continue  # created or already merged by this same file: a later row is a plain duplicate
        incoming = by_url[contact.linkedin_url]
        previous: dict[str, Any] = {}
        for name in UPDATABLE:
            value = incoming.get(name)
            current = getattr(contact, name)
            if (
                value
                and (job.on_duplicate is DuplicatePolicy.OVERWRITE or not current)
                and value != current
            ):
                previous[name] = current
                setattr(contact, name, value)
        extra = incoming.get("custom_fields") or {}
        if extra:
            merged = dict(contact.custom_fields)
            for key, value in extra.items():
                if job.on_duplicate is DuplicatePolicy.OVERWRITE or not merged.get(key):
                    merged[key] = value
            if merged != contact.custom_fields:
                previous["custom_fields"] = contact.custom_fields
                contact.custom_fields = merged
        # Recorded even when nothing changed: the file's first row for this person has merged,
        # so its later rows (in any batch) are plain duplicates.
        session.add(ImportChange(import_id=job.id, contact_id=contact.id, previous=previous))
        recorded.add(contact.id)


def run_import(
    factory: sessionmaker[Session],
    *,
    import_id: int,
    clock: Callable[[], datetime],
    batch_size: int = 5000,
    progress: Callable[[ContactImport], None] | None = None,
) -> ContactImport:
    """Run (or resume) one claimed import to its end, a committed batch at a time."""
    with factory.begin() as session:
        job = session.get_one(ContactImport, import_id)
        path, start = Path(job.path), job.checkpoint_row
        mapping = {int(k): str(v) for k, v in job.mapping.items()}
    try:
        with contextlib.closing(read_batches(str(path), mapping, start, batch_size)) as batches:
            for batch in batches:
                if not _commit_batch(factory, import_id, batch, clock, progress):
                    return _load(factory, import_id)
    except (UnreadableFile, OSError) as exc:
        with factory.begin() as session:
            job = session.get_one(ContactImport, import_id)
            finish(session, job, ImportState.FAILED, now=clock(), error=str(exc))
        return _load(factory, import_id)
    with factory.begin() as session:
        job = session.get_one(ContactImport, import_id)
        if job.state is ImportState.RUNNING:
            finish(session, job, ImportState.DONE, now=clock())
    return _load(factory, import_id)


def _commit_batch(
    factory: sessionmaker[Session],
    import_id: int,
    batch: list[Row],
    clock: Callable[[], datetime],
    progress: Callable[[ContactImport], None] | None,
) -> bool:
    """Commit one batch; False when the import was cancelled meanwhile (the batch is not applied)."""
    with factory.begin() as session:
        job = session.scalars(
            select(ContactImport).where(ContactImport.id == import_id).with_for_update()
        ).one()
        if job.state is not ImportState.RUNNING:
            return False
        _apply_batch(session, job, batch, clock())
        session.flush()
        if progress is not None:
            progress(job)
    return True


def _load(factory: sessionmaker[Session], import_id: int) -> ContactImport:
    with factory() as session:
        return session.get_one(ContactImport, import_id)


def record_failure(
    factory: sessionmaker[Session], *, import_id: int, error: str, now: datetime
) -> None:
    """A run died on an error (a database outage, say): retry later, or fail after a few attempts."""
    with factory.begin() as session:
        job = session.get(ContactImport, import_id)
        if job is None or job.state is not ImportState.RUNNING:
            return
        job.failures += 1
        if job.failures >= MAX_FAILURES:
            finish(
                session,
                job,
                ImportState.FAILED,
                now=now,
                error=f"Stopped after {job.failures} failed attempts: {error}",
            )
        else:
            job.lease_until = now  # resumable at once by the next pass


def run_pending_imports(
    factory: sessionmaker[Session], *, clock: Callable[[], datetime], batch_size: int = 5000
) -> int:
    """Background jobs: run every import that is due, one after another. Returns how many ran."""
    ran = 0
    while True:
        try:
            with factory.begin() as session:
                job = claim_next(session, now=clock())
                job_id = job.id if job else None
        except Exception:  # noqa: BLE001 - the database may be away; try again next pass
            return ran
        if job_id is None:
            return ran
        try:
            run_import(factory, import_id=job_id, clock=clock, batch_size=batch_size)
        except Exception as exc:  # noqa: BLE001 - recorded on the import, retried from its checkpoint
            try:
                record_failure(factory, import_id=job_id, error=str(exc), now=clock())
            except Exception:  # noqa: BLE001
                return ran
        ran += 1


ENDED = (ImportState.DONE, ImportState.FAILED, ImportState.CANCELLED)
REMOVE_BATCH = 100


def files_to_remove(
    session: Session, *, now: datetime, retention: timedelta, limit: int = REMOVE_BATCH
) -> list[Path]:
    """Mark up to `limit` imports that ended more than `retention` ago as having lost their
    uploaded file, and return the files: the caller deletes them once this is committed (a
    failed commit then deletes nothing). Their rows, rejections and undo record stay. A queued or
    running import keeps its file, whatever its age: it is what a resume reads. An import from
    before headers were kept gets its header saved first, so its rejected rows keep their column
    names. Imports another process is clearing are skipped, not waited for."""
    jobs = session.scalars(
        select(ContactImport)
        .where(
            ContactImport.state.in_(ENDED),
            ContactImport.finished_at < now - retention,
            ContactImport.file_removed_at.is_(None),
        )
        .order_by(ContactImport.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for job in jobs:
        path = Path(job.path)
        if job.header is None and path.exists():
            with contextlib.suppress(ImportRejected, OSError):
                job.header = list(inspect_file(path, require_url=False).header)
        job.file_removed_at = now
    return [Path(job.path) for job in jobs]


def copy_for_cli(source: Path, *, data_dir: str, max_bytes: int) -> tuple[Path, int]:
    with source.open("rb") as raw:
        return store_upload(raw, data_dir=data_dir, max_bytes=max_bytes)
