"""Application errors. No HTTP codes here: the web layer maps them (app/web/exception_handlers.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class AppError(Exception):
    """Base of every error a user or client can act on."""

    title = "Request failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(AppError):
    title = "Not found"


class Conflict(AppError):
    """The request clashes with the current state. `code` names the clash for machines (`moot`:
    a result for an action a change made unnecessary while it was out)."""

    title = "Conflict"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.code = code


class Gone(AppError):
    """What was asked for existed once and was removed for good (events past retention)."""

    title = "Gone"


class Forbidden(AppError):
    title = "Forbidden"


class Unauthorized(AppError):
    title = "Unauthorized"


class ValidationFailed(AppError):
    """Input that parsed but breaks a rule; `errors` maps a field path to what to fix."""

    title = "Validation failed"

    def __init__(self, detail: str, errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(detail)
        self.errors = {k: list(v) for k, v in (errors or {}).items()}


class ImportRejected(AppError):
    """A CSV file refused whole: empty, not text, no profile-URL column."""

    title = "Import refused"


class PayloadTooLarge(AppError):
    title = "Payload too large"


class RateLimited(AppError):
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class LoginRequired(AppError):
    """No live session: pages redirect to the sign-in form (or to `location`: the account page
    while an admin's password reset waits for a new password)."""

    title = "Sign in required"

    def __init__(self, detail: str, *, location: str | None = None) -> None:
        super().__init__(detail)
        self.location = location
