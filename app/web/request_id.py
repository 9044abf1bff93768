"""Every answer carries an `X-Request-ID`, and so does every log record made while it is handled
(SPEC §8): the line a user quotes from an error page or a client from a header finds the request's
log lines. One access line per request is logged here (`app.access`), with its id."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
# A proxy's or a client's own id is kept when it is this tame: short, and safe in a header, a log
# line and an HTML page. Anything else is replaced, never echoed.
WELL_FORMED = re.compile(rb"[A-Za-z0-9._-]{1,64}")
NO_REQUEST = "-"

_current: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)
access_log = logging.getLogger("app.access")


def current_request_id() -> str:
    """The id of the request being handled, or "-" outside one (a worker, start-up)."""
    return _current.get()


def request_id_of(scope: Scope) -> str | None:
    """The id given to a request, also after it left the middleware (the 500 handler runs
    outside it, when the context variable is reset)."""
    state: dict[str, Any] = scope.get("state") or {}
    request_id = state.get("request_id")
    return request_id if isinstance(request_id, str) else None


def _accepted(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if WELL_FORMED.fullmatch(value) else uuid.uuid4().hex
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Outermost: it sees every answer, the body-limit 413s and the router's 404/405s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _accepted(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = _current.set(request_id)
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = 500  # unless an answer starts: an exception escaped to the 500 handler
        started = time.perf_counter()

        async def with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                message["headers"] = [*headers, header]
            await send(message)

        try:
            await self.app(scope, receive, with_request_id)
        finally:
            # The path alone: query strings carry searches, and searches name people.
            client = scope.get("client")
            access_log.info(
                "%s %s %d %.1fms %s",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                client[0] if client else "-",
            )
            _current.reset(token)


_installed = False


def install_log_records() -> None:
    """Every log record carries `request_id` (the current request's, or "-"), for formats and for
    anything that reads records (a log shipper, pytest's caplog). Installed once per process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = _current.get()
        return record

    logging.setLogRecordFactory(record_with_request_id)
    _installed = True
