"""The contact life cycle (SPEC §2 "Campaign types", "Statuses", "Transitions", "Errors"; §3 timing).

The expected outcomes below are written out by hand from the SPEC, never computed by the code under
test. States that a campaign type can never reach (e.g. `invite_sent` in an InMail campaign) are still
covered: the domain must not move them anywhere the SPEC forbids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import RATE_LIMIT_EXPLANATION, ActionError, ErrorCode
from app.domain.statuses import CampaignType, ContactSource, ContactStatus
from app.domain.transitions import (
    ContactEvent,
    ContactState,
    Counted,
    EventDetail,
    InvalidTransition,
    counted_as,
    initial_status,
    may_be_invited,
    reinvites_left,
    transition,
)

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

NV = ContactStatus.NOT_VERIFIED
NC = ContactStatus.NOT_CONNECTED
IS = ContactStatus.INVITE_SENT
CO = ContactStatus.CONNECTED
WD = ContactStatus.WITHDRAWN
X = "invalid"

CONNECTION = CampaignType.CONNECTION
EXISTING = CampaignType.EXISTING_CONNECTIONS
INMAIL = CampaignType.INMAIL
GROUPS = CampaignType.GROUPS_EVENTS

E = ContactEvent


# --------------------------------------------------------------------------------------------------
# The exhaustive matrix: 5 statuses × 9 events × 4 campaign types (profile_visited twice: degree 1, 2)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One column of the table: an event and the detail it carries."""

    name: str
    event: ContactEvent
    detail: EventDetail


COLUMNS: tuple[Case, ...] = (
    Case("visited_1st", E.PROFILE_VISITED, EventDetail(degree=1)),
    Case("visited_2nd", E.PROFILE_VISITED, EventDetail(degree=2)),
    Case("invite_sent", E.INVITE_SENT, EventDetail()),
    Case("accepted", E.INVITE_ACCEPTED, EventDetail()),
    Case("withdrawn_by_hand", E.INVITE_WITHDRAWN, EventDetail()),
    Case("message_sent", E.MESSAGE_SENT, EventDetail()),
    Case("reply", E.REPLY_RECEIVED, EventDetail()),
    Case(
        "failed",
        E.ACTION_FAILED,
        EventDetail(error_code=ErrorCode.OTHER, error_message="Something broke"),
    ),
    Case("expired", E.INVITE_EXPIRED, EventDetail()),
    Case("reinvite", E.REINVITE_ALLOWED, EventDetail()),
)

# fmt: off
#                  visited  visited  invite   accepted  withdrawn message  reply  failed  expired  reinvite
#                  1st      2nd      sent               by hand   sent
EXPECTED: dict[CampaignType, dict[ContactStatus, tuple[object, ...]]] = {
    # Full life cycle (SPEC §2 "Transitions"); message/reply/failure do not change the status.
    CONNECTION: {
        NV:       (CO,      NC,      X,       X,        X,        X,       X,     NV,     X,       X),
        NC:       (X,       X,       IS,      X,        X,        X,       NC,    NC,     X,       X),
        IS:       (X,       X,       X,       CO,       WD,       X,       IS,    IS,     WD,      X),
        CO:       (X,       X,       X,       X,        X,        CO,      CO,    CO,     X,       X),
        WD:       (X,       X,       X,       X,        X,        X,       WD,    WD,     X,       NC),
    },
    # Always connected, whatever is sent; no invitation cycle at all.
    EXISTING: {
        NV:       (CO,      CO,      X,       X,        X,        X,       X,     NV,     X,       X),
        NC:       (X,       X,       X,       X,        X,        X,       NC,    NC,     X,       X),
        IS:       (X,       X,       X,       X,        X,        X,       IS,    IS,     X,       X),
        CO:       (X,       X,       X,       X,        X,        CO,      CO,    CO,     X,       X),
        WD:       (X,       X,       X,       X,        X,        X,       WD,    WD,     X,       X),
    },
    # Always not_connected once verified (even a 1st-level profile); no invite is ever sent.
    INMAIL: {
        NV:       (NC,      NC,      X,       X,        X,        X,       X,     NV,     X,       X),
        NC:       (X,       X,       X,       X,        X,        NC,      NC,    NC,     X,       X),
        IS:       (X,       X,       X,       X,        X,        X,       IS,    IS,     X,       X),
        CO:       (X,       X,       X,       X,        X,        X,       CO,    CO,     X,       X),
        WD:       (X,       X,       X,       X,        X,        X,       WD,    WD,     X,       X),
    },
    GROUPS: {
        NV:       (NC,      NC,      X,       X,        X,        X,       X,     NV,     X,       X),
        NC:       (X,       X,       X,       X,        X,        NC,      NC,    NC,     X,       X),
        IS:       (X,       X,       X,       X,        X,        X,       IS,    IS,     X,       X),
        CO:       (X,       X,       X,       X,        X,        X,       CO,    CO,     X,       X),
        WD:       (X,       X,       X,       X,        X,        X,       WD,    WD,     X,       X),
    },
}
# fmt: on

LONG_AGO = NOW - 30 * DAY  # older than both the 20-day withdrawal and the 3-week re-invite rules

# A plausible state for each status, with instants that satisfy every time rule at NOW.
STATES: dict[ContactStatus, ContactState] = {
    NV: ContactState(NV, status_changed_at=LONG_AGO),
    NC: ContactState(NC, status_changed_at=LONG_AGO),
    IS: ContactState(IS, status_changed_at=LONG_AGO, invited_at=LONG_AGO, invites_sent=1),
    CO: ContactState(
        CO,
        status_changed_at=LONG_AGO,
        invited_at=LONG_AGO - 5 * DAY,
        connected_at=LONG_AGO,
        invites_sent=1,
    ),
    WD: ContactState(
        WD,
        status_changed_at=LONG_AGO,
        invited_at=LONG_AGO - 20 * DAY,
        withdrawn_at=LONG_AGO,
        invites_sent=1,
    ),
}

MATRIX = [
    pytest.param(
        campaign_type,
        status,
        column,
        EXPECTED[campaign_type][status][i],
        id=f"{campaign_type.value}-{status.value}-{column.name}",
    )
    for campaign_type in CampaignType
    for status in ContactStatus
    for i, column in enumerate(COLUMNS)
]


def test_the_table_covers_every_status_event_and_campaign_type() -> None:
    assert set(EXPECTED) == set(CampaignType)
    for rows in EXPECTED.values():
        assert set(rows) == set(ContactStatus)
        assert all(len(row) == len(COLUMNS) for row in rows.values())
    assert {c.event for c in COLUMNS} == set(ContactEvent)
    triples = {(t, s, c.event) for t in CampaignType for s in ContactStatus for c in COLUMNS}
    assert len(triples) == 5 * 9 * 4


@pytest.mark.parametrize(("campaign_type", "status", "column", "expected"), MATRIX)
def test_transition_matrix(
    campaign_type: CampaignType, status: ContactStatus, column: Case, expected: object
) -> None:
    state = STATES[status]
    # One re-invite allowed: the reinvite column is about the time rule (max_reinvites is below).
    if expected == X:
        with pytest.raises(InvalidTransition) as info:
            transition(
                state, column.event, campaign_type, now=NOW, detail=column.detail, max_reinvites=1
            )
        assert info.value.status is status
        assert info.value.event is column.event
        assert info.value.campaign_type is campaign_type
    else:
        after = transition(
            state, column.event, campaign_type, now=NOW, detail=column.detail, max_reinvites=1
        )
        assert after.status is expected


# --------------------------------------------------------------------------------------------------
# Events missing the detail they need
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("campaign_type", list(CampaignType))
@pytest.mark.parametrize("detail", [None, EventDetail(), EventDetail(degree=0)])
def test_profile_visited_needs_a_degree(
    campaign_type: CampaignType, detail: EventDetail | None
) -> None:
    with pytest.raises(InvalidTransition):
        transition(STATES[NV], E.PROFILE_VISITED, campaign_type, now=NOW, detail=detail)


def test_third_degree_visit_is_not_connected_in_a_connection_campaign() -> None:
    after = transition(STATES[NV], E.PROFILE_VISITED, CONNECTION, now=NOW, detail=EventDetail(3))
    assert after.status is NC


@pytest.mark.parametrize("status", list(ContactStatus))
def test_action_failed_needs_an_error_code(status: ContactStatus) -> None:
    with pytest.raises(InvalidTransition):
        transition(STATES[status], E.ACTION_FAILED, CONNECTION, now=NOW, detail=EventDetail())


# --------------------------------------------------------------------------------------------------
# Time rules (SPEC §2 table, §3): 20 days (configurable) before the system withdraws; 3 weeks to reinvite
# --------------------------------------------------------------------------------------------------

INVITED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SENT = ContactState(IS, status_changed_at=INVITED, invited_at=INVITED)


@pytest.mark.parametrize(
    "age",
    [
        timedelta(0),
        timedelta(days=10),
        timedelta(days=19, hours=23),
        timedelta(days=19, hours=23, minutes=59, seconds=59),
        timedelta(days=20) - timedelta(microseconds=1),
    ],
)
def test_invite_younger_than_20_days_cannot_expire(age: timedelta) -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(SENT, E.INVITE_EXPIRED, CONNECTION, now=INVITED + age)
    assert info.value.status is IS
    assert info.value.event is E.INVITE_EXPIRED
    assert "20" in str(info.value)


@pytest.mark.parametrize("age", [timedelta(days=20), timedelta(days=20, seconds=1), 45 * DAY])
def test_invite_expires_from_20_days(age: timedelta) -> None:
    after = transition(SENT, E.INVITE_EXPIRED, CONNECTION, now=INVITED + age)
    assert after.status is WD
    assert after.withdrawn_at == INVITED + age


@pytest.mark.parametrize("days", [1, 7, 14, 30, 60])
def test_custom_withdraw_after_days(days: int) -> None:
    due = INVITED + timedelta(days=days)
    with pytest.raises(InvalidTransition):
        transition(
            SENT,
            E.INVITE_EXPIRED,
            CONNECTION,
            now=due - timedelta(seconds=1),
            withdraw_after_days=days,
        )
    after = transition(SENT, E.INVITE_EXPIRED, CONNECTION, now=due, withdraw_after_days=days)
    assert after.status is WD


def test_custom_withdraw_after_30_days_keeps_a_20_day_old_invite() -> None:
    with pytest.raises(InvalidTransition):
        transition(
            SENT, E.INVITE_EXPIRED, CONNECTION, now=INVITED + 20 * DAY, withdraw_after_days=30
        )


@pytest.mark.parametrize("age", [timedelta(0), timedelta(minutes=5), 3 * DAY])
def test_withdrawal_by_hand_has_no_time_rule(age: timedelta) -> None:
    after = transition(SENT, E.INVITE_WITHDRAWN, CONNECTION, now=INVITED + age)
    assert after.status is WD
    assert after.withdrawn_at == INVITED + age


WITHDRAWN_AT = INVITED + 20 * DAY
WITHDRAWN = ContactState(
    WD,
    status_changed_at=WITHDRAWN_AT,
    invited_at=INVITED,
    withdrawn_at=WITHDRAWN_AT,
    invites_sent=1,
)


@pytest.mark.parametrize(
    "age",
    [
        timedelta(0),
        timedelta(days=14),
        timedelta(days=20),
        timedelta(weeks=3) - timedelta(seconds=1),
        timedelta(weeks=3) - timedelta(microseconds=1),
    ],
)
def test_reinvite_not_allowed_before_3_weeks(age: timedelta) -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(
            WITHDRAWN, E.REINVITE_ALLOWED, CONNECTION, now=WITHDRAWN_AT + age, max_reinvites=1
        )
    assert info.value.status is WD
    assert info.value.event is E.REINVITE_ALLOWED


@pytest.mark.parametrize("age", [timedelta(weeks=3), timedelta(days=21, hours=1), 90 * DAY])
def test_reinvite_allowed_from_3_weeks(age: timedelta) -> None:
    after = transition(
        WITHDRAWN, E.REINVITE_ALLOWED, CONNECTION, now=WITHDRAWN_AT + age, max_reinvites=1
    )
    assert after.status is NC
    assert after.status_changed_at == WITHDRAWN_AT + age


def test_withdrawn_contact_can_be_invited_again_after_reinvite() -> None:
    again = transition(
        WITHDRAWN, E.REINVITE_ALLOWED, CONNECTION, now=WITHDRAWN_AT + 21 * DAY, max_reinvites=1
    )
    later = WITHDRAWN_AT + 22 * DAY
    invited = transition(again, E.INVITE_SENT, CONNECTION, now=later, max_reinvites=1)
    assert invited.status is IS
    assert invited.invited_at == later
    assert invited.invites_sent == 2


@pytest.mark.parametrize("max_reinvites", [0, 1, 2, 3])
def test_max_reinvites_caps_how_often_one_person_is_invited(max_reinvites: int) -> None:
    """SPEC §2: a campaign's max_reinvites (0–3) caps re-invites per contact; with none left the
    contact stays withdrawn."""
    state = ContactState(NC, status_changed_at=NOW)
    now = NOW
    invites = 0
    while True:
        now += DAY
        state = transition(state, E.INVITE_SENT, CONNECTION, now=now, max_reinvites=max_reinvites)
        invites += 1
        now += 21 * DAY
        state = transition(state, E.INVITE_EXPIRED, CONNECTION, now=now)
        now += 22 * DAY
        try:
            state = transition(
                state, E.REINVITE_ALLOWED, CONNECTION, now=now, max_reinvites=max_reinvites
            )
        except InvalidTransition as exc:
            assert "none is left" in str(exc)
            break
        assert invites <= max_reinvites
    assert invites == max_reinvites + 1
    assert state.status is WD
    assert state.invites_sent == invites
    assert reinvites_left(state, max_reinvites) == 0
    assert not may_be_invited(state, max_reinvites)


# SPEC §2 error matrix: email_required and message_too_long only for a connection request, which
# goes only to a not-connected contact of a connection campaign; the others for any action.
@pytest.mark.parametrize("campaign_type", list(CampaignType))
@pytest.mark.parametrize("status", list(ContactStatus))
@pytest.mark.parametrize("code", list(ErrorCode))
def test_error_matrix(campaign_type: CampaignType, status: ContactStatus, code: ErrorCode) -> None:
    allowed = code in (ErrorCode.TOO_MANY_REQUESTS, ErrorCode.OTHER) or (
        campaign_type is CONNECTION and status is NC
    )
    detail = EventDetail(error_code=code)
    if allowed:
        after = transition(STATES[status], E.ACTION_FAILED, campaign_type, now=NOW, detail=detail)
        assert after.last_error is not None and after.last_error.code is code
    else:
        with pytest.raises(InvalidTransition, match="only to a connection request"):
            transition(STATES[status], E.ACTION_FAILED, campaign_type, now=NOW, detail=detail)


@pytest.mark.parametrize(
    ("status", "invites_sent", "replied", "counted"),
    [
        (NV, 0, False, set()),
        (NC, 0, False, set()),
        (IS, 1, False, {Counted.INVITED}),
        (CO, 1, True, {Counted.INVITED, Counted.ACCEPTED, Counted.REPLIED}),
        (CO, 0, False, {Counted.ALREADY_CONNECTED}),
        (CO, 0, True, {Counted.ALREADY_CONNECTED, Counted.REPLIED}),
        (WD, 2, False, {Counted.INVITED}),
        (NC, 1, False, {Counted.INVITED}),
    ],
)
def test_acceptance_counts_leave_the_already_connected_apart(
    status: ContactStatus, invites_sent: int, replied: bool, counted: set[Counted]
) -> None:
    """SPEC §2 "Acceptance rate": accepted ÷ invited; already connected in neither number."""
    assert counted_as(status, invites_sent, replied) == counted


# --------------------------------------------------------------------------------------------------
# InvalidTransition: a clear error
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "event", "campaign_type"),
    [
        (NV, E.INVITE_SENT, CONNECTION),
        (CO, E.INVITE_ACCEPTED, CONNECTION),
        (NC, E.INVITE_SENT, INMAIL),
        (NC, E.INVITE_SENT, GROUPS),
        (CO, E.INVITE_WITHDRAWN, EXISTING),
        (WD, E.INVITE_EXPIRED, CONNECTION),
        (NV, E.MESSAGE_SENT, CONNECTION),
    ],
)
def test_invalid_transition_names_status_event_and_campaign_type(
    status: ContactStatus, event: ContactEvent, campaign_type: CampaignType
) -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(STATES[status], event, campaign_type, now=NOW)
    exc = info.value
    assert exc.status is status
    assert exc.event is event
    assert exc.campaign_type is campaign_type
    assert isinstance(exc.why, str)
    text = str(exc)
    assert status.value in text
    assert event.value in text
    assert campaign_type.value in text
    if exc.why:
        assert exc.why in text


def test_invalid_transition_can_be_built_without_a_reason() -> None:
    exc = InvalidTransition(IS, E.REINVITE_ALLOWED, GROUPS)
    assert exc.why == ""
    for value in ("invite_sent", "reinvite_allowed", "groups_events"):
        assert value in str(exc)


def test_a_refused_transition_leaves_the_state_untouched() -> None:
    state = STATES[NV]
    with pytest.raises(InvalidTransition):
        transition(state, E.INVITE_SENT, CONNECTION, now=NOW)
    assert state == ContactState(NV, status_changed_at=LONG_AGO)


# --------------------------------------------------------------------------------------------------
# Timestamps, last error, replied
# --------------------------------------------------------------------------------------------------


def test_visit_not_first_level_sets_status_changed_at_only() -> None:
    after = transition(
        ContactState(NV), E.PROFILE_VISITED, CONNECTION, now=NOW, detail=EventDetail(degree=2)
    )
    assert after == ContactState(NC, status_changed_at=NOW)


def test_visit_first_level_sets_connected_at() -> None:
    after = transition(
        ContactState(NV), E.PROFILE_VISITED, CONNECTION, now=NOW, detail=EventDetail(degree=1)
    )
    assert after.status is CO
    assert after.connected_at == NOW
    assert after.status_changed_at == NOW
    assert after.invited_at is None
    assert after.withdrawn_at is None


def test_visit_in_existing_connections_campaign_sets_connected_at() -> None:
    after = transition(
        ContactState(NV), E.PROFILE_VISITED, EXISTING, now=NOW, detail=EventDetail(degree=2)
    )
    assert after.status is CO
    assert after.connected_at is not None
    assert after.status_changed_at == NOW


def test_full_cycle_timestamps() -> None:
    t0 = datetime(2025, 1, 6, 8, tzinfo=UTC)
    s = ContactState(NV, status_changed_at=t0)

    t1 = t0 + timedelta(hours=2)
    s = transition(s, E.PROFILE_VISITED, CONNECTION, now=t1, detail=EventDetail(degree=2))
    assert (s.status, s.status_changed_at) == (NC, t1)

    t2 = t1 + DAY
    s = transition(s, E.INVITE_SENT, CONNECTION, now=t2)
    assert (s.status, s.status_changed_at, s.invited_at) == (IS, t2, t2)
    assert s.connected_at is None

    t3 = t2 + 3 * DAY
    s = transition(s, E.INVITE_ACCEPTED, CONNECTION, now=t3)
    assert (s.status, s.status_changed_at, s.connected_at) == (CO, t3, t3)
    assert s.invited_at == t2  # history kept

    t4 = t3 + DAY
    s2 = transition(s, E.MESSAGE_SENT, CONNECTION, now=t4)
    assert s2.status is CO
    assert s2.status_changed_at == t3  # not a status change


def test_withdrawal_sets_withdrawn_at_and_keeps_invited_at() -> None:
    t = INVITED + 25 * DAY
    for event in (E.INVITE_WITHDRAWN, E.INVITE_EXPIRED):
        after = transition(SENT, event, CONNECTION, now=t)
        assert after.status is WD
        assert after.withdrawn_at == t
        assert after.status_changed_at == t
        assert after.invited_at == INVITED
        assert after.connected_at is None


@pytest.mark.parametrize(
    ("status", "event"),
    [(NC, E.REPLY_RECEIVED), (NC, E.ACTION_FAILED), (IS, E.ACTION_FAILED), (CO, E.REPLY_RECEIVED)],
)
def test_events_that_keep_the_status_keep_status_changed_at(
    status: ContactStatus, event: ContactEvent
) -> None:
    state = STATES[status]
    detail = EventDetail(error_code=ErrorCode.OTHER)
    after = transition(state, event, CONNECTION, now=NOW, detail=detail)
    assert after.status is status
    assert after.status_changed_at == state.status_changed_at


@pytest.mark.parametrize("code", list(ErrorCode))
def test_action_failed_records_the_error(code: ErrorCode) -> None:
    state = STATES[NC]
    after = transition(
        state,
        E.ACTION_FAILED,
        CONNECTION,
        now=NOW,
        detail=EventDetail(error_code=code, error_message="LinkedIn said no"),
    )
    assert after.status is NC
    assert after.last_error is not None
    assert after.last_error.code is code
    assert after.last_error == ActionError.of(code, "LinkedIn said no")


def test_last_error_is_cleared_by_the_next_successful_status_change() -> None:
    failed = transition(
        STATES[NC],
        E.ACTION_FAILED,
        CONNECTION,
        now=NOW,
        detail=EventDetail(error_code=ErrorCode.TOO_MANY_REQUESTS),
    )
    assert failed.last_error is not None
    replied = transition(failed, E.REPLY_RECEIVED, CONNECTION, now=NOW + DAY)
    assert replied.last_error == failed.last_error  # not a status change
    invited = transition(replied, E.INVITE_SENT, CONNECTION, now=NOW + 2 * DAY)
    assert invited.status is IS
    assert invited.last_error is None


def test_a_newer_error_replaces_the_last_one() -> None:
    first = transition(
        STATES[IS],
        E.ACTION_FAILED,
        CONNECTION,
        now=NOW,
        detail=EventDetail(error_code=ErrorCode.OTHER, error_message="timeout"),
    )
    second = transition(
        first,
        E.ACTION_FAILED,
        CONNECTION,
        now=NOW + DAY,
        detail=EventDetail(error_code=ErrorCode.TOO_MANY_REQUESTS),
    )
    assert second.last_error is not None
    assert second.last_error.code is ErrorCode.TOO_MANY_REQUESTS


@pytest.mark.parametrize("status", [NC, IS, CO, WD])
def test_reply_received_sets_replied(status: ContactStatus) -> None:
    after = transition(STATES[status], E.REPLY_RECEIVED, CONNECTION, now=NOW)
    assert after.replied is True
    assert after.status is status
    again = transition(after, E.REPLY_RECEIVED, CONNECTION, now=NOW + DAY)
    assert again.replied is True


def test_replied_survives_later_status_changes() -> None:
    s = transition(STATES[IS], E.REPLY_RECEIVED, CONNECTION, now=NOW)
    s = transition(s, E.INVITE_ACCEPTED, CONNECTION, now=NOW + DAY)
    assert s.status is CO
    assert s.replied is True


EMAIL_REQUIRED = EventDetail(error_code=ErrorCode.EMAIL_REQUIRED, error_message="Enter email")


def test_email_required_blocks_invite_sent() -> None:
    blocked = transition(STATES[NC], E.ACTION_FAILED, CONNECTION, now=NOW, detail=EMAIL_REQUIRED)
    assert blocked.last_error is not None
    assert blocked.last_error.label == "Email required"
    with pytest.raises(InvalidTransition) as info:
        transition(blocked, E.INVITE_SENT, CONNECTION, now=NOW + DAY)
    assert info.value.status is NC
    assert info.value.event is E.INVITE_SENT


def test_email_required_still_blocks_after_a_reply() -> None:
    blocked = transition(STATES[NC], E.ACTION_FAILED, CONNECTION, now=NOW, detail=EMAIL_REQUIRED)
    replied = transition(blocked, E.REPLY_RECEIVED, CONNECTION, now=NOW + DAY)
    with pytest.raises(InvalidTransition):
        transition(replied, E.INVITE_SENT, CONNECTION, now=NOW + 2 * DAY)


def test_email_required_still_blocks_after_a_later_different_error() -> None:
    blocked = transition(STATES[NC], E.ACTION_FAILED, CONNECTION, now=NOW, detail=EMAIL_REQUIRED)
    other = transition(
        blocked,
        E.ACTION_FAILED,
        CONNECTION,
        now=NOW + DAY,
        detail=EventDetail(error_code=ErrorCode.OTHER, error_message="timeout"),
    )
    with pytest.raises(InvalidTransition):
        transition(other, E.INVITE_SENT, CONNECTION, now=NOW + 2 * DAY)


@pytest.mark.parametrize(
    "code", [ErrorCode.MESSAGE_TOO_LONG, ErrorCode.TOO_MANY_REQUESTS, ErrorCode.OTHER]
)
def test_other_errors_do_not_block_a_later_invite(code: ErrorCode) -> None:
    failed = transition(
        STATES[NC], E.ACTION_FAILED, CONNECTION, now=NOW, detail=EventDetail(error_code=code)
    )
    invited = transition(failed, E.INVITE_SENT, CONNECTION, now=NOW + DAY)
    assert invited.status is IS
    assert invited.last_error is None


# --------------------------------------------------------------------------------------------------
# initial_status
# --------------------------------------------------------------------------------------------------

# fmt: off
INITIAL: dict[CampaignType, dict[ContactSource, ContactStatus]] = {
    #            csv  api  integration  search
    CONNECTION: {ContactSource.CSV: NV, ContactSource.API: NV, ContactSource.INTEGRATION: NV,
                 ContactSource.SEARCH: NC},
    EXISTING:   {ContactSource.CSV: CO, ContactSource.API: CO, ContactSource.INTEGRATION: CO,
                 ContactSource.SEARCH: CO},
    INMAIL:     {ContactSource.CSV: NV, ContactSource.API: NV, ContactSource.INTEGRATION: NV,
                 ContactSource.SEARCH: NC},
    GROUPS:     {ContactSource.CSV: NV, ContactSource.API: NV, ContactSource.INTEGRATION: NV,
                 ContactSource.SEARCH: NC},
}
# fmt: on


@pytest.mark.parametrize(
    ("campaign_type", "source", "expected"),
    [
        pytest.param(t, s, INITIAL[t][s], id=f"{t.value}-{s.value}")
        for t in CampaignType
        for s in ContactSource
    ],
)
def test_initial_status(
    campaign_type: CampaignType, source: ContactSource, expected: ContactStatus
) -> None:
    assert initial_status(campaign_type, source) is expected


# --------------------------------------------------------------------------------------------------
# ActionError.of (SPEC §2 "Errors on not-connected contacts")
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (ErrorCode.EMAIL_REQUIRED, "Email required"),
        (ErrorCode.MESSAGE_TOO_LONG, "Connection message length"),
        (ErrorCode.TOO_MANY_REQUESTS, "Error"),
        (ErrorCode.OTHER, "Error"),
    ],
)
def test_error_labels(code: ErrorCode, label: str) -> None:
    assert ActionError.of(code).label == label
    assert ActionError.of(code, "executor text").label == label


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_has_a_message_to_read(code: ErrorCode) -> None:
    for given_message in (None, "", "   "):
        error = ActionError.of(code, given_message)
        assert error.code is code
        assert error.message.strip()


@pytest.mark.parametrize("given_message", [None, "", "  "])
def test_too_many_requests_explains_the_rate_limit(given_message: str | None) -> None:
    error = ActionError.of(ErrorCode.TOO_MANY_REQUESTS, given_message)
    assert error.label == "Error"
    assert RATE_LIMIT_EXPLANATION in error.message
    assert "weekly" in error.message.lower()
    assert "limit" in error.message.lower()


def test_too_many_requests_keeps_the_executors_message_and_adds_the_explanation() -> None:
    error = ActionError.of(ErrorCode.TOO_MANY_REQUESTS, "  Too many requests (429)  ")
    assert error.label == "Error"
    assert "Too many requests (429)" in error.message
    assert RATE_LIMIT_EXPLANATION in error.message


def test_other_error_carries_the_executors_message() -> None:
    error = ActionError.of(ErrorCode.OTHER, "Profile unavailable")
    assert error.label == "Error"
    assert error.message == "Profile unavailable"


def test_too_many_requests_through_action_failed() -> None:
    after = transition(
        STATES[NC],
        E.ACTION_FAILED,
        CONNECTION,
        now=NOW,
        detail=EventDetail(error_code=ErrorCode.TOO_MANY_REQUESTS, error_message="Slow down"),
    )
    assert after.last_error is not None
    assert after.last_error.label == "Error"
    assert "Slow down" in after.last_error.message
    assert RATE_LIMIT_EXPLANATION in after.last_error.message


# --------------------------------------------------------------------------------------------------
# Properties over random event sequences
# --------------------------------------------------------------------------------------------------

# Status-changing edges the SPEC allows, per campaign type. Every status may also stay where it is
# (messages, replies and failures do not change the status).
SELF_LOOPS = {(s, s) for s in ContactStatus}
ALLOWED_EDGES: dict[CampaignType, set[tuple[ContactStatus, ContactStatus]]] = {
    CONNECTION: SELF_LOOPS | {(NV, NC), (NV, CO), (NC, IS), (IS, CO), (IS, WD), (WD, NC)},
    EXISTING: SELF_LOOPS | {(NV, CO)},
    INMAIL: SELF_LOOPS | {(NV, NC)},
    GROUPS: SELF_LOOPS | {(NV, NC)},
}

details = st.builds(
    EventDetail,
    degree=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    error_code=st.one_of(st.none(), st.sampled_from(list(ErrorCode))),
    error_message=st.one_of(st.none(), st.text(max_size=20)),
)
gaps = st.one_of(
    st.integers(min_value=1, max_value=3 * 86_400).map(lambda s: timedelta(seconds=s)),
    st.integers(min_value=1, max_value=25).map(lambda d: timedelta(days=d)),
    st.sampled_from(
        [timedelta(days=20), timedelta(weeks=3), timedelta(days=20) - timedelta(seconds=1)]
    ),
)
# Mostly well-formed details for the events that need one, sometimes a malformed one.
DETAILS_FOR: dict[ContactEvent, st.SearchStrategy[EventDetail]] = {
    E.PROFILE_VISITED: st.one_of(
        st.sampled_from([1, 2, 2, 3]).map(lambda d: EventDetail(degree=d)), details
    ),
    E.ACTION_FAILED: st.one_of(
        st.builds(
            EventDetail,
            error_code=st.sampled_from(list(ErrorCode)),
            error_message=st.one_of(st.none(), st.text(max_size=20)),
        ),
        details,
    ),
}
step = st.sampled_from(list(ContactEvent)).flatmap(
    lambda event: st.tuples(st.just(event), DETAILS_FOR.get(event, details), gaps)
)
steps = st.lists(step, min_size=5, max_size=40)
START = datetime(2025, 1, 1, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@dataclass(frozen=True)
class Step:
    before: ContactState
    event: ContactEvent
    detail: EventDetail
    now: datetime
    after: ContactState


def run(
    state: ContactState,
    campaign_type: CampaignType,
    sequence: list[tuple[ContactEvent, EventDetail, timedelta]],
    withdraw_after_days: int = 20,
) -> list[Step]:
    """Apply the events at increasing instants, skipping those the domain refuses."""
    applied = []
    now = START
    for event, detail, gap in sequence:
        now += gap
        try:
            after = transition(
                state,
                event,
                campaign_type,
                now=now,
                detail=detail,
                withdraw_after_days=withdraw_after_days,
            )
        except InvalidTransition:
            continue
        applied.append(Step(state, event, detail, now, after))
        state = after
    return applied


def fresh(campaign_type: CampaignType, source: ContactSource) -> ContactState:
    return ContactState(initial_status(campaign_type, source), status_changed_at=START)


@PROPERTY_SETTINGS
@given(source=st.sampled_from(list(ContactSource)), sequence=steps)
def test_existing_connections_contact_is_always_connected(
    source: ContactSource, sequence: list[tuple[ContactEvent, EventDetail, timedelta]]
) -> None:
    state = fresh(EXISTING, source)
    assert state.status is CO
    for step in run(state, EXISTING, sequence):
        assert step.after.status is CO


@PROPERTY_SETTINGS
@given(
    campaign_type=st.sampled_from([INMAIL, GROUPS]),
    source=st.sampled_from(list(ContactSource)),
    sequence=steps,
)
def test_inmail_and_groups_contacts_are_never_invited_nor_connected(
    campaign_type: CampaignType,
    source: ContactSource,
    sequence: list[tuple[ContactEvent, EventDetail, timedelta]],
) -> None:
    for step in run(fresh(campaign_type, source), campaign_type, sequence):
        assert step.after.status in {NV, NC}
        assert step.after.invited_at is None
        assert step.after.connected_at is None


# Sequences that often ask for the time-ruled system events.
timed_steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([E.INVITE_EXPIRED, E.REINVITE_ALLOWED]), details, gaps),
        step,
    ),
    min_size=5,
    max_size=40,
)


@PROPERTY_SETTINGS
@given(
    start=st.one_of(st.sampled_from(list(ContactSource)), st.just(IS)),
    sequence=st.one_of(steps, timed_steps),
    withdraw_after_days=st.one_of(st.just(20), st.integers(min_value=1, max_value=40)),
)
def test_no_invite_is_withdrawn_by_the_system_too_early(
    start: ContactSource | ContactStatus,
    sequence: list[tuple[ContactEvent, EventDetail, timedelta]],
    withdraw_after_days: int,
) -> None:
    if isinstance(start, ContactSource):
        state = fresh(CONNECTION, start)
    else:  # an invite sent at START
        state = ContactState(IS, status_changed_at=START, invited_at=START)
    for step in run(state, CONNECTION, sequence, withdraw_after_days):
        if step.event is E.INVITE_EXPIRED:
            assert step.before.status is IS
            assert step.after.status is WD
            assert step.before.invited_at is not None
            assert step.now - step.before.invited_at >= timedelta(days=withdraw_after_days)
            if withdraw_after_days == 20:
                assert step.now - step.before.invited_at >= timedelta(days=20)
        if step.event is E.REINVITE_ALLOWED:
            assert step.before.withdrawn_at is not None
            assert step.now - step.before.withdrawn_at >= timedelta(weeks=3)


def _any_state(status: ContactStatus) -> ContactState:
    """A consistent state for `status` at START (instants in the past of every step)."""
    base = START - 40 * DAY
    return {
        NV: ContactState(NV, status_changed_at=base),
        NC: ContactState(NC, status_changed_at=base),
        IS: ContactState(IS, status_changed_at=base, invited_at=base),
        CO: ContactState(CO, status_changed_at=base, connected_at=base),
        WD: ContactState(WD, status_changed_at=base, invited_at=base, withdrawn_at=base),
    }[status]


@PROPERTY_SETTINGS
@given(
    campaign_type=st.sampled_from(list(CampaignType)),
    start=st.one_of(
        st.sampled_from(list(ContactSource)).map(lambda s: ("source", s)),
        st.sampled_from(list(ContactStatus)).map(lambda s: ("status", s)),
    ),
    sequence=steps,
)
def test_every_state_reached_is_allowed_by_the_spec(
    campaign_type: CampaignType,
    start: tuple[str, ContactSource | ContactStatus],
    sequence: list[tuple[ContactEvent, EventDetail, timedelta]],
) -> None:
    kind, value = start
    if kind == "source":
        assert isinstance(value, ContactSource)
        state = fresh(campaign_type, value)
    else:
        assert isinstance(value, ContactStatus)
        state = _any_state(value)
    for step in run(state, campaign_type, sequence):
        edge = (step.before.status, step.after.status)
        assert edge in ALLOWED_EDGES[campaign_type], (campaign_type, step.event, edge)
        if step.after.status is not step.before.status:
            assert step.after.status_changed_at == step.now
            assert step.after.last_error is None
        else:
            assert step.after.status_changed_at == step.before.status_changed_at
        if step.event is E.REPLY_RECEIVED:
            assert step.after.replied is True
        if step.before.replied:
            assert step.after.replied is True


def _column_for(event: ContactEvent, detail: EventDetail) -> int:
    if event is E.PROFILE_VISITED:
        return 0 if detail.degree == 1 else 1
    return [c.event for c in COLUMNS].index(event)


@PROPERTY_SETTINGS
@given(
    campaign_type=st.sampled_from(list(CampaignType)),
    source=st.sampled_from(list(ContactSource)),
    sequence=steps,
)
def test_random_sequences_agree_with_the_table(
    campaign_type: CampaignType,
    source: ContactSource,
    sequence: list[tuple[ContactEvent, EventDetail, timedelta]],
) -> None:
    """Each step either does what the table says, or is refused for a reason the SPEC gives."""
    state = fresh(campaign_type, source)
    now = START
    for event, detail, gap in sequence:
        now += gap
        expected = EXPECTED[campaign_type][state.status][_column_for(event, detail)]
        refusal_allowed = (
            (event is E.PROFILE_VISITED and (detail.degree is None or detail.degree < 1))
            or (event is E.ACTION_FAILED and detail.error_code is None)
            or (event is E.INVITE_SENT and state.email_required)
            or (
                event is E.ACTION_FAILED
                and detail.error_code in (ErrorCode.EMAIL_REQUIRED, ErrorCode.MESSAGE_TOO_LONG)
                and not (campaign_type is CONNECTION and state.status is NC)
            )
            or (event is E.REINVITE_ALLOWED and state.invites_sent > 3)
            or (
                event is E.INVITE_EXPIRED
                and state.invited_at is not None
                and now - state.invited_at < timedelta(days=20)
            )
            or (
                event is E.REINVITE_ALLOWED
                and state.withdrawn_at is not None
                and now - state.withdrawn_at < timedelta(weeks=3)
            )
        )
        try:
            after = transition(state, event, campaign_type, now=now, detail=detail, max_reinvites=3)
        except InvalidTransition:
            assert expected == X or refusal_allowed, (campaign_type, state.status, event, detail)
            continue
        assert expected != X, (campaign_type, state.status, event, detail)
        assert not refusal_allowed, (campaign_type, state.status, event, detail)
        assert after.status is expected
        state = after
