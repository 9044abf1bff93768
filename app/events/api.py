"""/api/v1/events — the event log, read in order (SPEC §4 Events). Thin: parse, call, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.accounts.api_caller import ApiCallerDep
from app.errors import ValidationFailed
from app.events import service
from app.events.schemas import EventPage, event_read
from app.events.types import LOGGED_TYPES
from app.web.api_common import GONE, model_response

router = APIRouter(tags=["events"])
TYPE_NAMES = [t.value for t in LOGGED_TYPES]
AFTER_PATTERN = r"^(latest|0|[1-9][0-9]{0,17})$"


def _types(values: list[str] | None) -> list[str] | None:
    """`type` repeated, or comma-separated; each one a type of the log."""
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(TYPE_NAMES))
    if unknown:
        raise ValidationFailed(
            f"Unknown event type {', '.join(unknown)}",
            {"type": [f"Use one of: {', '.join(TYPE_NAMES)}"]},
        )
    return names or None


@router.get(
    "/events",
    operation_id="listEvents",
    response_model=EventPage,
    responses=GONE,
    summary="Read the event log in order",
    description="Every change an integration may care about, in `seq` order. Keep `next_after` and "
    "pass it back as `after`: you never miss and never repeat an event, whatever order writers "
    "commit in. `after=0` starts at the oldest kept event, `after=latest` at the head. Events are "
    "kept for the retention period after they are recorded; an `after` inside the purged range "
    "answers 410.",
)
def list_events(
    request: Request,
    caller: ApiCallerDep,
    after: Annotated[
        str,
        Query(
            pattern=AFTER_PATTERN,
            description="A `seq` (the last one you read), `0` for the oldest kept, or `latest`",
        ),
    ] = "0",
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 100,
    type: Annotated[
        list[str] | None,
        Query(
            description=f"Only these types (repeat, or separate with commas): {', '.join(TYPE_NAMES)}"
        ),
    ] = None,
) -> Response:
    page = service.read_events(
        reader=request.app.state.read_sessionmaker,
        writer=request.app.state.sessionmaker,
        workspace_id=caller.workspace_id,
        after=None if after == "latest" else int(after),
        limit=limit,
        types=_types(type),
    )
    return model_response(
        EventPage(items=[event_read(e) for e in page.items], next_after=page.next_after)
    )
