"""The sandbox: a deterministic simulated LinkedIn, so the product runs and demos with no account.

Everything about a person is derived from a hash of their profile URL, so a run is reproducible:
their connection degree, whether they require an email to connect (a few percent), whether and how
fast they accept an invitation (most within days, some never), whether they reply. LinkedIn's own
weekly invitation limit is hidden and lower than the sender's configured cap: exceeding it answers
`too_many_requests`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.errors import ErrorCode
from app.domain.statuses import ActivityKind

HIDDEN_WEEKLY_INVITE_LIMIT = 80


def _unit(url: str, salt: str) -> float:
    """A stable number in [0, 1) for this person and this question."""
    digest = hashlib.blake2b(f"{salt}:{url}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class SandboxPerson:
    url: str

    @property
    def degree(self) -> int:
        u = _unit(self.url, "degree")
        return 1 if u < 0.08 else 2 if u < 0.7 else 3

    @property
    def requires_email(self) -> bool:
        return _unit(self.url, "email") < 0.04

    @property
    def accepts(self) -> bool:
        return _unit(self.url, "accepts") < 0.55

    @property
    def acceptance_delay(self) -> timedelta:
        """Most accept within days; a long tail takes weeks (and then the invite is withdrawn)."""
        u = _unit(self.url, "delay")
        hours = 2 + 24 * 30 * u**3
        return timedelta(hours=hours)

    @property
    def replies(self) -> bool:
        return _unit(self.url, "replies") < 0.3

    @property
    def reply_delay(self) -> timedelta:
        return timedelta(hours=1 + 72 * _unit(self.url, "reply-delay"))

    @property
    def message_fails(self) -> bool:
        return _unit(self.url, "message-fails") < 0.02


@dataclass(frozen=True)
class SandboxOutcome:
    """What LinkedIn answered to one action."""

    success: bool
    degree: int | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None


def perform(kind: ActivityKind, url: str, *, invites_last_week: int) -> SandboxOutcome:
    """Carry out one action for the sender. `invites_last_week` is what LinkedIn has counted."""
    person = SandboxPerson(url)
    if kind is ActivityKind.PROFILE_VISIT:
        return SandboxOutcome(success=True, degree=person.degree)
    if kind is ActivityKind.CONNECTION_REQUEST:
        if invites_last_week >= HIDDEN_WEEKLY_INVITE_LIMIT:
            return SandboxOutcome(
                success=False,
                error_code=ErrorCode.TOO_MANY_REQUESTS,
                error_message="You've reached the weekly invitation limit",
            )
        if person.requires_email:
            return SandboxOutcome(
                success=False,
                error_code=ErrorCode.EMAIL_REQUIRED,
                error_message="To connect, enter this member's email address",
            )
        return SandboxOutcome(success=True)
    if kind in (ActivityKind.FOLLOW_UP, ActivityKind.INMAIL, ActivityKind.GROUP_MESSAGE):
        if person.message_fails:
            return SandboxOutcome(
                success=False,
                error_code=ErrorCode.OTHER,
                error_message="Recipient cannot be messaged",
            )
        return SandboxOutcome(success=True)
    return SandboxOutcome(success=True)


def accepted_at(url: str, invited_at: datetime) -> datetime | None:
    """When this person accepts an invitation sent at `invited_at`, or None if they never do."""
    person = SandboxPerson(url)
    return invited_at + person.acceptance_delay if person.accepts else None


def replied_at(url: str, messaged_at: datetime) -> datetime | None:
    person = SandboxPerson(url)
    return messaged_at + person.reply_delay if person.replies else None
