"""Connection-note and message templates: placeholders, rendering and LinkedIn's length limits."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.statuses import SenderTier

PLACEHOLDERS = ("first_name", "last_name", "company", "title")
NOTE_LIMITS: dict[SenderTier, int] = {SenderTier.BASIC: 200, SenderTier.PREMIUM: 300}
MESSAGE_LIMIT = 8000

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class TemplateError(ValueError):
    """A template uses a placeholder we cannot fill."""


def check_template(template: str) -> None:
    """Raise `TemplateError` naming every unknown placeholder, e.g. `{firstname}`."""
    unknown = sorted({m for m in _PLACEHOLDER.findall(template) if m not in PLACEHOLDERS})
    if unknown:
        names = ", ".join("{" + u + "}" for u in unknown)
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise TemplateError(f"Unknown placeholder {names}; use {allowed}")


def render(template: str, fields: Mapping[str, str | None]) -> str:
    """Fill the placeholders; a missing value renders as empty text and the spaces are tidied."""
    text = _PLACEHOLDER.sub(lambda m: (fields.get(m.group(1)) or "").strip(), template)
    text = re.sub(r"[ \t]{2,}", " ", text)
    # "Hi {first_name}, …" without a name reads "Hi, …", not "Hi , …".
    return re.sub(r"[ \t]+([,.!?;:])", r"\1", text).strip()


def note_length(text: str) -> int:
    """Characters as LinkedIn counts them: code points after NFC, so 'é' is one, not two bytes."""
    return len(unicodedata.normalize("NFC", text))


@dataclass(frozen=True)
class NoteCheck:
    text: str
    length: int
    limit: int

    @property
    def fits(self) -> bool:
        return self.length <= self.limit

    @property
    def over_by(self) -> int:
        return max(0, self.length - self.limit)


def check_note(template: str, fields: Mapping[str, str | None], tier: SenderTier) -> NoteCheck:
    """Render a connection note and measure it against the sender tier's limit."""
    text = render(template, fields)
    return NoteCheck(text=text, length=note_length(text), limit=NOTE_LIMITS[tier])
