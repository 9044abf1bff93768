from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models.event import LoggedEvent


class EventRead(BaseModel):
    id: str = Field(description="`evt_…`: the same id a webhook delivery carries as `webhook-id`")
    seq: int = Field(description="The event's place in the workspace's log")
    type: str
    occurred_at: datetime = Field(
        description="When it happened (an integration may report the past)"
    )
    recorded_at: datetime = Field(
        description="When the change was written; retention counts from it"
    )
    workspace_id: int
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventRead]
    next_after: int = Field(
        description="Pass it back as `after`: the next page starts exactly after this one, past "
        "any events a `type` filter skipped"
    )


def event_read(event: LoggedEvent) -> EventRead:
    return EventRead(
        id=event.uid,
        seq=event.seq or 0,
        type=event.type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        workspace_id=event.workspace_id,
        data=event.data,
    )
