from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.errors import ErrorCode
from app.domain.statuses import CampaignState, CampaignType
from app.schemas import DbId, InputModel

Name = Annotated[str, Field(min_length=1, max_length=200)]
Template = Annotated[str, Field(max_length=2000)]


class FollowUpStep(InputModel):
    model_config = ConfigDict(extra="forbid")

    delay_days: int = Field(
        ge=0, le=365, description="Days after acceptance (first step) or the previous step"
    )
    template: str = Field(min_length=1, max_length=8000)


class CampaignCreate(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "CTOs in Berlin",
                    "type": "connection",
                    "sender_id": 1,
                    "connection_template": "Hi {first_name}, I enjoyed your work at {company}.",
                    "follow_up_steps": [
                        {"delay_days": 2, "template": "Thanks for connecting, {first_name}!"}
                    ],
                }
            ]
        },
    )

    name: Name
    type: CampaignType = CampaignType.CONNECTION
    sender_id: DbId
    connection_template: Template = ""
    follow_up_steps: list[FollowUpStep] = Field(default_factory=list, max_length=20)
    max_reinvites: int = Field(
        default=0,
        ge=0,
        le=3,
        description="How many times a person whose invite was withdrawn is invited again "
        "(3 weeks after each withdrawal); 0 never re-invites",
    )


class CampaignUpdate(InputModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    connection_template: Template | None = None
    follow_up_steps: list[FollowUpStep] | None = Field(default=None, max_length=20)
    state: Literal[CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.ARCHIVED] | None = (
        None
    )
    max_reinvites: int | None = Field(default=None, ge=0, le=3)


class CampaignStats(BaseModel):
    not_verified: int = 0
    not_connected: int = 0
    invite_sent: int = 0
    connected: int = 0
    withdrawn: int = 0
    total: int = 0
    errors: int = Field(0, description="Contacts whose last action failed")
    errors_by_code: dict[ErrorCode, int] = Field(default_factory=dict)
    invited: int = Field(0, description="Contacts the campaign sent an invite to")
    accepted: int = Field(0, description="Invited contacts who accepted")
    already_connected: int = Field(
        0, description="Contacts connected without an invite (1st-level when visited)"
    )
    replied: int = Field(0, description="Contacts who replied")
    acceptance_rate: float | None = Field(
        None, ge=0, le=1, description="accepted ÷ invited; null while nobody was invited"
    )


class CampaignRead(BaseModel):
    id: int
    name: str
    type: CampaignType
    state: CampaignState
    sender_id: int
    connection_template: str
    follow_up_steps: list[FollowUpStep]
    max_reinvites: int
    started_at: datetime | None
    created_at: datetime
    updated_at: datetime
    stats: CampaignStats


class CampaignList(BaseModel):
    items: list[CampaignRead]
    next_cursor: str | None = None
