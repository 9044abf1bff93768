"""Form helpers shared by the HTML pages."""

from __future__ import annotations

from pydantic import ValidationError


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Pydantic's errors as field path → messages, for re-rendering a form beside its fields."""
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        out.setdefault(".".join(str(p) for p in err["loc"]) or "form", []).append(err["msg"])
    return out
