"""Opaque keyset cursors: base64 of a small JSON object, tied to the sort they were made for."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from app.errors import ValidationFailed
from app.schemas import MAX_ID


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
    last = key.get("id") if isinstance(key, dict) else None
    # An id a row could have: a bool is an int to Python, and a huge one overflows the database.
    well_formed = type(last) is int and 0 <= last <= MAX_ID
    if not isinstance(key, dict) or key.get("sort") != sort or not well_formed:
        raise ValidationFailed(
            "The cursor is not valid for this list",
            {"cursor": ["Pass the next_cursor of the previous page unchanged, with the same sort"]},
        )
    return key
