"""Accepting an uploaded CSV file, the same way for the API, the dashboard and the CLI.

`accept_upload` copies the file into the imports folder in chunks (never whole in memory), refuses
it past the size cap, and reads its dialect (encoding, delimiter, preamble, header and mapping)
ONCE; every later step (the dashboard's preview and commit, `create_import`) is handed that
dialect instead of sniffing the file again.

The dashboard's upload waits for its preview between requests: `keep_for_preview` stores beside it
one sidecar (`<token>.json`: who uploaded it, its name, its dialect), `kept_upload` finds it again
only for that same user of that same workspace, and `release` drops the sidecar once the import is
created. Uploads left at the preview are removed after a day (`remove_abandoned_uploads`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from app.errors import ImportRejected, PayloadTooLarge, ValidationFailed
from app.imports.reader import Dialect, UnreadableFile, sniff

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
TOKEN = re.compile(r"^[0-9a-f]{32}$")
SIDECAR = ".json"
ABANDONED_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class AcceptedUpload:
    """A file kept in the imports folder, with what its one reading found."""

    path: Path
    size: int
    dialect: Dialect

    @property
    def token(self) -> str:
        return self.path.stem


def folder(data_dir: str) -> Path:
    return Path(data_dir) / "imports"


def accept_upload(source: BinaryIO, *, data_dir: str, max_bytes: int) -> AcceptedUpload:
    """Copy `source` to the imports folder and read its dialect. Raises PayloadTooLarge past
    `max_bytes` and ImportRejected for a file that cannot be read; either way nothing is kept."""
    target = folder(data_dir)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{uuid.uuid4().hex}.csv"
    size = 0
    try:
        with path.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"The file is larger than {max_bytes:,} bytes; split it into smaller files"
                    )
                out.write(chunk)
        with path.open("rb") as raw:
            try:
                dialect = sniff(raw, require_url=False)
            except UnreadableFile as exc:
                raise ImportRejected(str(exc)) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return AcceptedUpload(path=path, size=size, dialect=dialect)


def accept_file(source: Path, *, data_dir: str, max_bytes: int) -> AcceptedUpload:
    """`accept_upload` for a file on disk (the CLI's)."""
    with source.open("rb") as raw:
        return accept_upload(raw, data_dir=data_dir, max_bytes=max_bytes)


def require_url_column(dialect: Dialect) -> None:
    """ImportRejected when no column of the header maps to the profile URL."""
    if "linkedin_url" not in dialect.mapping.values():
        raise ImportRejected(
            "No profile-URL column: name one 'LinkedIn URL', 'Profile URL' or 'URL' "
            f"(found: {', '.join(h for h in dialect.header if h) or 'no column names'})."
        )


# ---------------------------------------------------------------- kept for the dashboard's preview


@dataclass(frozen=True)
class KeptUpload:
    path: Path
    filename: str
    dialect: Dialect


def _dialect_json(dialect: Dialect) -> dict[str, Any]:
    data = asdict(dialect)
    data["mapping"] = {str(k): v for k, v in dialect.mapping.items()}
    return data


def _dialect_from(data: dict[str, Any]) -> Dialect:
    mapping: dict[str, str] = data["mapping"]
    header: list[str] = data["header"]
    return Dialect(
        encoding=str(data["encoding"]),
        delimiter=str(data["delimiter"]),
        skip_lines=int(str(data["skip_lines"])),
        header=[str(h) for h in header],
        mapping={int(k): str(v) for k, v in mapping.items()},
    )


def keep_for_preview(upload: AcceptedUpload, *, filename: str, owner: str) -> str:
    """Note beside the upload whose it is, its name and its dialect; returns its token."""
    sidecar = upload.path.with_suffix(SIDECAR)
    sidecar.write_text(
        json.dumps(
            {
                "owner": owner,
                "filename": (filename or "upload.csv")[:255],
                "dialect": _dialect_json(upload.dialect),
            }
        ),
        encoding="utf-8",
    )
    return upload.token


def kept_upload(data_dir: str, token: str, *, owner: str) -> KeptUpload:
    """The upload of this token, if `owner` (a workspace's user) made it: a token is bound to its
    workspace and user, so another workspace's admin holding it previews and commits nothing. A
    stranger's token reads as expired: no hint that it exists."""
    expired = ValidationFailed(
        "The upload expired; choose the file again", {"file": ["Upload it again"]}
    )
    if not TOKEN.match(token):
        raise expired
    path = folder(data_dir) / f"{token}.csv"
    try:
        note = json.loads(path.with_suffix(SIDECAR).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise expired from exc
    if note.get("owner") != owner or not path.exists():
        raise expired
    return KeptUpload(
        path=path, filename=str(note["filename"]), dialect=_dialect_from(note["dialect"])
    )


def release(upload: KeptUpload) -> None:
    """The upload became an import: it is no longer waiting at a preview."""
    upload.path.with_suffix(SIDECAR).unlink(missing_ok=True)


def remove_abandoned_uploads(
    data_dir: str, *, now: float | None = None, older_than: timedelta = ABANDONED_AFTER
) -> int:
    """Remove uploads left at the preview (never imported): a file still beside its sidecar and
    untouched for a day. Returns how many went."""
    cutoff = (time.time() if now is None else now) - older_than.total_seconds()
    removed = 0
    for sidecar in folder(data_dir).glob(f"*{SIDECAR}"):
        with contextlib.suppress(FileNotFoundError):
            if sidecar.stat().st_mtime >= cutoff:
                continue
        sidecar.with_suffix(".csv").unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d uploads abandoned at the preview", removed)
    return removed
