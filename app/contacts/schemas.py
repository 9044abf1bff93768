from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.domain.errors import INVITE_ONLY_ERRORS, ErrorCode
from app.domain.statuses import ActivityKind, ContactSource, ContactStatus
from app.domain.transitions import ContactEvent
from app.schemas import InputModel

Short = Annotated[str | None, Field(default=None, max_length=200)]
MAX_CUSTOM_FIELDS = 50


class ContactIn(InputModel):
    """One contact to add. Only the profile URL is required."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "linkedin_url": "https://www.linkedin.com/in/jane-doe",
                    "first_name": "Jane",
                    "last_name": "Doe",
                    "email": "jane@example.com",
                    "company": "Acme",
                    "title": "CTO",
                    "custom_fields": {"crm_id": "0031x00000AbCdE"},
                }
            ]
        },
    )

    linkedin_url: str = Field(max_length=2048, description="Any spelling of a linkedin.com/in/ URL")
    first_name: Short = None
    last_name: Short = None
    email: str | None = Field(default=None, max_length=320)
    company: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, max_length=300)
    custom_fields: dict[str, str] = Field(default_factory=dict)
    source: Literal[ContactSource.API, ContactSource.INTEGRATION, ContactSource.SEARCH] = (
        ContactSource.API
    )

    @field_validator("custom_fields")
    @classmethod
    def _custom(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_CUSTOM_FIELDS:
            raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")
        for key, item in value.items():
            if not key.strip() or len(key) > 100:
                raise ValueError("custom field names must be 1 to 100 characters")
            if len(item) > 1000:
                raise ValueError(f"custom field {key!r} is longer than 1000 characters")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return None
        if "@" not in value or " " in value:
            raise ValueError("not an email address")
        return value


class BulkContactsIn(BaseModel):  # items are checked one by one: one bad item never fails the batch
    model_config = ConfigDict(extra="forbid")

    contacts: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=1000,
        description="Up to 1,000 contacts, each shaped like ContactIn; invalid items are reported "
        "per index and the rest are stored.",
        json_schema_extra={"items": {"$ref": "#/components/schemas/ContactIn"}},
    )


class ContactErrorRead(BaseModel):
    code: ErrorCode
    label: str
    message: str


class ContactRead(BaseModel):
    id: int
    campaign_id: int
    linkedin_url: str
    first_name: str | None
    last_name: str | None
    email: str | None
    company: str | None
    title: str | None
    custom_fields: dict[str, str]
    source: ContactSource
    status: ContactStatus
    status_label: str
    error: ContactErrorRead | None
    muted: bool
    replied: bool
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    invited_at: datetime | None
    connected_at: datetime | None
    withdrawn_at: datetime | None


class ContactList(BaseModel):
    items: list[ContactRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class DuplicateItem(BaseModel):
    index: int
    linkedin_url: str
    contact_id: int | None = Field(
        description="The contact this profile is stored as: one already in the campaign, or the "
        "one an earlier item of this same request created; null only if that contact was "
        "deleted while the request ran"
    )


class InvalidItem(BaseModel):
    index: int
    errors: dict[str, list[str]]


class BulkContactsResult(BaseModel):
    created: int
    contacts: list[ContactRead]
    duplicates: list[DuplicateItem]
    invalid: list[InvalidItem]


INVITE_ONLY_CODES: list[Any] = sorted(e.value for e in INVITE_ONLY_ERRORS)


def _needs(event: str, field: str) -> dict[str, Any]:
    return {
        "if": {"properties": {"event": {"const": event}}},
        "then": {"required": [field], "properties": {field: {"not": {"type": "null"}}}},
    }


class ContactEventIn(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"event": "invite_accepted"},
                {"event": "profile_visited", "degree": 2},
                {"event": "action_failed", "error_code": "email_required"},
                {"event": "message_sent", "step": 1, "message": "Thanks for connecting!"},
            ],
            # The rules record_event checks across fields, said in the schema (JSON Schema
            # 2020-12 if/then): what one event needs, and what only one event takes.
            "allOf": [
                _needs("action_failed", "error_code"),
                _needs("profile_visited", "degree"),
                {
                    "if": {"not": {"properties": {"event": {"const": "message_sent"}}}},
                    "then": {"properties": {"step": {"type": "null"}}},
                },
                {
                    "if": {
                        "properties": {
                            "event": {"const": "action_failed"},
                            "error_code": {"enum": INVITE_ONLY_CODES},
                        },
                        "required": ["error_code"],
                    },
                    "then": {"properties": {"action": {"enum": [None, "connection_request"]}}},
                },
            ],
        },
    )

    event: Literal[
        ContactEvent.PROFILE_VISITED,
        ContactEvent.INVITE_SENT,
        ContactEvent.INVITE_ACCEPTED,
        ContactEvent.INVITE_WITHDRAWN,
        ContactEvent.MESSAGE_SENT,
        ContactEvent.REPLY_RECEIVED,
        ContactEvent.ACTION_FAILED,
    ]
    degree: int | None = Field(default=None, ge=1, le=3, description="For profile_visited")
    error_code: ErrorCode | None = Field(default=None, description="For action_failed")
    action: ActivityKind | None = Field(
        default=None,
        description="For action_failed: which action failed (default by campaign type)",
    )
    message: str | None = Field(
        default=None, max_length=8000, description="The text sent, or the executor's error message"
    )
    step: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="For message_sent: which follow-up step was sent (default: the next unsent one)",
    )
    occurred_at: datetime | None = Field(
        default=None,
        description="Defaults to now; with a UTC offset, not in the future and not before the "
        "contact was added (422 otherwise)",
    )


class ActivityErrorRead(ContactErrorRead):
    pass


class ActivityRead(BaseModel):
    id: int | None = Field(
        description="Null for the derived entry recording how the contact was added"
    )
    contact_id: int
    kind: ActivityKind
    outcome: Literal["pending", "success", "error", "skipped"]
    outcome_label: str
    error: ActivityErrorRead | None
    message: str | None
    status_from: ContactStatus | None
    status_to: ContactStatus | None
    scheduled_for: datetime | None
    completed_at: datetime | None
    created_at: datetime
    detail: dict[str, Any]
    waiting_reason: str | None = Field(
        description="Pending entries: daily_cap, weekly_cap, working_hours, cooldown, "
        "follow_up_delay, awaiting_acceptance, campaign_paused or queued"
    )
    waiting_cap: str | None = Field(
        default=None,
        description="The cap that holds a pending entry (invites, profile_visits, follow_ups, "
        "inmails, withdrawals), or null when no cap does",
    )
    waiting_reason_label: str | None
    expected_at: datetime | None


class ActivityList(BaseModel):
    items: list[ActivityRead]
    next_cursor: str | None = None


class EventResult(BaseModel):
    contact: ContactRead
    activity: ActivityRead
