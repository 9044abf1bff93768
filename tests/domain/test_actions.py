"""Which pending actions still make sense for a contact (SPEC §2: moot actions are skipped)."""

from __future__ import annotations

import pytest

from app.domain.actions import action_applies
from app.domain.errors import RATE_LIMIT_EXPLANATION, ActionError, ErrorCode
from app.domain.statuses import ActivityKind, CampaignType, ContactStatus
from app.domain.transitions import ContactState

K = ActivityKind
S = ContactStatus
CONNECTION = CampaignType.CONNECTION


def applies(
    kind: ActivityKind,
    status: ContactStatus,
    campaign_type: CampaignType = CONNECTION,
    *,
    step: int | None = None,
    muted: bool = False,
    replied: bool = False,
    sent: int = 0,
    invites: int = 0,
    max_reinvites: int = 0,
    email_required: bool = False,
) -> bool:
    state = ContactState(
        status, replied=replied, invites_sent=invites, email_required=email_required
    )
    return action_applies(
        kind,
        step=step,
        state=state,
        campaign_type=campaign_type,
        muted=muted,
        follow_ups_sent=sent,
        max_reinvites=max_reinvites,
    )


@pytest.mark.parametrize(
    ("kind", "status", "kw", "expected"),
    [
        (K.PROFILE_VISIT, S.NOT_VERIFIED, {}, True),
        (K.PROFILE_VISIT, S.NOT_CONNECTED, {}, False),  # visited meanwhile
        (K.PROFILE_VISIT, S.NOT_VERIFIED, {"muted": True}, False),
        (K.CONNECTION_REQUEST, S.NOT_CONNECTED, {}, True),
        (K.CONNECTION_REQUEST, S.INVITE_SENT, {}, False),  # the integration sent it
        (K.CONNECTION_REQUEST, S.NOT_CONNECTED, {"email_required": True}, False),
        (K.CONNECTION_REQUEST, S.NOT_CONNECTED, {"invites": 1}, False),  # no re-invite left
        (K.CONNECTION_REQUEST, S.NOT_CONNECTED, {"invites": 1, "max_reinvites": 1}, True),
        (K.FOLLOW_UP, S.INVITE_SENT, {"step": 1}, True),  # waiting for the acceptance
        (K.FOLLOW_UP, S.INVITE_SENT, {"step": 2}, False),
        (K.FOLLOW_UP, S.CONNECTED, {"step": 1}, True),
        (K.FOLLOW_UP, S.CONNECTED, {"step": 1, "sent": 1}, False),  # step 1 went out elsewhere
        (K.FOLLOW_UP, S.CONNECTED, {"step": 2, "sent": 1}, True),
        (K.FOLLOW_UP, S.CONNECTED, {"step": 2, "replied": True}, False),
        (K.FOLLOW_UP, S.WITHDRAWN, {"step": 1}, False),
        (K.WITHDRAW_INVITE, S.WITHDRAWN, {}, True),
        (K.WITHDRAW_INVITE, S.WITHDRAWN, {"muted": True}, True),  # cleanup goes out anyway
        (K.WITHDRAW_INVITE, S.CONNECTED, {}, False),  # accepted before it went out
    ],
)
def test_connection_campaign_actions(
    kind: ActivityKind, status: ContactStatus, kw: dict[str, object], expected: bool
) -> None:
    assert applies(kind, status, **kw) is expected  # type: ignore[arg-type]


def test_message_kinds_follow_the_campaign_type() -> None:
    assert applies(K.INMAIL, S.NOT_CONNECTED, CampaignType.INMAIL, step=1)
    assert not applies(K.FOLLOW_UP, S.NOT_CONNECTED, CampaignType.INMAIL, step=1)
    assert applies(K.GROUP_MESSAGE, S.NOT_CONNECTED, CampaignType.GROUPS_EVENTS, step=1)
    assert applies(K.FOLLOW_UP, S.CONNECTED, CampaignType.EXISTING_CONNECTIONS, step=1)
    assert not applies(K.CONNECTION_REQUEST, S.NOT_CONNECTED, CampaignType.INMAIL)


def test_the_rate_limit_explanation_is_stored_once_and_shown_once() -> None:
    stored = ActionError.of(ErrorCode.TOO_MANY_REQUESTS, "Weekly limit reached")
    assert stored.message.count(RATE_LIMIT_EXPLANATION) == 1
    shown = ActionError.of(ErrorCode.TOO_MANY_REQUESTS, stored.message)
    assert shown == stored
    assert ActionError.of(ErrorCode.TOO_MANY_REQUESTS).message == RATE_LIMIT_EXPLANATION
