"""GET /livez: the process answers. GET /healthz: and its database answers, at the migration head."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import migrations
from app.web.exception_handlers import DATABASE_RETRY_AFTER_SECONDS

router = APIRouter()
log = logging.getLogger(__name__)


@router.get("/livez", include_in_schema=False)
async def livez() -> dict[str, str]:
    """Liveness for a supervisor (restart the process when this fails): no database, no auth,
    no thread hop, so it is also the framework's own cost of a request, the benchmarks' ceiling."""
    return {"status": "ok"}


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    body: dict[str, Any] = {"status": "ok"}
    try:  # reading the recorded revision is the probe: it needs the database to answer
        with request.app.state.read_sessionmaker() as session:
            current = migrations.current_revision(session.connection())
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        # Probes are often reachable by anyone: the cause goes to the log, not to the answer
        # (one line: a probe repeats it every few seconds while the database is away).
        log.warning("health check: the database did not answer: %s", exc)
        return JSONResponse(
            {"status": "error", "database": "unavailable"},
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    head = request.app.state.migration_head
    body.update(database="ok", revision=current, head=head)
    if current != head:
        body.update(status="error", database="not migrated: run `contact-tracker migrate`")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
