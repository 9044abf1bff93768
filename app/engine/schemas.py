from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from app.domain.errors import ErrorCode
from app.domain.statuses import ActivityKind
from app.schemas import InputModel


class LeaseRequest(InputModel):
    limit: int = Field(default=10, ge=1, le=100, description="At most this many actions")
    lease_seconds: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="How long the actions stay hidden from other executors",
    )


class LeasedActionRead(BaseModel):
    id: int
    kind: ActivityKind
    contact_id: int
    campaign_id: int
    linkedin_url: str
    message: str | None = Field(description="The rendered note or message to send, if any")
    lease_token: str
    leased_until: datetime


class LeaseList(BaseModel):
    items: list[LeasedActionRead]


class ActionResultIn(InputModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"lease_token": "9f…", "outcome": "success", "degree": 2},
                {"lease_token": "9f…", "outcome": "error", "error_code": "email_required"},
            ],
            # What _error_needs_code checks, said in the schema (JSON Schema 2020-12 if/then).
            "if": {"properties": {"outcome": {"const": "error"}}},
            "then": {
                "required": ["error_code"],
                "properties": {"error_code": {"not": {"type": "null"}}},
            },
        }
    }

    lease_token: str = Field(min_length=1, max_length=64)
    outcome: Literal["success", "error"]
    degree: int | None = Field(
        default=None, ge=1, le=3, description="Profile visits: connection degree"
    )
    accepted: bool = Field(default=False, description="The invitation was already accepted")
    replied: bool = Field(default=False, description="The person has replied")
    error_code: ErrorCode | None = None
    message: str | None = Field(
        default=None, max_length=1000, description="The executor's error text"
    )

    @model_validator(mode="after")
    def _error_needs_code(self) -> ActionResultIn:
        if self.outcome == "error" and self.error_code is None:
            raise ValueError("an error result needs an error_code")
        return self
