"""Opaque keyset cursors: base64 of a small JSON object, tied to the sort they were made for."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from app.errors import ValidationFailed


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, sort: str) -> dict[str, Any]:
    """The key a cursor carries; ValidationFailed when it is garbled or made for another sort."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, dict) or key.get("sort") != sort or not isinstance(key.get("id"), int):
        raise ValidationFailed(
            "The cursor is not valid for this list",
            {"cursor": ["Pass the next_cursor of the previous page unchanged, with the same sort"]},
        )
    return key
