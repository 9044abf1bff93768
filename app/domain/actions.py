"""What the engine does next: which cap each action counts against, retries, cooldowns, follow-up timing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from app.domain.errors import ErrorCode
from app.domain.pacing import CappedAction
from app.domain.statuses import ActivityKind, CampaignType

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


def first_message_kind(campaign_type: CampaignType) -> ActivityKind:
    return MESSAGE_KIND[campaign_type]
