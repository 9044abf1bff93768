from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from app.domain.transitions import (
    DEFAULT_WITHDRAW_AFTER_DAYS,
    MAX_WITHDRAW_AFTER_DAYS,
    MIN_WITHDRAW_AFTER_DAYS,
)
from app.schemas import InputModel

WithdrawAfterDays = Annotated[
    int,
    Field(
        ge=MIN_WITHDRAW_AFTER_DAYS,
        le=MAX_WITHDRAW_AFTER_DAYS,
        description="Days an invitation may wait for an acceptance before the engine withdraws it "
        f"({MIN_WITHDRAW_AFTER_DAYS}–{MAX_WITHDRAW_AFTER_DAYS}, default "
        f"{DEFAULT_WITHDRAW_AFTER_DAYS})",
    ),
]


class WorkspaceRead(BaseModel):
    id: int
    name: str
    withdraw_after_days: int
    created_at: datetime


class WorkspaceUpdate(InputModel):
    """The fields to change; an omitted field keeps its value."""

    name: Annotated[str, Field(max_length=200, json_schema_extra={"pattern": r"\S"})] | None = (
        Field(default=None, description="Not blank; kept without its surrounding spaces")
    )
    withdraw_after_days: WithdrawAfterDays | None = None

    @field_validator("name")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("Give the workspace a name (1 to 200 characters)")
        return value.strip() if value is not None else None
