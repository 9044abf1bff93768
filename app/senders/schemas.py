from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.domain.pacing import validate_timezone
from app.domain.statuses import SenderTier
from app.schemas import InputModel

Cap = Annotated[int, Field(ge=0, le=10_000)]
LocalTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:00"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]
# An IANA time zone the server's zoneinfo knows. The schema states its shape and, as `format`, what
# it must name: a list of ~600 names would change with the tz database and make every generated
# client's parameter an enum. (validate_timezone is the check; every known name has this shape.)
TIME_ZONE_FORMAT = "iana-time-zone"
TimeZone = Annotated[
    str,
    Field(
        max_length=64,
        json_schema_extra={
            "format": TIME_ZONE_FORMAT,
            "pattern": r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$",
        },
    ),
]
TIME_ZONE_DOC = "An IANA time zone name, e.g. Europe/Berlin; unknown names are refused with 422"


def _check_timezone(value: str) -> str:
    return validate_timezone(value)


class WorkingHours(InputModel):
    """When the sender works, in its time zone; `start` must be before `end` (422 otherwise)."""

    model_config = ConfigDict(extra="forbid")

    start: LocalTime = Field(default="09:00", description="Local time the sender starts (HH:MM)")
    end: LocalTime = Field(
        default="18:00", description="Local time the sender stops, exclusive (HH:MM)"
    )
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5], min_length=1, max_length=7, description="ISO weekdays, 1 = Monday"
    )

    @model_validator(mode="after")
    def _order(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("working_hours.start must be before working_hours.end")
        self.days = sorted(set(self.days))
        return self

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)

    @classmethod
    def of(cls, start: time, end: time, days: list[int]) -> WorkingHours:
        return cls(start=start.strftime("%H:%M"), end=end.strftime("%H:%M"), days=days)


class SenderLimits(InputModel):
    model_config = ConfigDict(extra="forbid")

    daily_invites: Cap = 15
    weekly_invites: Cap = 100
    daily_profile_visits: Cap = 20
    daily_follow_ups: Cap = 20
    daily_inmails: Cap = 20
    daily_withdrawals: Cap = 40


class SenderLimitsPatch(InputModel):
    model_config = ConfigDict(extra="forbid")

    daily_invites: Cap | None = None
    weekly_invites: Cap | None = None
    daily_profile_visits: Cap | None = None
    daily_follow_ups: Cap | None = None
    daily_inmails: Cap | None = None
    daily_withdrawals: Cap | None = None


class SenderCreate(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Jane's LinkedIn",
                    "tier": "premium",
                    "timezone": "Europe/Berlin",
                    "working_hours": {"start": "09:00", "end": "17:30", "days": [1, 2, 3, 4, 5]},
                    "limits": {"daily_invites": 20},
                }
            ]
        },
    )

    name: Name
    tier: SenderTier = SenderTier.BASIC
    timezone: TimeZone = Field(default="UTC", description=TIME_ZONE_DOC)
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    limits: SenderLimits = Field(default_factory=SenderLimits)

    _tz = field_validator("timezone")(_check_timezone)


class SenderUpdate(InputModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    tier: SenderTier | None = None
    timezone: TimeZone | None = Field(default=None, description=TIME_ZONE_DOC)
    working_hours: WorkingHours | None = None
    limits: SenderLimitsPatch | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class SenderRead(BaseModel):
    id: int
    name: str
    tier: SenderTier
    timezone: str
    working_hours: WorkingHours
    limits: SenderLimits
    cooldown_until: datetime | None
    created_at: datetime
    updated_at: datetime


class SenderList(BaseModel):
    items: list[SenderRead]
    next_cursor: str | None = None
