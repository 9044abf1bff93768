"""/api/v1/imports — upload a CSV (202, runs in the background), follow it, fetch its rejected rows.

The upload route reads its own body, after the API key was checked (SPEC §8): FastAPI would parse
declared form parameters before any dependency runs, so anyone could make the server spool 200 MB.
Its parts are fingerprinted for Idempotency-Key while they stream, and the file part is spooled
(in memory up to 1 MiB, then on disk), never held whole in memory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from app.accounts.api_caller import (
    IDEMPOTENCY_HEADER_DOC,
    ApiCallerDep,
    IdempotencyDep,
    StreamedIdempotencyDep,
)
from app.domain.statuses import DuplicatePolicy
from app.errors import ValidationFailed
from app.idempotency.fingerprint import FormFingerprint
from app.imports import service
from app.imports.encoding import ENCODINGS
from app.imports.reader import FIELDS, Dialect
from app.imports.schemas import ImportList, ImportRead
from app.imports.upload import accept_upload, chosen_encoding
from app.models import ContactImport
from app.schemas import MAX_ID
from app.web.api_common import CONFLICT, NOT_FOUND
from app.web.deps import SessionDep, SettingsDep
from app.web.downloads import csv_response
from app.web.upload_stream import MultipartForm, read_multipart

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

MAPPING_MAX_LENGTH = 10_000
ENCODING_MAX_LENGTH = 40


class ImportForm(BaseModel):
    """The upload's fields beside the file (unknown fields are ignored, as FastAPI's forms do)."""

    campaign_id: int = Field(ge=1, le=MAX_ID)
    mapping: str | None = Field(default=None, max_length=MAPPING_MAX_LENGTH)
    on_duplicate: DuplicatePolicy = DuplicatePolicy.SKIP
    encoding: str | None = Field(default=None, max_length=ENCODING_MAX_LENGTH)


# Documented by hand: the route declares no form parameters (FastAPI would read them first).
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "campaign_id"],
                # Other fields are ignored, as in FastAPI's forms; each is sent once.
                "additionalProperties": {"type": "string"},
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "contentMediaType": "text/csv",
                        "description": (
                            "The CSV file, sent with a filename: text (not empty, no binary data) "
                            "with a column of LinkedIn profile URLs, found by its header or its "
                            "cells (422 saying why otherwise)"
                        ),
                    },
                    "campaign_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "mapping": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "enum": [*FIELDS, "custom", ""]},
                        "description": (
                            "JSON: column name or index → field; empty and `custom` leave "
                            "the column out. When given, one column is `linkedin_url`, each field "
                            "comes from one column and each column is one of the file's (422 "
                            "otherwise); when absent, the columns are detected from the header. "
                            f"At most {MAPPING_MAX_LENGTH:,} characters of JSON"
                        ),
                    },
                    "on_duplicate": {
                        "type": "string",
                        "enum": [p.value for p in DuplicatePolicy],
                        "default": DuplicatePolicy.SKIP.value,
                    },
                    "encoding": {
                        "type": "string",
                        "enum": list(ENCODINGS),
                        "description": (
                            "The file's encoding, when detection should not decide (their usual "
                            "aliases are understood too: windows-1251, shift_jis, gbk, big5, "
                            "latin-1 …)"
                        ),
                    },
                },
            },
            "encoding": {
                "file": {"contentType": "text/csv, application/octet-stream"},
                "mapping": {"contentType": "application/json"},
            },
        }
    },
}


@dataclass
class Upload:
    form: ImportForm
    file: UploadFile
    fingerprint: str


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    """Field errors worded and placed as FastAPI words those of declared form parameters."""
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def _validated(form: MultipartForm) -> tuple[ImportForm, UploadFile]:
    errors: list[dict[str, Any]] = []
    fields: ImportForm | None = None
    try:
        # An empty optional field takes its default, as in FastAPI's forms.
        fields = ImportForm.model_validate({k: v for k, v in form.fields.items() if v != ""})
    except ValidationError as exc:
        errors.extend(dict(e) for e in exc.errors(include_url=False))
    if form.file is None:
        errors.append({"type": "missing", "loc": ("file",), "msg": "Field required", "input": None})
    if errors or fields is None or form.file is None:
        raise _invalid(errors)
    return fields, form.file


async def read_upload(request: Request, caller: ApiCallerDep) -> AsyncIterator[Upload]:
    """The multipart upload, read from the stream after `caller` (the API key and its rate budget)
    was checked, fingerprinted part by part as it arrives. The spool is closed after the route."""
    del caller  # a parameter only so that the key is checked before the body is read
    fingerprint = FormFingerprint(request.method, request.url.path)
    form = await read_multipart(
        request.stream(),
        content_type=request.headers.get("content-type"),
        max_file_bytes=request.app.state.settings.upload_max_bytes,
        fingerprint=fingerprint,
    )
    try:
        fields, file = _validated(form)
    except BaseException:
        if form.file is not None:
            await form.file.close()
        raise
    try:
        yield Upload(form=fields, file=file, fingerprint=fingerprint.hexdigest())
    finally:
        await file.close()


UploadDep = Annotated[Upload, Depends(read_upload, scope="function")]


def _mapping(raw: str | None, dialect: Dialect) -> dict[int, str] | None:
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
    return service.parse_mapping(mapping, dialect) if mapping else None


@router.post(
    "",
    operation_id="createImport",
    status_code=202,
    response_model=ImportRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Import contacts from a CSV file",
    description=(
        "Multipart: `file`, `campaign_id`, optional `mapping` (JSON object: column name or index → field: "
        "linkedin_url, first_name, last_name, full_name, email, company, title), `on_duplicate` (skip, fill, "
        "overwrite) and `encoding` (detected from the lines with non-ASCII bytes when absent; "
        "the import's `encoding` says which was used). Answers 202 with the import; it runs in "
        "the background. A file that cannot be read (empty, not text, no profile-URL column) "
        "is refused with 422 saying why. The same file and "
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
    accepted = accept_upload(
        upload.file.file,
        data_dir=settings.data_dir,
        max_bytes=settings.upload_max_bytes,
        encoding=chosen_encoding(upload.form.encoding),
    )
    kept = False
    try:
        columns = _mapping(upload.form.mapping, accepted.dialect)

        def work() -> tuple[int, ImportRead]:
            nonlocal kept
            job = service.create_import(
                idem.session,
                workspace_id=caller.workspace_id,
                campaign_id=upload.form.campaign_id,
                upload=accepted,
                filename=upload.file.filename or "upload.csv",
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
            accepted.path.unlink(missing_ok=True)


@router.get(
    "",
    operation_id="listImports",
    response_model=ImportList,
    summary="Recent imports, newest first",
)
def list_imports(session: SessionDep, caller: ApiCallerDep) -> ImportList:
    return ImportList(
        items=[
            import_read(j) for j in service.list_imports(session, workspace_id=caller.workspace_id)
        ]
    )


@router.get(
    "/{import_id}",
    operation_id="getImport",
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
    operation_id="getImportRejectedRows",
    responses={
        **NOT_FOUND,
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The rejected rows",
        },
    },
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
    operation_id="cancelImport",
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
    operation_id="undoImport",
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
