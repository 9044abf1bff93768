"""/api/v1/imports — upload a CSV (202, runs in the background), follow it, fetch its rejected rows."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import StreamingResponse

from app.accounts.api_caller import ApiCallerDep
from app.domain.statuses import DuplicatePolicy
from app.errors import ValidationFailed
from app.imports import service
from app.imports.schemas import ImportList, ImportRead
from app.models import ContactImport
from app.schemas import MAX_ID
from app.web.api_common import CONFLICT, NOT_FOUND
from app.web.deps import NowDep, SessionDep
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
        "(empty, not text, no profile-URL column) is refused with 422 saying why."
    ),
)
def create_import(
    request: Request,
    session: SessionDep,
    caller: ApiCallerDep,
    now: NowDep,
    file: Annotated[UploadFile, File(description="The CSV file")],
    campaign_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    mapping: Annotated[str | None, Form(max_length=10_000)] = None,
    on_duplicate: Annotated[DuplicatePolicy, Form()] = DuplicatePolicy.SKIP,
) -> ImportRead:
    settings = request.app.state.settings
    path, size = service.store_upload(
        file.file, data_dir=settings.data_dir, max_bytes=settings.upload_max_bytes
    )
    raw_mapping = None
    if mapping:
        try:
            raw_mapping = json.loads(mapping)
        except json.JSONDecodeError as exc:
            path.unlink(missing_ok=True)
            raise ValidationFailed(
                "mapping is not JSON", {"mapping": ['Send {"LinkedIn": "linkedin_url", …}']}
            ) from exc
        if not isinstance(raw_mapping, dict):
            path.unlink(missing_ok=True)
            raise ValidationFailed("mapping must be a JSON object", {"mapping": ["column → field"]})
    try:
        columns = (
            service.parse_mapping(raw_mapping, service.inspect_file(path, require_url=False))
            if raw_mapping
            else None
        )
        job = service.create_import(
            session,
            workspace_id=caller.workspace_id,
            campaign_id=campaign_id,
            path=path,
            filename=file.filename or "upload.csv",
            size=size,
            created_by="API key",
            user_id=None,
            mapping=columns,
            on_duplicate=on_duplicate,
            now=now,
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return import_read(job)


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
)
def cancel(import_id: Id, session: SessionDep, caller: ApiCallerDep, now: NowDep) -> ImportRead:
    return import_read(
        service.cancel_import(
            session, workspace_id=caller.workspace_id, import_id=import_id, now=now
        )
    )


@router.post(
    "/{import_id}/undo",
    response_model=ImportRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Undo a finished import",
)
def undo(import_id: Id, session: SessionDep, caller: ApiCallerDep, now: NowDep) -> ImportRead:
    service.undo_import(session, workspace_id=caller.workspace_id, import_id=import_id, now=now)
    return import_read(
        service.get_import(session, workspace_id=caller.workspace_id, import_id=import_id)
    )
