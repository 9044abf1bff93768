from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from app.events.types import LOGGED_TYPES
from app.schemas import InputModel

TYPE_NAMES = [t.value for t in LOGGED_TYPES]
# The URL's shape as app.webhooks.network checks it before resolving the host (documented, not
# enforced here: the service's check says what is wrong in words).
PORT = r"[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
URL_PATTERN = rf"^https://[A-Za-z0-9_.-]+(:({PORT}))?([/?#][!-~]*)?$"
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="An https URL (no user name or password, port 1–65535) whose host resolves "
        "only to public addresses; refused with 422 otherwise. A server run with "
        "TRACKER_WEBHOOK_ALLOW_PRIVATE (development) also takes http and private addresses",
        examples=["https://crm.example.com/hooks/tracker"],
        json_schema_extra={"pattern": URL_PATTERN},
    ),
]
EventTypes = Annotated[
    list[str],
    Field(
        max_length=len(TYPE_NAMES),
        description="The event types sent (empty: every type)",
        json_schema_extra={"items": {"type": "string", "enum": TYPE_NAMES}},
    ),
]


def _known_types(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    unknown = [v for v in values if v not in TYPE_NAMES]
    if unknown:
        raise ValueError(f"Unknown event type {', '.join(unknown)}; use: {', '.join(TYPE_NAMES)}")
    return list(dict.fromkeys(values))


class WebhookIn(InputModel):
    url: Url
    event_types: EventTypes = []
    description: str = Field(default="", max_length=500)
    enabled: bool = True

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        return _known_types(value) or []


class WebhookUpdate(InputModel):
    """The fields to change. Re-enabling sends nothing by itself: replay what was missed."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return _known_types(value)


class WebhookRead(BaseModel):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_until: datetime | None = Field(
        description="Until then deliveries also carry the signature of the secret before rotation"
    )
    backlog: int = Field(description="Deliveries waiting to be sent or retried")
    oldest_pending_recorded_at: datetime | None
    lag_p50_seconds: float | None = Field(
        description="Median seconds from an event's recording to its delivery (latest 200)"
    )
    replaying: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Shown once: `whsec_` + base64 of 32 random bytes")


class WebhookList(BaseModel):
    items: list[WebhookRead]
    next_cursor: str | None = None


class SecretRotated(BaseModel):
    secret: str = Field(description="The new secret, shown once")
    previous_secret_until: datetime


class ReplayIn(InputModel):
    after: int = Field(ge=0, le=2**62, description="Every event after this seq is sent again")


class ReplayAccepted(BaseModel):
    webhook_id: int
    after: int
    until: int = Field(description="The head of the log when the replay was asked for")


class TestSent(BaseModel):
    delivery_id: int
    event_id: str


class AttemptDelivery(BaseModel):
    id: int
    event_id: str
    event_type: str
    event_seq: int
    state: str = Field(description="pending, delivered, failed or cancelled")
    attempts: int


class AttemptRead(BaseModel):
    id: int
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    excerpt: str = Field(description="The first 1 KB of the answer")
    error: str | None
    delivery: AttemptDelivery


class AttemptList(BaseModel):
    items: list[AttemptRead]
    next_cursor: str | None
