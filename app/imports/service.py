"""CSV imports (SPEC §6), the use cases: preview an accepted upload, create the import, list,
cancel, finish and undo it, and read its rejected rows back. One service behind the dashboard, the
API and the CLI; accepting the file is `upload`, running the import is `running`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.campaigns.service import get_campaign
from app.contacts import repository as contact_repository
from app.domain.statuses import CampaignState, DuplicatePolicy, ImportState
from app.errors import Conflict, NotFound, ValidationFailed
from app.events import outbox
from app.events.types import EventType
from app.imports import repository
from app.imports.reader import FIELDS, Dialect, Row, UnreadableFile, read_rows, sniff
from app.imports.upload import AcceptedUpload, require_url_column
from app.lifecycle import service as lifecycle
from app.models import Contact, ContactImport

PREVIEW_ROWS = 10


# ---------------------------------------------------------------- preview


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
    dialect: Dialect,
    mapping: dict[int, str] | None = None,
) -> Preview:
    """What the first rows will do, before anything is written."""
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
    )
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
    upload: AcceptedUpload,
    filename: str,
    created_by: str,
    user_id: int | None,
    mapping: dict[int, str] | None,
    on_duplicate: DuplicatePolicy,
    now: datetime,
) -> ContactImport:
    """A queued import of an accepted upload, read with `mapping` (the dialect's own when None).

    Raises Conflict for an archived campaign and ImportRejected when no column maps to the profile
    URL; the caller removes the upload when this raises."""
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
    )
    if campaign.state is CampaignState.ARCHIVED:
        raise Conflict(f"Campaign {campaign_id} is archived; contacts cannot be imported into it")
    dialect = upload.dialect
    if mapping is None:
        require_url_column(dialect)
    job = ContactImport(
        workspace_id=workspace_id,
        campaign_id=campaign.id,
        user_id=user_id,
        created_by=created_by[:320],
        filename=(os.path.basename(filename) or "upload.csv")[:255],
        path=str(upload.path),
        size_bytes=upload.size,
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
    return repository.list_imports(
        session, workspace_id=workspace_id, campaign_id=campaign_id, limit=limit
    )


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
    repository.restore_changes(session, job.id)
    job.undone_at = now
    return removed


def rejected_rows(
    session: Session, factory: sessionmaker[Session], *, workspace_id: int, import_id: int
) -> tuple[ContactImport, list[str], Iterator[list[str]]]:
    """The rejected rows as CSV cells: the file's own columns, then the row's number, where it is
    in the file ("line 7", "lines 7–9"; empty for imports from before lines were kept) and the
    reason.

    The import is checked in `session`; the rows are read lazily, a thousand at a time, each batch
    in a short session of `factory`'s, so a response can stream them after the request's own
    transaction has ended and memory stays flat however many rows were rejected."""
    job = get_import(session, workspace_id=workspace_id, import_id=import_id)
    columns = job.header
    if columns is None and Path(job.path).exists():  # an import from before headers were kept
        with contextlib.suppress(UnreadableFile, OSError):
            columns = _header_of(Path(job.path))
    header = [*(columns or []), "row", "line", "reason"]

    def rows() -> Iterator[list[str]]:
        last = 0
        while True:
            with factory() as reader:
                batch = repository.rejections_after(reader, import_id, after_row=last, limit=1000)
            for number, cells, reason in batch:
                where = str(cells.get("lines", ""))
                yield [*[str(c) for c in cells.get("cells", [])], str(number), where, reason]
            if len(batch) < 1000:
                return
            last = batch[-1].row_number

    return job, header, rows()


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
    jobs = repository.ended_with_files(session, ended=ENDED, before=now - retention, limit=limit)
    for job in jobs:
        path = Path(job.path)
        if job.header is None and path.exists():
            with contextlib.suppress(UnreadableFile, OSError):
                job.header = _header_of(path)
        job.file_removed_at = now
    return [Path(job.path) for job in jobs]


def _header_of(path: Path) -> list[str]:
    """The header of an import's file (for imports from before headers were kept)."""
    with path.open("rb") as raw:
        return list(sniff(raw, require_url=False).header)
