"""Schema types shared by every feature."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Ids are 64-bit in PostgreSQL and SQLite; anything larger cannot name a row.
MAX_ID = 2**62
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


_SCALARS = frozenset({int, float, bool})
_SEQUENCES = (list, tuple)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return bool(value) and any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, _SEQUENCES):
        return any(_has_nul(v) for v in value)
    if isinstance(value, BaseModel):
        return any(_has_nul(v) for v in value.__dict__.values())
    return False


class InputModel(BaseModel):
    """Base of every request body: unknown fields refused, NUL characters refused (no database stores them)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        # Runs for every item of a thousand-contact request: plain text and scalars are checked
        # inline, only containers and nested models walk through _has_nul.
        for name, value in self.__dict__.items():
            if value is None or value.__class__ in _SCALARS:
                continue
            if value.__class__ is str:
                if "\x00" not in value:
                    continue
            elif isinstance(value, Enum) or not _has_nul(value):
                continue
            raise ValueError(f"{name} contains a NUL (\\u0000) character, which text may not hold")
        return self
