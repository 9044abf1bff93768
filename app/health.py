"""GET /livez: the process answers. GET /healthz: and its database answers, at the migration head."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import migrations

router = APIRouter()


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
        return JSONResponse({"status": "error", "database": str(exc)[:200]}, status_code=503)
    head = request.app.state.migration_head
    body.update(database="ok", revision=current, head=head)
    if current != head:
        body.update(status="error", database="not migrated: run `contact-tracker migrate`")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
