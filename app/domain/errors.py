"""Errors LinkedIn reports on actions (SPEC §2, "Errors on not-connected contacts") and what they mean."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    EMAIL_REQUIRED = "email_required"
    MESSAGE_TOO_LONG = "message_too_long"
    TOO_MANY_REQUESTS = "too_many_requests"
    OTHER = "other"


RATE_LIMIT_EXPLANATION = (
    "This is a rate limit: LinkedIn refused the request because of activity limits — usually the "
    "weekly invitation limit. "
    "Invites from this sender pause until the weekly window has room; the action is retried, not lost."
)

ERROR_LABELS: dict[ErrorCode, str] = {
    ErrorCode.EMAIL_REQUIRED: "Email required",
    ErrorCode.MESSAGE_TOO_LONG: "Connection message length",
    ErrorCode.TOO_MANY_REQUESTS: "Error",
    ErrorCode.OTHER: "Error",
}

ERROR_MEANINGS: dict[ErrorCode, str] = {
    ErrorCode.EMAIL_REQUIRED: (
        "This person requires their email address to connect; it cannot be automated, "
        "so no further invites are sent to this contact."
    ),
    ErrorCode.MESSAGE_TOO_LONG: "The rendered connection note is longer than the sender's tier allows.",
    ErrorCode.TOO_MANY_REQUESTS: RATE_LIMIT_EXPLANATION,
    ErrorCode.OTHER: "The action failed; it is retried with back-off up to a limit.",
}

# Errors that only a connection request can meet (SPEC §2 error matrix); the others fit any action.
INVITE_ONLY_ERRORS = frozenset({ErrorCode.EMAIL_REQUIRED, ErrorCode.MESSAGE_TOO_LONG})

# Errors after which the engine tries the same action again later rather than giving up on it.
RETRYABLE_ERRORS = frozenset({ErrorCode.TOO_MANY_REQUESTS, ErrorCode.OTHER})


@dataclass(frozen=True)
class ActionError:
    """An error as the activity log and the API show it: code, label, and the message to read."""

    code: ErrorCode
    message: str

    @property
    def label(self) -> str:
        return ERROR_LABELS[self.code]

    @classmethod
    def of(cls, code: ErrorCode, message: str | None = None) -> ActionError:
        """The error with the executor's message, or the standard explanation when there is none.

        `too_many_requests` always carries the rate-limit explanation, after LinkedIn's own words,
        exactly once: `of` applied to its own message gives the same message.
        """
        text = (message or "").strip()
        # Stored once, shown once: a message that already carries the explanation (as stored
        # errors do) is not explained again.
        if code is ErrorCode.TOO_MANY_REQUESTS and RATE_LIMIT_EXPLANATION not in text:
            text = f"{text} — {RATE_LIMIT_EXPLANATION}" if text else RATE_LIMIT_EXPLANATION
        return cls(code=code, message=text or ERROR_MEANINGS[code])
