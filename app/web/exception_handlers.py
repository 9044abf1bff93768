"""One table at the edge: our exceptions to HTTP. JSON problems under /api, HTML pages elsewhere."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.domain.transitions import InvalidTransition
from app.errors import (
    AppError,
    Conflict,
    Forbidden,
    Gone,
    ImportRejected,
    LoginRequired,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from app.web.forms import readable_message
from app.web.headers import headers_for_error
from app.web.problems import problem
from app.web.request_id import request_id_of
from app.web.templating import render_error_page

log = logging.getLogger(__name__)

STATUS_OF: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (Unauthorized, 401),
    (Forbidden, 403),
    (Conflict, 409),
    (Gone, 410),
    (InvalidTransition, 409),
    (ValidationFailed, 422),
    (ImportRejected, 422),
    (PayloadTooLarge, 413),
    (RateLimited, 429),
]


# A database outage: clients retry after this many seconds (the pool reconnects by itself).
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable at the moment; try again in a few seconds."
CLASHED = (
    "This request clashed with another change to the same rows and nothing of it was saved; "
    "send it again (with the same Idempotency-Key, if it had one)."
)
# PostgreSQL's serialization failure and deadlock: the transaction was rolled back whole, and the
# same request again will most likely go through.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def is_database_outage(exc: Exception) -> bool:
    """The database cannot be reached or has no connection to spare, as opposed to a statement it
    refused (a constraint, a type): that one is a bug, a 500. OperationalError is the DB-API's
    class for connection failures (refused, reset, timed out, a file SQLite cannot open);
    InterfaceError a connection already closed; `connection_invalidated` one lost mid-statement."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def status_for(exc: Exception) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 400


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def _html(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    request_id: str | None = None,
) -> Response:
    phrase = HTTPStatus(status).phrase
    # A page that failed can be asked for again; a form's answer cannot (its URL takes no GET).
    retry = request.method == "GET" and (status >= 500 or status in (409, 429))
    return render_error_page(
        status,
        phrase,
        detail,
        headers=headers,
        request_id=request_id,
        # Whoever this request found signed in before it failed: never looked up here, so the page
        # needs no database. A URL no route answers has no viewer yet: the menu without the user.
        viewer=getattr(request.state, "viewer", None),
        path=request.url.path,
        retry_url=str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        if retry
        else None,
    )


def _respond(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Any = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    if wants_json(request):
        return problem(status, detail, title=title, errors=errors, headers=headers, extra=extra)
    # Our own failures show the request's id: what the user quotes finds the log lines.
    request_id = request_id_of(request.scope) if status >= 500 else None
    return _html(request, status, detail, headers, request_id=request_id)


def _loc_to_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = exc.location or "/login?" + urlencode({"next": target})
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        status = status_for(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        errors = exc.errors if isinstance(exc, ValidationFailed) else None
        extra = {"code": exc.code} if isinstance(exc, Conflict) and exc.code else None
        return _respond(
            request,
            status,
            exc.detail,
            title=exc.title,
            errors=errors,
            headers=headers,
            extra=extra,
        )

    @app.exception_handler(InvalidTransition)
    async def invalid_transition(request: Request, exc: InvalidTransition) -> Response:
        extra = {
            "code": "invalid_transition",
            "current_status": exc.status.value,
            "event": exc.event.value,
            "campaign_type": exc.campaign_type.value,
        }
        return _respond(request, 409, str(exc), title="Invalid transition", extra=extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            errors.setdefault(_loc_to_path(err.get("loc", ())), []).append(readable_message(err))
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in list(errors.items())[:5])
        return _respond(
            request,
            422,
            f"The request is invalid — {summary}",
            title="Validation failed",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No such URL: {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        headers = dict(exc.headers) if exc.headers else None
        return _respond(request, exc.status_code, detail, headers=headers)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def database_error(request: Request, exc: Exception) -> Response:
        if not is_database_outage(exc):
            raise exc  # a bug: the 500 handler logs it
        # What failed goes to the log (with the request's id), never to the client: the driver's
        # own words, without the statement's parameters (contact data, token hashes).
        driver = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        if getattr(driver, "sqlstate", None) in RETRYABLE_SQLSTATES:
            log.warning(
                "rolled back on %s %s: %s", request.method, request.url.path, type(driver).__name__
            )
            return _respond(
                request, 503, CLASHED, title="Service unavailable", headers={"Retry-After": "1"}
            )
        log.error(
            "database unavailable on %s %s: %s: %s",
            request.method,
            request.url.path,
            type(driver).__name__,
            str(driver).strip(),
        )
        return _respond(
            request,
            503,
            DATABASE_UNAVAILABLE,
            title="Service unavailable",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Starlette answers this one outside every middleware: the headers they add, added here.
        headers = headers_for_error(request.url.path)
        request_id = request_id_of(request.scope)
        if request_id is not None:
            headers["X-Request-ID"] = request_id
        return _respond(
            request, 500, "Something went wrong on our side; it has been logged.", headers=headers
        )
