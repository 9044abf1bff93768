"""What the engine does next: which cap each action counts against, retries, cooldowns, follow-up timing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from app.domain.errors import ErrorCode
from app.domain.pacing import CappedAction
from app.domain.statuses import ActivityKind, CampaignType, ContactStatus
from app.domain.transitions import ContactState, may_be_invited

CAP_OF: dict[ActivityKind, CappedAction] = {
    ActivityKind.PROFILE_VISIT: CappedAction.PROFILE_VISIT,
    ActivityKind.CONNECTION_REQUEST: CappedAction.INVITE,
    ActivityKind.FOLLOW_UP: CappedAction.FOLLOW_UP,
    ActivityKind.GROUP_MESSAGE: CappedAction.FOLLOW_UP,
    ActivityKind.INMAIL: CappedAction.INMAIL,
    ActivityKind.WITHDRAW_INVITE: CappedAction.WITHDRAWAL,
}
KINDS_OF: dict[CappedAction, tuple[ActivityKind, ...]] = {}
for _kind, _cap in CAP_OF.items():
    KINDS_OF[_cap] = (*KINDS_OF.get(_cap, ()), _kind)

MESSAGE_KIND: dict[CampaignType, ActivityKind] = {
    CampaignType.CONNECTION: ActivityKind.FOLLOW_UP,
    CampaignType.EXISTING_CONNECTIONS: ActivityKind.FOLLOW_UP,
    CampaignType.INMAIL: ActivityKind.INMAIL,
    CampaignType.GROUPS_EVENTS: ActivityKind.GROUP_MESSAGE,
}

MAX_ATTEMPTS = 4
BACKOFF = (timedelta(hours=1), timedelta(hours=4), timedelta(hours=16))
# How many days of a cap's capacity the engine keeps queued ahead as visible Pending actions.
QUEUE_HORIZON_DAYS = 7


def retry_at(
    code: ErrorCode, attempts: int, now: datetime, cooldown_until: datetime | None
) -> datetime | None:
    """When a failed action is tried again, or None when it is not (SPEC §2, errors table).

    `attempts` counts the attempts made so far, the failed one included.
    """
    if code is ErrorCode.TOO_MANY_REQUESTS:
        return cooldown_until or now + timedelta(days=1)
    if code is ErrorCode.OTHER and attempts < MAX_ATTEMPTS:
        return now + BACKOFF[min(attempts, len(BACKOFF)) - 1]
    return None


def cooldown_after_rate_limit(invites_last_week: Sequence[datetime], now: datetime) -> datetime:
    """After too_many_requests, invites wait until the oldest invite of the past 7 days leaves the
    rolling window (LinkedIn's weekly count then drops), or a day when there is none."""
    window = [t for t in invites_last_week if t > now - timedelta(days=7)]
    if not window:
        return now + timedelta(days=1)
    return max(min(window) + timedelta(days=7), now + timedelta(hours=1))


MESSAGE_KINDS = frozenset(MESSAGE_KIND.values())


def action_applies(
    kind: ActivityKind,
    *,
    step: int | None,
    state: ContactState,
    campaign_type: CampaignType,
    muted: bool,
    follow_ups_sent: int,
    max_reinvites: int,
) -> bool:
    """Whether a pending action of `kind` still makes sense for a contact in `state`.

    A pending action whose precondition is gone (the person replied, was muted, accepted before a
    withdrawal went out, the integration did it already) is moot: it is settled as skipped, never
    sent. Withdrawals are cleanup and go out even for a muted contact.
    """
    status = state.status
    if kind is ActivityKind.WITHDRAW_INVITE:
        return status is ContactStatus.WITHDRAWN
    if muted:
        return False
    if kind is ActivityKind.PROFILE_VISIT:
        return status is ContactStatus.NOT_VERIFIED
    if kind is ActivityKind.CONNECTION_REQUEST:
        return (
            campaign_type.sends_invites
            and status is ContactStatus.NOT_CONNECTED
            and may_be_invited(state, max_reinvites)
        )
    if kind in MESSAGE_KINDS:
        if state.replied or (step is not None and step <= follow_ups_sent):
            return False
        if kind is not MESSAGE_KIND[campaign_type]:
            return False
        if campaign_type is CampaignType.CONNECTION:
            # The first follow-up waits, Pending, for the invite to be accepted.
            return status is ContactStatus.CONNECTED or (
                status is ContactStatus.INVITE_SENT and step == 1
            )
        if campaign_type is CampaignType.EXISTING_CONNECTIONS:
            return status is ContactStatus.CONNECTED
        return status is ContactStatus.NOT_CONNECTED
    return False
