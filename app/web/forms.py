"""Validation messages written for people, shared by the JSON API and the HTML forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

# Pydantic words an enum member as its repr (<ContactEvent.PROFILE_VISITED: 'profile_visited'>);
# people type the value.
_ENUM_REPR = re.compile(r"<[A-Za-z_][\w.]*: ('[^']*'|-?\d+)>")
# A validator's own message, without the prefix Pydantic puts before it.
_PREFIXES = ("Value error, ", "Assertion failed, ")


def readable_message(err: Mapping[str, Any]) -> str:
    """One Pydantic error as a person reads it: no enum reprs, no "Value error," prefix."""
    msg = str(err.get("msg", ""))
    for prefix in _PREFIXES:
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return _ENUM_REPR.sub(r"\1", msg)


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Pydantic's errors as field path → messages, for re-rendering a form beside its fields."""
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "form"
        out.setdefault(path, []).append(readable_message(err))
    return out


def form_id(value: object) -> int | None:
    """An id typed into (or posted by) a form: 1 to 18 digits, else None (never an integer the
    database would refuse)."""
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18 or int(text) < 1:
        return None
    return int(text)
