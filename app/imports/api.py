"""/api/v1/imports — upload a CSV (202, runs in the background), follow it, fetch its rejected rows.

The upload route reads its own body, after the API key was checked (SPEC §8): FastAPI would parse
declared form parameters before any dependency runs, so anyone could make the server spool 200 MB.
Its parts are fingerprinted for Idempotency-Key while they stream, and the file part is spooled
(in memory up to 1 MiB, then on disk), never held whole in memory.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Depends, Path, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.accounts.api_caller import (
    IDEMPOTENCY_HEADER_DOC,
    ApiCallerDep,
    IdempotencyDep,
    StreamedIdempotencyDep,
)
from app.domain.statuses import DuplicatePolicy
from app.errors import PayloadTooLarge, ValidationFailed
from app.idempotency.fingerprint import FormFingerprint
from app.imports import service
from app.imports.schemas import ImportList, ImportRead
from app.models import ContactImport
from app.schemas import MAX_ID
from app.web.api_common import CONFLICT, NOT_FOUND
from app.web.deps import SessionDep, SettingsDep
from app.web.downloads import csv_response

router = APIRouter(prefix="/imports", tags=["imports"])
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def import_read(job: ContactImport) -> ImportRead:
    return ImportRead(
        id=job.id,
        campaign_id=job.campaign_id,
        filename=job.filename,
        state=job.state,
        on_duplicate=job.on_duplicate,
        encoding=job.encoding,
        delimiter=job.delimiter,
        mapping={str(k): str(v) for k, v in job.mapping.items()},
        rows_read=job.rows_read,
        imported=job.imported,
        duplicates=job.duplicates,
        invalid=job.invalid,
        error=job.error,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        undone_at=job.undone_at,
        file_removed_at=job.file_removed_at,
        rejected_rows_url=f"/api/v1/imports/{job.id}/rejected.csv",
    )


# ---------------------------------------------------------------- the upload, read as it streams

SPOOLED_IN_MEMORY = 1024 * 1024  # a file part past this goes to a temporary file
MAX_FIELD_BYTES = 64 * 1024  # a form field other than the file (`mapping` is at most 10,000)
MAX_PARTS = 16
MAPPING_MAX_LENGTH = 10_000


class ImportForm(BaseModel):
    """The upload's fields beside the file (unknown fields are ignored, as FastAPI's forms do)."""

    campaign_id: int = Field(ge=1, le=MAX_ID)
    mapping: str | None = Field(default=None, max_length=MAPPING_MAX_LENGTH)
    on_duplicate: DuplicatePolicy = DuplicatePolicy.SKIP


# Documented by hand: the route declares no form parameters (FastAPI would read them first).
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "campaign_id"],
                "properties": {
                    "file": {
                        "type": "string",
                        "contentMediaType": "application/octet-stream",
                        "description": "The CSV file",
                    },
                    "campaign_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "mapping": {
                        "type": "string",
                        "maxLength": MAPPING_MAX_LENGTH,
                        "description": "JSON object: column name or index → field",
                    },
                    "on_duplicate": {
                        "type": "string",
                        "enum": [p.value for p in DuplicatePolicy],
                        "default": DuplicatePolicy.SKIP.value,
                    },
                },
            }
        }
    },
}


@dataclass
class Upload:
    form: ImportForm
    file: UploadFile
    fingerprint: str


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass
class _FormReader:
    """python-multipart's callbacks: each part is fed to the fingerprint as it arrives; the file
    part's data waits in `pending` until the reader writes it to the spool (off the event loop)."""

    fingerprint: FormFingerprint
    max_file_bytes: int
    fields: dict[str, str] = field(default_factory=dict)
    file: UploadFile | None = None
    pending: list[bytes] = field(default_factory=list)
    ended: bool = False
    _parts: int = 0
    _file_bytes: int = 0
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _header_name: bytes = b""
    _header_value: bytes = b""
    _name: str = ""
    _in_file: bool = False
    _value: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise ValidationFailed(
                f"The form has more than {MAX_PARTS} parts",
                {"file": ["Send the file and its fields"]},
            )
        self._headers, self._value = {}, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if b"name" not in options:
            raise ValidationFailed(
                "A form part has no name",
                {"file": ['Each part needs Content-Disposition: form-data; name="…"']},
            )
        self._name = _text(options[b"name"])
        filename = _text(options[b"filename"]) if b"filename" in options else None
        self._in_file = filename is not None
        if self._in_file:
            if self._name != "file" or self.file is not None:
                raise ValidationFailed(
                    "Send one file, as the form field `file`", {"file": ["One CSV file"]}
                )
            # Closed by read_upload once the route is done with it.
            spool = SpooledTemporaryFile(max_size=SPOOLED_IN_MEMORY)
            self.file = UploadFile(cast(BinaryIO, spool), filename=filename, size=0)
        elif self._name == "file":
            raise ValidationFailed(
                "The form field `file` must be a file", {"file": ["Attach the CSV file"]}
            )
        elif self._name in self.fields:
            raise ValidationFailed(
                f"The form field {self._name} was sent twice", {self._name: ["Send it once"]}
            )
        self.fingerprint.begin_part(self._name, filename)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        self.fingerprint.update(piece)
        if self._in_file:
            self._file_bytes += len(piece)
            if self._file_bytes > self.max_file_bytes:
                raise PayloadTooLarge(
                    f"The file is larger than {self.max_file_bytes:,} bytes; split it into smaller files"
                )
            self.pending.append(piece)
            return
        if len(self._value) + len(piece) > MAX_FIELD_BYTES:
            raise ValidationFailed(
                f"The form field {self._name} is too long",
                {self._name: [f"At most {MAX_FIELD_BYTES:,} bytes"]},
            )
        self._value += piece

    def on_part_end(self) -> None:
        self.fingerprint.end_part()
        if not self._in_file:
            self.fields[self._name] = _text(bytes(self._value))

    def on_end(self) -> None:
        self.ended = True


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    """Field errors worded and placed as FastAPI words those of declared form parameters."""
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def _validated(reader: _FormReader) -> tuple[ImportForm, UploadFile]:
    errors: list[dict[str, Any]] = []
    form: ImportForm | None = None
    try:
        # An empty optional field takes its default, as in FastAPI's forms.
        form = ImportForm.model_validate({k: v for k, v in reader.fields.items() if v != ""})
    except ValidationError as exc:
        errors.extend(dict(e) for e in exc.errors(include_url=False))
    if reader.file is None:
        errors.append({"type": "missing", "loc": ("file",), "msg": "Field required", "input": None})
    if errors or form is None or reader.file is None:
        raise _invalid(errors)
    return form, reader.file


async def read_upload(request: Request, caller: ApiCallerDep) -> AsyncIterator[Upload]:
    """The multipart upload, read from the stream after `caller` (the API key and its rate budget)
    was checked, fingerprinted part by part as it arrives. The spool is closed after the route."""
    del caller  # a parameter only so that the key is checked before the body is read
    kind, params = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise ValidationFailed(
            "Send the upload as multipart/form-data",
            {"file": ["A multipart form with the CSV file"]},
        )
    settings = request.app.state.settings
    reader = _FormReader(
        FormFingerprint(request.method, request.url.path), max_file_bytes=settings.upload_max_bytes
    )
    try:
        parser = MultipartParser(params[b"boundary"], reader.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            if reader.file is not None:
                for piece in reader.pending:
                    await reader.file.write(piece)  # in a thread once the spool is on disk
            reader.pending.clear()
        parser.finalize()
        if not reader.ended:
            raise ValidationFailed(
                "The multipart body ended before its closing boundary", {"file": ["Send it whole"]}
            )
        form, file = _validated(reader)
        await file.seek(0)
        upload = Upload(form=form, file=file, fingerprint=reader.fingerprint.hexdigest())
    except FormParserError as exc:
        if reader.file is not None:
            await reader.file.close()
        raise ValidationFailed(
            "The multipart body is malformed", {"file": ["Send a multipart/form-data body"]}
        ) from exc
    except BaseException:
        if reader.file is not None:
            await reader.file.close()
        raise
    try:
        yield upload
    finally:
        await upload.file.close()


UploadDep = Annotated[Upload, Depends(read_upload, scope="function")]


def _mapping(raw: str | None, path: pathlib.Path) -> dict[int, str] | None:
    """The columns the client mapped, checked against the file's header; None to detect them."""
    if not raw:
        return None
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            "mapping is not JSON", {"mapping": ['Send {"LinkedIn": "linkedin_url", …}']}
        ) from exc
    if not isinstance(mapping, dict):
        raise ValidationFailed("mapping must be a JSON object", {"mapping": ["column → field"]})
    return (
        service.parse_mapping(mapping, service.inspect_file(path, require_url=False))
        if mapping
        else None
    )


@router.post(
    "",
    status_code=202,
    response_model=ImportRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Import contacts from a CSV file",
    description=(
        "Multipart: `file`, `campaign_id`, optional `mapping` (JSON object: column name or index → field: "
        "linkedin_url, first_name, last_name, full_name, email, company, title) and `on_duplicate` (skip, fill, "
        "overwrite). Answers 202 with the import; it runs in the background. A file that cannot be read "
        "(empty, not text, no profile-URL column) is refused with 422 saying why. The same file and "
        "fields sent again with the same Idempotency-Key make no second import (whatever multipart "
        "boundary the retry draws). " + IDEMPOTENCY_HEADER_DOC
    ),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
def create_import(
    upload: UploadDep, settings: SettingsDep, caller: ApiCallerDep, idem: StreamedIdempotencyDep
) -> object:
    # Copied out of the spool before the key is claimed: on SQLite the claim takes the write lock,
    # and copying a large file must not hold it.
    path, size = service.store_upload(
        upload.file.file, data_dir=settings.data_dir, max_bytes=settings.upload_max_bytes
    )
    kept = False
    try:
        columns = _mapping(upload.form.mapping, path)

        def work() -> tuple[int, ImportRead]:
            nonlocal kept
            job = service.create_import(
                idem.session,
                workspace_id=caller.workspace_id,
                campaign_id=upload.form.campaign_id,
                path=path,
                filename=upload.file.filename or "upload.csv",
                size=size,
                created_by="API key",
                user_id=None,
                mapping=columns,
                on_duplicate=upload.form.on_duplicate,
                now=idem.now,
            )
            kept = True
            return 202, import_read(job)

        return idem.run(work, fingerprint=upload.fingerprint)
    finally:
        if not kept:  # refused, failed, or replayed (the first request's import has its own file)
            path.unlink(missing_ok=True)


@router.get("", response_model=ImportList, summary="Recent imports, newest first")
def list_imports(session: SessionDep, caller: ApiCallerDep) -> ImportList:
    return ImportList(
        items=[
            import_read(j) for j in service.list_imports(session, workspace_id=caller.workspace_id)
        ]
    )


@router.get(
    "/{import_id}",
    response_model=ImportRead,
    responses=NOT_FOUND,
    summary="An import's state and counts",
)
def get_import(import_id: Id, session: SessionDep, caller: ApiCallerDep) -> ImportRead:
    return import_read(
        service.get_import(session, workspace_id=caller.workspace_id, import_id=import_id)
    )


@router.get(
    "/{import_id}/rejected.csv",
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "The rejected rows"}},
    summary="The rejected rows, with the reason for each",
    response_class=StreamingResponse,
)
def rejected_csv(
    import_id: Id, request: Request, session: SessionDep, caller: ApiCallerDep
) -> StreamingResponse:
    job, header, rows = service.rejected_rows(
        session,
        request.app.state.read_sessionmaker,
        workspace_id=caller.workspace_id,
        import_id=import_id,
    )
    return csv_response(f"import-{job.id}-rejected.csv", header, rows)


@router.post(
    "/{import_id}/cancel",
    response_model=ImportRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Cancel an import",
    description="Cancelling twice answers 409; a retry with the first request's Idempotency-Key "
    "answers what it did. " + IDEMPOTENCY_HEADER_DOC,
)
def cancel(import_id: Id, caller: ApiCallerDep, idem: IdempotencyDep) -> object:
    def work() -> tuple[int, ImportRead]:
        job = service.cancel_import(
            idem.session, workspace_id=caller.workspace_id, import_id=import_id, now=idem.now
        )
        return 200, import_read(job)

    return idem.run(work)


@router.post(
    "/{import_id}/undo",
    response_model=ImportRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Undo a finished import",
    description="Undoing twice answers 409; a retry with the first request's Idempotency-Key "
    "answers what it did. " + IDEMPOTENCY_HEADER_DOC,
)
def undo(import_id: Id, caller: ApiCallerDep, idem: IdempotencyDep) -> object:
    def work() -> tuple[int, ImportRead]:
        ws = caller.workspace_id
        service.undo_import(idem.session, workspace_id=ws, import_id=import_id, now=idem.now)
        return 200, import_read(
            service.get_import(idem.session, workspace_id=ws, import_id=import_id)
        )

    return idem.run(work)
