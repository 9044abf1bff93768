"""Accepting an uploaded CSV file, the same way for the API, the dashboard and the CLI.

`accept_upload` copies the file into the imports folder in chunks (never whole in memory), refuses
it past the size cap, samples the lines that carry non-ASCII bytes as they stream by (the encoding
is detected from them among SPEC §6's code pages, `app.imports.encoding`), and reads its dialect
(encoding, delimiter, preamble, header and mapping) ONCE; every later step (the dashboard's preview
and commit, `create_import`) is handed that dialect instead of sniffing the file again.

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
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from app.domain.urls import InvalidProfileUrl, normalize_profile_url
from app.errors import ImportRejected, PayloadTooLarge, ValidationFailed
from app.imports.encoding import (
    BinaryFile,
    Candidate,
    Detection,
    EncodingSampler,
    UnknownEncoding,
    detect,
    normalize_encoding,
)
from app.imports.reader import Dialect, UnreadableFile, read_rows, sniff

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
URL_SAMPLE_ROWS = 50  # rows read to find a profile-URL column under a header we do not know
TOKEN = re.compile(r"^[0-9a-f]{32}$")
SIDECAR = ".json"
ABANDONED_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class AcceptedUpload:
    """A file kept in the imports folder, with what its one reading found."""

    path: Path
    size: int
    dialect: Dialect
    detection: Detection  # the readings the preview offers; dialect.encoding is the one used

    @property
    def token(self) -> str:
        return self.path.stem


def folder(data_dir: str) -> Path:
    return Path(data_dir) / "imports"


def chosen_encoding(name: str | None) -> str | None:
    """An encoding an admin named (API `encoding`, CLI `--encoding`, the preview's choice), in
    its canonical name; None to detect it. ValidationFailed for one SPEC §6 does not list."""
    if not name:
        return None
    try:
        return normalize_encoding(name)
    except UnknownEncoding as exc:
        raise ValidationFailed(str(exc), {"encoding": [str(exc)]}) from exc


def read_dialect(path: Path, encoding: str) -> Dialect:
    """The file's dialect read in `encoding`, its profile-URL column found by its header or else
    by its cells; ImportRejected when it cannot be read."""
    with path.open("rb") as raw:
        try:
            dialect = sniff(raw, require_url=False, encoding=encoding)
            if "linkedin_url" in dialect.mapping.values():
                return dialect
            raw.seek(0)
            column = url_column_by_cells(raw, dialect)
        except UnreadableFile as exc:
            raise ImportRejected(str(exc)) from exc
    if column is None:
        return dialect
    return replace(dialect, mapping={**dialect.mapping, column: "linkedin_url"})


def url_column_by_cells(raw: BinaryIO, dialect: Dialect) -> int | None:
    """The column whose cells are profile URLs, under a header we do not know ("Lien", "Web"…):
    among the first URL_SAMPLE_ROWS rows, the unmapped column with the most values that normalise
    as profile URLs, if they are at least half of its non-empty values."""
    hits: Counter[int] = Counter()
    filled: Counter[int] = Counter()
    for number, row in enumerate(read_rows(raw, dialect), start=1):
        for index, cell in enumerate(row.cells):
            if index in dialect.mapping or not (value := cell.strip()):
                continue
            filled[index] += 1
            with contextlib.suppress(InvalidProfileUrl):
                normalize_profile_url(value)
                hits[index] += 1
        if number >= URL_SAMPLE_ROWS:
            break
    best = max(hits, key=lambda i: (hits[i], -i), default=None)
    if best is None or hits[best] * 2 < filled[best]:
        return None
    return best


def accept_upload(
    source: BinaryIO, *, data_dir: str, max_bytes: int, encoding: str | None = None
) -> AcceptedUpload:
    """Copy `source` to the imports folder, detect its encoding from the lines with non-ASCII
    bytes met on the way (or take `encoding`, already checked by `chosen_encoding`) and read its
    dialect. Raises PayloadTooLarge past `max_bytes` and ImportRejected for a file that cannot be
    read; either way nothing is kept."""
    target = folder(data_dir)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{uuid.uuid4().hex}.csv"
    size = 0
    sampler = EncodingSampler()
    try:
        with path.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"The file is larger than {max_bytes:,} bytes; split it into smaller files"
                    )
                if not sampler.done:
                    sampler.feed(chunk)
                out.write(chunk)
        if size == 0:
            raise ImportRejected("The file is empty.")
        try:
            detection = detect(sampler.sample())
        except BinaryFile as exc:
            raise ImportRejected(str(exc)) from exc
        dialect = read_dialect(path, encoding or detection.encoding)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return AcceptedUpload(path=path, size=size, dialect=dialect, detection=detection)


def accept_file(
    source: Path, *, data_dir: str, max_bytes: int, encoding: str | None = None
) -> AcceptedUpload:
    """`accept_upload` for a file on disk (the CLI's)."""
    with source.open("rb") as raw:
        return accept_upload(raw, data_dir=data_dir, max_bytes=max_bytes, encoding=encoding)


def require_url_column(dialect: Dialect) -> None:
    """ImportRejected when no column is the profile URL, by its header or by its cells."""
    if "linkedin_url" not in dialect.mapping.values():
        raise ImportRejected(
            "No profile-URL column: no column is named 'LinkedIn URL', 'Profile URL' or 'URL', "
            "and none holds profile URLs (https://www.linkedin.com/in/…) "
            f"(found: {', '.join(h for h in dialect.header if h) or 'no column names'})."
        )


# ---------------------------------------------------------------- kept for the dashboard's preview


@dataclass(frozen=True)
class KeptUpload:
    path: Path
    filename: str
    dialect: Dialect
    detection: Detection

    def with_encoding(self, encoding: str) -> KeptUpload:
        """The same upload read in another encoding (the admin's choice at the preview)."""
        if encoding == self.dialect.encoding:
            return self
        return KeptUpload(
            self.path, self.filename, read_dialect(self.path, encoding), self.detection
        )

    def accepted(self) -> AcceptedUpload:
        return AcceptedUpload(self.path, self.path.stat().st_size, self.dialect, self.detection)


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


def _detection_json(detection: Detection) -> dict[str, Any]:
    return asdict(detection)


def _detection_from(data: dict[str, Any]) -> Detection:
    return Detection(
        encoding=str(data["encoding"]),
        ambiguous=bool(data["ambiguous"]),
        candidates=tuple(
            Candidate(
                encoding=str(c["encoding"]),
                score=float(c["score"]),
                samples=tuple(c["samples"]),
                plausible=bool(c["plausible"]),
                equivalent=tuple(c.get("equivalent", ())),
            )
            for c in data["candidates"]
        ),
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
                "detection": _detection_json(upload.detection),
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
        path=path,
        filename=str(note["filename"]),
        dialect=_dialect_from(note["dialect"]),
        detection=_detection_from(note["detection"]),
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
