"""The import pages: upload, mapping preview, progress, summary, rejected rows, cancel and undo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    AdminDep,
    CsrfDep,
    ViewerDep,
    require_csrf_token,
)
from app.campaigns.service import list_campaigns
from app.config import Settings
from app.domain.statuses import DuplicatePolicy, ImportState
from app.errors import AppError, Forbidden, ImportRejected, PayloadTooLarge, ValidationFailed
from app.imports import service
from app.imports import upload as uploads
from app.imports.encoding import Candidate, Detection
from app.imports.reader import FIELDS
from app.web.deps import NowDep, SessionDep
from app.web.downloads import csv_response
from app.web.forms import form_id
from app.web.templating import page
from app.web.upload_stream import read_multipart

router = APIRouter(include_in_schema=False)
FIELD_LABELS = {
    "linkedin_url": "LinkedIn profile URL",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split)",
    "email": "Email",
    "company": "Company",
    "title": "Title / position",
}


def _owner(viewer: Any) -> str:
    return f"{viewer.workspace_id}:{viewer.user_id}"


def _kept(request: Request, token: str, viewer: Any, encoding: object = None) -> uploads.KeptUpload:
    """This viewer's upload of `token`, read in the encoding the preview's form chose (if any)."""
    kept = uploads.kept_upload(request.app.state.settings.data_dir, token, owner=_owner(viewer))
    chosen = uploads.chosen_encoding(str(encoding or ""))
    return kept.with_encoding(chosen) if chosen else kept


@router.get("/imports")
def imports(
    request: Request, session: SessionDep, viewer: ViewerDep, campaign_id: int | None = None
) -> Response:
    campaigns = [
        c
        for c in list_campaigns(session, workspace_id=viewer.workspace_id, limit=500)
        if c.state.value != "archived"
    ]
    history = service.list_imports(session, workspace_id=viewer.workspace_id, limit=100)
    names = {
        c.id: c.name for c in list_campaigns(session, workspace_id=viewer.workspace_id, limit=500)
    }
    return page(
        request,
        "imports/imports.html",
        {
            "campaigns": campaigns,
            "history": history,
            "names": names,
            "selected": campaign_id,
            "error": None,
        },
    )


def _preview_page(
    request: Request,
    session: SessionDep,
    viewer: Any,
    *,
    token: str,
    campaign_id: int,
    mapping: dict[int, str] | None,
    policy: str,
    error: str | None = None,
    encoding: object = None,
) -> Response:
    kept = _kept(request, token, viewer, encoding)
    result = service.preview(
        session,
        workspace_id=viewer.workspace_id,
        campaign_id=campaign_id,
        path=kept.path,
        dialect=kept.dialect,
        mapping=mapping,
    )
    context = {
        "token": token,
        "campaign_id": campaign_id,
        "preview": result,
        "readings": _readings(kept.detection, result.dialect.encoding),
        "ambiguous": kept.detection.ambiguous,
        "fields": FIELD_LABELS,
        "policy": policy,
        "error": error,
    }
    return page(
        request, "imports/preview.html", context, block="preview", status_code=422 if error else 200
    )


@router.post("/imports/upload")
async def upload(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    """The session is checked (AdminDep) before a byte of the body is read; the body is then read
    as it streams (app.web.upload_stream), the CSRF token checked before the file part is kept
    (htmx sends it as a header; a plain form sends it as the first field)."""
    settings = request.app.state.settings
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        require_csrf_token(viewer, header)

    def csrf_first(fields: dict[str, str]) -> None:
        if header is None:
            require_csrf_token(viewer, fields.get(CSRF_FIELD))

    campaign_id: int | None = None
    try:
        form = await read_multipart(
            request.stream(),
            content_type=request.headers.get("content-type"),
            max_file_bytes=settings.upload_max_bytes,
            before_file=csrf_first,
        )
        try:
            csrf_first(form.fields)  # a form without a file is checked too
            campaign_id = form_id(form.fields.get("campaign_id"))
            if form.file is None:
                raise ValidationFailed("Choose a CSV file to upload", {"file": ["Choose a file"]})
            if campaign_id is None:
                raise ValidationFailed(
                    "Choose the campaign to import into", {"campaign_id": ["Choose a campaign"]}
                )
            token = await run_in_threadpool(_keep_upload, form.file, viewer, settings)
        finally:
            if form.file is not None:
                await form.file.close()
    except Forbidden:
        raise
    except AppError as exc:
        return await run_in_threadpool(_upload_refused, request, session, viewer, campaign_id, exc)
    return await run_in_threadpool(
        _preview_page,
        request,
        session,
        viewer,
        token=token,
        campaign_id=campaign_id,
        mapping=None,
        policy="skip",
    )


def _readings(detection: Detection, used: str) -> list[Candidate]:
    """The readings the preview offers: the one used and the plausible ones first, then every
    other encoding that decodes the file (the admin may know better)."""
    first = [c for c in detection.candidates if c.encoding == used or c.plausible]
    return first + [c for c in detection.candidates if c not in first]


def _keep_upload(file: UploadFile, viewer: Any, settings: Settings) -> str:
    """Accept the upload (refused when it does not read as CSV with a profile-URL column) and
    keep it for its preview; returns its token."""
    accepted = uploads.accept_upload(
        file.file, data_dir=settings.data_dir, max_bytes=settings.upload_max_bytes
    )
    try:
        uploads.require_url_column(accepted.dialect)
    except AppError:
        accepted.path.unlink(missing_ok=True)
        raise
    return uploads.keep_for_preview(accepted, filename=file.filename or "", owner=_owner(viewer))


def _upload_refused(
    request: Request, session: Session, viewer: Any, campaign_id: int | None, exc: AppError
) -> Response:
    campaigns = list_campaigns(session, workspace_id=viewer.workspace_id, limit=500)
    history = service.list_imports(session, workspace_id=viewer.workspace_id, limit=100)
    return page(
        request,
        "imports/imports.html",
        {
            "campaigns": campaigns,
            "history": history,
            "names": {c.id: c.name for c in campaigns},
            "selected": campaign_id,
            "error": exc.detail,
        },
        status_code=413 if isinstance(exc, PayloadTooLarge) else 422,
        block="content",
    )


def _mapping_from_form(form: Any, columns: int) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for i in range(columns):
        target = str(form.get(f"map_{i}", ""))
        if target in FIELDS:
            mapping[i] = target
    return mapping


def _campaign_id(value: object) -> int:
    campaign_id = form_id(value)
    if campaign_id is None:
        raise ValidationFailed(
            "Choose the campaign to import into", {"campaign_id": ["Choose a campaign"]}
        )
    return campaign_id


@router.post("/imports/preview", dependencies=[CsrfDep])
async def refresh_preview(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    form = await request.form()
    token, campaign_id = str(form.get("token", "")), _campaign_id(form.get("campaign_id"))
    encoding = form.get("encoding")
    try:
        dialect = _kept(request, token, viewer, encoding).dialect
    except (ValidationFailed, ImportRejected) as exc:
        return _preview_page(
            request,
            session,
            viewer,
            token=token,
            campaign_id=campaign_id,
            mapping=None,
            policy=str(form.get("on_duplicate", "skip")),
            error=exc.detail,
        )
    raw = _mapping_from_form(form, len(dialect.header))
    try:
        mapping = (
            service.parse_mapping({str(k): v for k, v in raw.items()}, dialect) if raw else None
        )
    except ValidationFailed as exc:
        return _preview_page(
            request,
            session,
            viewer,
            token=token,
            campaign_id=campaign_id,
            mapping=None,
            policy=str(form.get("on_duplicate", "skip")),
            error="; ".join(sum(exc.errors.values(), [])),
            encoding=encoding,
        )
    return _preview_page(
        request,
        session,
        viewer,
        token=token,
        campaign_id=campaign_id,
        mapping=mapping,
        policy=str(form.get("on_duplicate", "skip")),
        encoding=encoding,
    )


@router.post("/imports/commit", dependencies=[CsrfDep])
async def commit(request: Request, session: SessionDep, viewer: AdminDep, now: NowDep) -> Response:
    form = await request.form()
    token, campaign_id = str(form.get("token", "")), _campaign_id(form.get("campaign_id"))
    encoding = form.get("encoding")
    kept = _kept(request, token, viewer, encoding)
    dialect = kept.dialect
    policy_value = str(form.get("on_duplicate", "skip"))
    try:
        mapping = service.parse_mapping(
            {str(k): v for k, v in _mapping_from_form(form, len(dialect.header)).items()}, dialect
        )
        policy = DuplicatePolicy(policy_value)
    except (ValidationFailed, ValueError) as exc:
        message = (
            "; ".join(sum(exc.errors.values(), []))
            if isinstance(exc, ValidationFailed)
            else "Choose skip, fill or overwrite"
        )
        return _preview_page(
            request,
            session,
            viewer,
            token=token,
            campaign_id=campaign_id,
            mapping=None,
            policy=policy_value,
            error=message,
            encoding=encoding,
        )
    job = service.create_import(
        session,
        workspace_id=viewer.workspace_id,
        campaign_id=campaign_id,
        upload=kept.accepted(),
        filename=kept.filename,
        created_by=viewer.email,
        user_id=viewer.user_id,
        mapping=mapping,
        on_duplicate=policy,
        now=now,
    )
    uploads.release(kept)
    target = f"/imports/{job.id}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/imports/{import_id:id}")
def progress(
    import_id: int, request: Request, session: SessionDep, viewer: ViewerDep, now: NowDep
) -> Response:
    job = service.get_import(session, workspace_id=viewer.workspace_id, import_id=import_id)
    elapsed = (now - job.started_at).total_seconds() if job.started_at else 0.0
    done_fraction = 0.0
    if job.state is ImportState.DONE:
        done_fraction = 1.0
    elif job.size_bytes:
        done_fraction = min(0.99, job.rows_read * 120 / job.size_bytes)
    rate = job.rows_read / elapsed if elapsed > 0 else 0.0
    left = (elapsed / done_fraction - elapsed) if 0 < done_fraction < 1 else None
    context = {
        "job": job,
        "rate": rate,
        "left": left,
        "percent": round(done_fraction * 100),
        "live": job.state in (ImportState.QUEUED, ImportState.RUNNING),
    }
    return page(request, "imports/progress.html", context, block="progress")


@router.get("/imports/{import_id:id}/rejected.csv")
def rejected(import_id: int, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    job, header, rows = service.rejected_rows(
        session,
        request.app.state.read_sessionmaker,
        workspace_id=viewer.workspace_id,
        import_id=import_id,
    )
    return csv_response(f"import-{job.id}-rejected.csv", header, rows)


@router.post("/imports/{import_id:id}/cancel", dependencies=[CsrfDep])
def cancel(import_id: int, session: SessionDep, viewer: AdminDep, now: NowDep) -> Response:
    service.cancel_import(session, workspace_id=viewer.workspace_id, import_id=import_id, now=now)
    return RedirectResponse(f"/imports/{import_id}", status_code=303)


@router.post("/imports/{import_id:id}/undo", dependencies=[CsrfDep])
def undo(import_id: int, session: SessionDep, viewer: AdminDep, now: NowDep) -> Response:
    removed = service.undo_import(
        session, workspace_id=viewer.workspace_id, import_id=import_id, now=now
    )
    audit.record(
        session,
        workspace_id=viewer.workspace_id,
        actor=audit.user_actor(viewer.email, viewer.user_id),
        action="import.undone",
        target=f"import {import_id}",
        detail={"contacts_removed": removed},
        now=now,
    )
    return RedirectResponse(f"/imports/{import_id}", status_code=303)
