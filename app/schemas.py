"""Schema types shared by every feature."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Ids are 64-bit in PostgreSQL and SQLite; anything larger cannot name a row.
MAX_ID = 2**62
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, BaseModel):
        return any(_has_nul(getattr(value, name)) for name in type(value).model_fields)
    return False


class InputModel(BaseModel):
    """Base of every request body: unknown fields refused, NUL characters refused (no database stores them)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        for name in type(self).model_fields:
            if _has_nul(getattr(self, name)):
                raise ValueError(
                    f"{name} contains a NUL (\\u0000) character, which text may not hold"
                )
        return self
