"""Pacing: caps per local day and rolling week, working hours across zones and DST, the cooldown.

All instants are fixed; 2025-03-03 is a Monday. New York springs forward on Sunday 2025-03-09 and
falls back on Sunday 2025-11-02.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.pacing import (
    CAPPED_ACTION_LABELS,
    NEVER,
    ROLLING_WEEK,
    WAITING_REASON_LABELS,
    CappedAction,
    PacingDecision,
    SenderLimits,
    SenderPacing,
    WaitingReason,
    WorkingHours,
    available_slots,
    decide,
    projected_times,
    validate_timezone,
    waiting_label,
    what_holds,
)

INVITE = CappedAction.INVITE
NEW_YORK = ZoneInfo("America/New_York")
EVERY_DAY = frozenset(range(1, 8))


def utc(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def sender(
    *,
    timezone: str = "UTC",
    cooldown_until: datetime | None = None,
    hours: WorkingHours | None = None,
    **caps: int,
) -> SenderPacing:
    return SenderPacing(
        limits=SenderLimits(**caps),
        hours=hours or WorkingHours(),
        timezone=timezone,
        cooldown_until=cooldown_until,
    )


def blocked(reason: WaitingReason, earliest: datetime) -> PacingDecision:
    return PacingDecision(allowed=False, reason=reason, earliest=earliest)


def allowed(now: datetime) -> PacingDecision:
    return PacingDecision(allowed=True, reason=None, earliest=now)


# --- Limits ---------------------------------------------------------------------------------------


def test_default_limits_are_the_specs() -> None:
    limits = SenderLimits()
    assert [limits.daily_cap(action) for action in CappedAction] == [15, 20, 20, 20, 40]
    assert limits.weekly_cap(INVITE) == 100


DISTINCT = SenderLimits(
    daily_invites=1,
    weekly_invites=2,
    daily_profile_visits=3,
    daily_follow_ups=4,
    daily_inmails=5,
    daily_withdrawals=6,
)


@pytest.mark.parametrize(
    ("action", "daily", "weekly"),
    [
        (CappedAction.INVITE, 1, 2),
        (CappedAction.PROFILE_VISIT, 3, None),
        (CappedAction.FOLLOW_UP, 4, None),
        (CappedAction.INMAIL, 5, None),
        (CappedAction.WITHDRAWAL, 6, None),
    ],
)
def test_each_action_counts_against_its_own_cap(
    action: CappedAction, daily: int, weekly: int | None
) -> None:
    assert DISTINCT.daily_cap(action) == daily
    assert DISTINCT.weekly_cap(action) == weekly
    pacing = SenderPacing(limits=DISTINCT)
    now = utc(3, 4, 14)
    earlier_today = [utc(3, 4, 10)]
    assert decide(pacing, action, recent=earlier_today * (daily - 1), now=now) == allowed(now)
    assert decide(pacing, action, recent=earlier_today * daily, now=now) == blocked(
        WaitingReason.DAILY_CAP, utc(3, 5, 9)
    )


@pytest.mark.parametrize("value", [-1, True, 1.5, "3"])
def test_limits_are_whole_numbers(value: object) -> None:
    with pytest.raises(ValueError, match="daily_inmails must be a whole number, 0 or more"):
        SenderLimits(daily_inmails=value)  # type: ignore[arg-type]


def test_a_daily_cap_of_zero_switches_the_action_off() -> None:
    pacing = sender(daily_inmails=0)
    now = utc(3, 4, 10)
    decision = decide(pacing, CappedAction.INMAIL, recent=[], now=now)
    assert decision == blocked(WaitingReason.DAILY_CAP, NEVER)
    assert decision.never
    assert available_slots(pacing, CappedAction.INMAIL, recent=[], now=now) == 0
    assert projected_times(pacing, CappedAction.INMAIL, recent=[], now=now, count=3) == [NEVER] * 3
    assert decide(pacing, INVITE, recent=[], now=now) == allowed(now)
    assert not decide(pacing, INVITE, recent=[], now=now).never


def test_a_weekly_cap_of_zero_switches_invites_off() -> None:
    pacing = sender(weekly_invites=0)
    now = utc(3, 4, 10)
    assert decide(pacing, INVITE, recent=[], now=now) == blocked(WaitingReason.WEEKLY_CAP, NEVER)
    assert projected_times(pacing, INVITE, recent=[], now=now, count=2) == [NEVER] * 2


def test_never_can_be_shown_in_any_zone() -> None:
    assert NEVER.astimezone(ZoneInfo("Pacific/Kiritimati")).year == 9999
    assert NEVER.astimezone(ZoneInfo("Pacific/Niue")).year == 9998


# --- Labels ---------------------------------------------------------------------------------------


def test_every_reason_and_action_has_a_label() -> None:
    assert set(WAITING_REASON_LABELS) == set(WaitingReason)
    assert set(CAPPED_ACTION_LABELS) == set(CappedAction)
    assert WaitingReason.DAILY_CAP.label == "Daily limit reached"
    assert WaitingReason.WORKING_HOURS.label == "Outside working hours"
    assert WaitingReason.COOLDOWN.label == (
        "Cooling down before the next attempt (LinkedIn's rate limit or an error)"
    )
    assert WaitingReason.FOLLOW_UP_DELAY.label == "Waiting for the follow-up delay"
    assert WaitingReason.AWAITING_ACCEPTANCE.label == "Waiting for the invite to be accepted"
    assert WaitingReason.QUEUED.label == "Due now: goes out in the engine's next cycle"
    assert WaitingReason.CAMPAIGN_PAUSED.label == "Campaign paused"


def test_waiting_label_names_the_actions_own_daily_cap() -> None:
    daily = WaitingReason.DAILY_CAP
    assert waiting_label(daily, INVITE) == "Daily invite limit reached"
    assert waiting_label(daily, CappedAction.PROFILE_VISIT) == "Daily profile visit limit reached"
    assert waiting_label(daily, CappedAction.INMAIL) == "Daily InMail limit reached"
    assert waiting_label(WaitingReason.WEEKLY_CAP, INVITE) == "Weekly invite limit reached"
    assert waiting_label(WaitingReason.COOLDOWN, INVITE) == WaitingReason.COOLDOWN.label
    # A follow-up waits on the message cap, never on the invite cap.
    assert waiting_label(daily, CappedAction.FOLLOW_UP) == "Daily message limit reached"
    assert waiting_label(daily, None) == "Daily limit reached"


def test_a_decision_has_a_reason_exactly_when_it_is_not_allowed() -> None:
    with pytest.raises(ValueError, match="waiting reason"):
        PacingDecision(allowed=True, reason=WaitingReason.DAILY_CAP, earliest=utc(3, 3, 9))
    with pytest.raises(ValueError, match="waiting reason"):
        PacingDecision(allowed=False, reason=None, earliest=utc(3, 3, 9))


# --- Working hours --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": time(18), "end": time(9)}, "must start before they end, got 18:00–09:00"),
        ({"start": time(9), "end": time(9)}, "must start before they end"),
        ({"days": frozenset()}, "at least one working day"),
        ({"days": frozenset({0, 1})}, r"ISO weekdays from 1 \(Monday\) to 7 \(Sunday\), got \[0\]"),
        ({"days": frozenset({8})}, "ISO weekdays"),
        ({"start": time(9, tzinfo=UTC)}, "wall-clock times"),
    ],
)
def test_working_hours_refuse_nonsense(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingHours(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        (utc(3, 3, 8, 59), False),
        (utc(3, 3, 9), True),
        (utc(3, 3, 17, 59), True),
        (utc(3, 3, 18), False),
        (utc(3, 7, 12), True),
        (utc(3, 8, 12), False),
        (utc(3, 9, 12), False),
        (datetime(2025, 3, 3, 12), True),
    ],
)
def test_contains_reads_the_wall_clock_with_an_exclusive_end(local: datetime, inside: bool) -> None:
    assert WorkingHours().contains(local) is inside


@pytest.mark.parametrize(
    ("local", "opening"),
    [
        (utc(3, 3, 12), utc(3, 3, 12)),
        (utc(3, 3, 9), utc(3, 3, 9)),
        (utc(3, 3, 7), utc(3, 3, 9)),
        (utc(3, 3, 18), utc(3, 4, 9)),
        (utc(3, 3, 23, 59), utc(3, 4, 9)),
        (utc(3, 7, 18), utc(3, 10, 9)),
        (utc(3, 8, 12), utc(3, 10, 9)),
        (utc(3, 9, 23), utc(3, 10, 9)),
    ],
)
def test_next_open(local: datetime, opening: datetime) -> None:
    assert WorkingHours().next_open(local) == opening


def test_next_open_of_a_naive_wall_clock_is_naive() -> None:
    assert WorkingHours().next_open(datetime(2025, 3, 8, 12)) == datetime(2025, 3, 10, 9)


def test_next_open_on_the_only_working_day() -> None:
    sundays = WorkingHours(start=time(10), end=time(12), days=frozenset({7}))
    assert sundays.next_open(utc(3, 9, 12)) == utc(3, 16, 10)


def test_next_open_keeps_the_zone_and_the_wall_clock_across_dst() -> None:
    friday_evening = datetime(2025, 3, 7, 19, tzinfo=NEW_YORK)
    opening = WorkingHours().next_open(friday_evening)
    assert opening == datetime(2025, 3, 10, 9, tzinfo=NEW_YORK)
    assert opening.utcoffset() == timedelta(hours=-4)


def test_an_opening_skipped_by_spring_forward_is_the_jump() -> None:
    hours = WorkingHours(start=time(2, 30), days=EVERY_DAY)
    opening = hours.next_open(datetime(2025, 3, 9, 1, tzinfo=NEW_YORK))
    assert opening.astimezone(UTC) == utc(3, 9, 7)  # 03:00 EDT, the first instant after 02:30
    assert hours.contains(opening)


def test_fall_back_repeats_the_opening() -> None:
    hours = WorkingHours(start=time(1, 15), days=EVERY_DAY)
    second_one_ten = datetime(2025, 11, 2, 1, 10, fold=1, tzinfo=NEW_YORK)
    assert second_one_ten.astimezone(UTC) == utc(11, 2, 6, 10)
    assert hours.next_open(second_one_ten).astimezone(UTC) == utc(11, 2, 6, 15)


def test_fall_back_sets_the_clock_back_into_the_hours() -> None:
    hours = WorkingHours(start=time(0, 30), end=time(1, 20), days=EVERY_DAY)
    after_closing = datetime(2025, 11, 2, 1, 25, tzinfo=NEW_YORK)  # first 01:25, EDT
    opening = hours.next_open(after_closing)
    assert opening.astimezone(UTC) == utc(11, 2, 6)  # clocks go back to 01:00 EST
    assert (opening.hour, opening.minute, opening.fold) == (1, 0, 1)


# --- Time zones -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Asia/Kolkata", "Europe/London"])
def test_known_timezones_are_accepted(name: str) -> None:
    assert validate_timezone(name) == name


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "utc ", "../etc/passwd", "zone.tab"])
def test_unknown_timezones_are_refused_clearly(name: str) -> None:
    with pytest.raises(ValueError, match="Unknown time zone"):
        validate_timezone(name)
    with pytest.raises(ValueError, match="Unknown time zone"):
        SenderPacing(timezone=name)


def test_naive_instants_are_refused() -> None:
    pacing = sender()
    naive = datetime(2025, 3, 3, 10)
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        decide(pacing, INVITE, recent=[], now=naive)
    with pytest.raises(ValueError, match="recent must be a timezone-aware"):
        available_slots(pacing, INVITE, recent=[naive], now=utc(3, 3, 10))
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        projected_times(pacing, INVITE, recent=[], now=naive, count=1)
    with pytest.raises(ValueError, match="cooldown_until must be a timezone-aware"):
        sender(cooldown_until=naive)


def test_instants_in_other_zones_are_accepted_and_answered_in_utc() -> None:
    now = datetime(2025, 3, 3, 20, tzinfo=NEW_YORK)  # Tuesday 01:00 UTC
    pacing = sender(cooldown_until=datetime(2025, 3, 4, 5, tzinfo=NEW_YORK))
    assert pacing.cooldown_until == utc(3, 4, 10)
    decision = decide(pacing, INVITE, recent=[], now=now)
    assert decision == blocked(WaitingReason.COOLDOWN, utc(3, 4, 10))
    assert decision.earliest.tzinfo is UTC


# --- decide: caps ---------------------------------------------------------------------------------


def test_under_the_cap_the_action_goes_now() -> None:
    now = utc(3, 4, 14)
    decision = decide(sender(), INVITE, recent=[utc(3, 4, 10)] * 14, now=now)
    assert decision == allowed(now)
    assert decision.earliest.tzinfo is UTC


def test_a_full_day_waits_for_the_next_days_opening() -> None:
    assert decide(sender(), INVITE, recent=[utc(3, 4, 10)] * 15, now=utc(3, 4, 14)) == blocked(
        WaitingReason.DAILY_CAP, utc(3, 5, 9)
    )


def test_a_full_friday_waits_for_monday() -> None:
    assert decide(sender(), INVITE, recent=[utc(3, 7, 9)] * 15, now=utc(3, 7, 14)) == blocked(
        WaitingReason.DAILY_CAP, utc(3, 10, 9)
    )


def test_yesterdays_sends_do_not_fill_today() -> None:
    now = utc(3, 4, 9)
    assert decide(sender(), INVITE, recent=[utc(3, 3, 17, 59)] * 15, now=now) == allowed(now)


def test_a_full_week_waits_until_the_oldest_send_leaves_the_window() -> None:
    pacing = sender(weekly_invites=5)
    recent = [utc(3, 5, 17), utc(3, 6, 10), utc(3, 6, 10), utc(3, 10, 10), utc(3, 10, 10)]
    assert decide(pacing, INVITE, recent=recent, now=utc(3, 12, 10)) == blocked(
        WaitingReason.WEEKLY_CAP, utc(3, 5, 17) + ROLLING_WEEK
    )
    # A send exactly 7 days old has left the window.
    assert decide(pacing, INVITE, recent=recent, now=utc(3, 12, 17)) == allowed(utc(3, 12, 17))


def test_a_lowered_weekly_cap_waits_for_enough_sends_to_leave() -> None:
    pacing = sender(weekly_invites=3)
    recent = [utc(3, 5, 17), utc(3, 6, 10), utc(3, 6, 11), utc(3, 10, 10), utc(3, 10, 10)]
    # Five in the window, room for three: the three oldest must leave.
    assert decide(pacing, INVITE, recent=recent, now=utc(3, 12, 10)) == blocked(
        WaitingReason.WEEKLY_CAP, utc(3, 13, 11)
    )


def test_a_weekly_release_outside_hours_waits_for_the_next_opening() -> None:
    # Friday 17:30 EST; seven days later it is 18:30 EDT, after closing, so Monday 09:00 EDT.
    pacing = sender(timezone="America/New_York", weekly_invites=3)
    recent = [utc(3, 7, 22, 30), utc(3, 10, 14), utc(3, 10, 14)]
    assert decide(pacing, INVITE, recent=recent, now=utc(3, 13, 14)) == blocked(
        WaitingReason.WEEKLY_CAP, utc(3, 17, 13)
    )


def test_sends_older_than_the_week_are_ignored() -> None:
    now = utc(3, 12, 10)
    old = [now - ROLLING_WEEK - timedelta(hours=1)] * 200
    assert decide(sender(), INVITE, recent=old, now=now) == allowed(now)


def test_the_weekly_cap_applies_to_invites_only() -> None:
    pacing = sender(weekly_invites=1, daily_profile_visits=20)
    recent = [utc(3, 10, 10)] * 5
    now = utc(3, 11, 10)
    assert decide(pacing, CappedAction.PROFILE_VISIT, recent=recent, now=now) == allowed(now)
    assert decide(pacing, INVITE, recent=recent, now=now).reason is WaitingReason.WEEKLY_CAP


# --- decide: working hours, zones and DST ---------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "earliest"),
    [
        (utc(3, 8, 12), utc(3, 10, 9)),  # Saturday
        (utc(3, 9, 23, 59), utc(3, 10, 9)),  # Sunday night
        (utc(3, 3, 7), utc(3, 3, 9)),  # before hours
        (utc(3, 3, 18), utc(3, 4, 9)),  # at closing: the end is exclusive
        (utc(3, 7, 20), utc(3, 10, 9)),  # Friday evening
    ],
)
def test_outside_working_hours_waits_for_the_opening(now: datetime, earliest: datetime) -> None:
    assert decide(sender(), INVITE, recent=[], now=now) == blocked(
        WaitingReason.WORKING_HOURS, earliest
    )


def test_working_hours_bounds_are_allowed() -> None:
    for now in (utc(3, 3, 9), utc(3, 3, 17, 59, 59)):
        assert decide(sender(), INVITE, recent=[], now=now) == allowed(now)


def test_working_hours_are_the_senders_own() -> None:
    new_york = sender(timezone="America/New_York")
    kolkata = sender(timezone="Asia/Kolkata")
    now = utc(3, 4, 13)  # 08:00 in New York, 18:30 in Kolkata
    assert decide(new_york, INVITE, recent=[], now=now) == blocked(
        WaitingReason.WORKING_HOURS, utc(3, 4, 14)
    )
    assert decide(kolkata, INVITE, recent=[], now=now) == blocked(
        WaitingReason.WORKING_HOURS, utc(3, 5, 3, 30)
    )
    assert decide(sender(), INVITE, recent=[], now=now) == allowed(now)


def test_the_day_is_the_senders_calendar_day() -> None:
    sent = [utc(3, 3, 20)]  # Monday in UTC, already Tuesday 01:30 in Kolkata
    now = utc(3, 4, 4)  # Tuesday 09:30 in Kolkata
    assert decide(
        sender(timezone="Asia/Kolkata", daily_invites=1), INVITE, recent=sent, now=now
    ) == (blocked(WaitingReason.DAILY_CAP, utc(3, 5, 3, 30)))
    around_the_clock = WorkingHours(start=time(0), end=time(23, 59), days=EVERY_DAY)
    in_utc = sender(daily_invites=1, hours=around_the_clock)
    assert decide(in_utc, INVITE, recent=sent, now=now) == allowed(now)


def test_spring_forward_moves_the_opening_an_hour_earlier_in_utc() -> None:
    pacing = sender(timezone="America/New_York")
    friday_evening = utc(3, 8, 0)  # Friday 19:00 EST
    assert decide(pacing, INVITE, recent=[], now=friday_evening) == blocked(
        WaitingReason.WORKING_HOURS,
        utc(3, 10, 13),  # Monday 09:00 EDT
    )


def test_fall_back_moves_the_opening_an_hour_later_in_utc() -> None:
    pacing = sender(timezone="America/New_York")
    friday_evening = utc(10, 31, 23)  # Friday 19:00 EDT
    assert decide(pacing, INVITE, recent=[], now=friday_evening) == blocked(
        WaitingReason.WORKING_HOURS,
        utc(11, 3, 14),  # Monday 09:00 EST
    )


def test_a_23_hour_day_is_still_one_calendar_day() -> None:
    pacing = sender(timezone="Europe/London", daily_invites=2, hours=WorkingHours(days=EVERY_DAY))
    sunday = [utc(3, 30, 9), utc(3, 30, 10)]  # 10:00 and 11:00 BST on the 23-hour day
    assert decide(pacing, INVITE, recent=sunday, now=utc(3, 30, 12)) == blocked(
        WaitingReason.DAILY_CAP, utc(3, 31, 8)
    )


# --- decide: cooldown -----------------------------------------------------------------------------


def test_the_cooldown_holds_invites_until_it_ends() -> None:
    pacing = sender(cooldown_until=utc(3, 4, 15))
    assert decide(pacing, INVITE, recent=[], now=utc(3, 4, 10)) == blocked(
        WaitingReason.COOLDOWN, utc(3, 4, 15)
    )
    assert decide(pacing, INVITE, recent=[], now=utc(3, 4, 15)) == allowed(utc(3, 4, 15))
    assert available_slots(pacing, INVITE, recent=[], now=utc(3, 4, 10)) == 0


@pytest.mark.parametrize("action", [a for a in CappedAction if a is not INVITE])
def test_the_cooldown_holds_back_nothing_but_invites(action: CappedAction) -> None:
    pacing = sender(cooldown_until=utc(3, 20))
    now = utc(3, 4, 10)
    assert decide(pacing, action, recent=[], now=now) == allowed(now)
    assert available_slots(pacing, action, recent=[], now=now) == pacing.limits.daily_cap(action)


def test_a_cooldown_ending_at_night_waits_for_the_opening_and_says_cooldown() -> None:
    pacing = sender(cooldown_until=utc(3, 4, 20))
    assert decide(pacing, INVITE, recent=[], now=utc(3, 4, 10)) == blocked(
        WaitingReason.COOLDOWN, utc(3, 5, 9)
    )


# --- decide: which reason -------------------------------------------------------------------------


def test_a_cooldown_that_changes_nothing_is_not_the_reason() -> None:
    pacing = sender(cooldown_until=utc(3, 8, 11))  # ends on Saturday morning
    assert decide(pacing, INVITE, recent=[], now=utc(3, 8, 10)) == blocked(
        WaitingReason.WORKING_HOURS, utc(3, 10, 9)
    )


def test_a_full_day_after_closing_is_outside_working_hours() -> None:
    # Tomorrow's opening comes anyway; today's cap changes nothing.
    assert decide(sender(), INVITE, recent=[utc(3, 4, 10)] * 15, now=utc(3, 4, 20)) == blocked(
        WaitingReason.WORKING_HOURS, utc(3, 5, 9)
    )


def test_a_full_day_outlasting_a_weekly_release_is_the_daily_cap() -> None:
    pacing = sender(daily_invites=2, weekly_invites=3)
    recent = [utc(2, 25, 15), utc(3, 4, 10), utc(3, 4, 10)]  # the week frees up at 15:00 today
    assert decide(pacing, INVITE, recent=recent, now=utc(3, 4, 14)) == blocked(
        WaitingReason.DAILY_CAP, utc(3, 5, 9)
    )


def test_a_full_week_outlasting_a_full_day_is_the_weekly_cap() -> None:
    pacing = sender(daily_invites=2, weekly_invites=2)
    recent = [utc(3, 4, 10), utc(3, 4, 10)]
    assert decide(pacing, INVITE, recent=recent, now=utc(3, 4, 14)) == blocked(
        WaitingReason.WEEKLY_CAP, utc(3, 11, 10)
    )


def test_the_reason_is_never_a_constraint_that_holds_at_now() -> None:
    # Friday 17:00, inside hours: the day is full and the cooldown ends at 23:00. Either alone
    # keeps the invite until Monday; the hours decide that, but they are open now.
    pacing = sender(cooldown_until=utc(3, 7, 23))
    recent = [utc(3, 7, 10)] * 15
    assert decide(pacing, INVITE, recent=recent, now=utc(3, 7, 17)) == blocked(
        WaitingReason.COOLDOWN, utc(3, 10, 9)
    )


def test_redundant_constraints_report_the_first_violated_by_priority() -> None:
    # Outside hours, and cooling down until exactly the opening: either alone gives the same instant.
    pacing = sender(cooldown_until=utc(3, 5, 9))
    assert decide(pacing, INVITE, recent=[], now=utc(3, 4, 20)) == blocked(
        WaitingReason.COOLDOWN, utc(3, 5, 9)
    )


# --- available_slots ------------------------------------------------------------------------------


def test_available_slots_is_the_room_left_under_both_caps() -> None:
    today = [utc(3, 3, 9, 30)] * 10
    now = utc(3, 3, 10)
    assert available_slots(sender(), INVITE, recent=today, now=now) == 5
    assert available_slots(sender(weekly_invites=12), INVITE, recent=today, now=now) == 2
    assert available_slots(sender(daily_invites=10), INVITE, recent=today, now=now) == 0
    assert available_slots(sender(), INVITE, recent=today, now=utc(3, 3, 18)) == 0
    assert available_slots(sender(), INVITE, recent=[], now=utc(3, 8, 10)) == 0


def test_available_slots_never_goes_negative_when_over_the_cap() -> None:
    now = utc(3, 3, 10)
    assert available_slots(sender(daily_invites=3), INVITE, recent=[now] * 7, now=now) == 0


# --- projected_times ------------------------------------------------------------------------------


def test_projected_times_fill_each_day_up_to_the_cap() -> None:
    times = projected_times(sender(), INVITE, recent=[], now=utc(3, 3, 9), count=40)
    assert times == [utc(3, 3, 9)] * 15 + [utc(3, 4, 9)] * 15 + [utc(3, 5, 9)] * 10


def test_projected_times_start_with_what_is_left_today() -> None:
    today = [utc(3, 3, 9, 30)] * 10
    times = projected_times(sender(), INVITE, recent=today, now=utc(3, 3, 10), count=8)
    assert times == [utc(3, 3, 10)] * 5 + [utc(3, 4, 9)] * 3


def test_projected_times_skip_the_weekend_across_dst() -> None:
    pacing = sender(timezone="America/New_York")
    times = projected_times(pacing, INVITE, recent=[], now=utc(3, 7, 14), count=30)
    assert times == [utc(3, 7, 14)] * 15 + [utc(3, 10, 13)] * 15


def test_projected_times_wait_for_the_cooldown() -> None:
    pacing = sender(cooldown_until=utc(3, 4, 16))
    times = projected_times(pacing, INVITE, recent=[], now=utc(3, 4, 10), count=16)
    assert times == [utc(3, 4, 16)] * 15 + [utc(3, 5, 9)]


def test_projected_times_follow_the_weekly_window() -> None:
    pacing = sender(daily_invites=40, weekly_invites=100)
    times = projected_times(pacing, INVITE, recent=[], now=utc(3, 3, 9), count=200)
    per_day = Counter(t.date() for t in times)
    assert per_day == {
        date(2025, 3, 3): 40,
        date(2025, 3, 4): 40,
        date(2025, 3, 5): 20,
        date(2025, 3, 10): 40,
        date(2025, 3, 11): 40,
        date(2025, 3, 12): 20,
    }


def test_projected_times_of_nothing() -> None:
    assert projected_times(sender(), INVITE, recent=[], now=utc(3, 3, 9), count=0) == []
    with pytest.raises(ValueError, match="count must not be negative"):
        projected_times(sender(), INVITE, recent=[], now=utc(3, 3, 9), count=-1)


def test_a_long_campaigns_finish_date() -> None:
    times = projected_times(sender(), INVITE, recent=[], now=utc(3, 3, 9), count=100_000)
    assert len(times) == 100_000
    # 15 a weekday at 09:00; 100 000 invites need 6 667 weekdays.
    per_day = Counter(t.date() for t in times)
    assert max(per_day.values()) == 15
    days = sorted(per_day)
    assert all(d.isoweekday() <= 5 for d in days)
    assert {t.time() for t in times} == {time(9)}
    assert len(days) == 6_667
    weekdays_left, day = 6_667, date(2025, 3, 3)
    while True:
        weekdays_left -= day.isoweekday() <= 5
        if not weekdays_left:
            break
        day += timedelta(days=1)
    assert times[-1] == datetime.combine(day, time(9), tzinfo=UTC)


# --- Properties -----------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Santiago",
]
# Days around daylight-saving changes in those zones, so examples often cross one.
ANCHORS = [
    utc(3, 9),
    utc(11, 2),
    utc(3, 30),
    utc(10, 26),
    utc(4, 6),
    utc(9, 7),
    utc(10, 5),
    utc(6, 18),
]
STEP = timedelta(minutes=15)  # every input lies on this grid, and so does every earliest instant


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    start = draw(st.integers(0, 94))
    end = draw(st.integers(start + 1, 95))
    days = draw(st.frozensets(st.integers(1, 7), min_size=1))
    return WorkingHours(
        start=time(start // 4, start % 4 * 15), end=time(end // 4, end % 4 * 15), days=days
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[SenderPacing, CappedAction, list[datetime], datetime]:
    now = draw(st.sampled_from(ANCHORS)) + STEP * draw(st.integers(-4 * 24 * 10, 4 * 24 * 3))
    limits = SenderLimits(
        daily_invites=draw(st.integers(1, 20)),
        weekly_invites=draw(st.integers(1, 60)),
        daily_profile_visits=draw(st.integers(1, 20)),
        daily_follow_ups=draw(st.integers(1, 20)),
        daily_inmails=draw(st.integers(1, 20)),
        daily_withdrawals=draw(st.integers(1, 20)),
    )
    cooldown = draw(st.none() | st.integers(-20, 4 * 24 * 4).map(lambda n: now + STEP * n))
    pacing = SenderPacing(
        limits=limits,
        hours=draw(working_hours()),
        timezone=draw(st.sampled_from(ZONES)),
        cooldown_until=cooldown,
    )
    action = draw(st.sampled_from(CappedAction))
    recent = [now - STEP * n for n in draw(st.lists(st.integers(0, 4 * 24 * 8), max_size=40))]
    return pacing, action, recent, now


def violates(
    pacing: SenderPacing,
    action: CappedAction,
    sends: list[datetime],
    at: datetime,
) -> set[WaitingReason]:
    """The constraints broken at `at`, computed the plain way: by local date and by counting."""
    zone = ZoneInfo(pacing.timezone)
    local = at.astimezone(zone)
    broken = set()
    if action is INVITE and pacing.cooldown_until is not None and at < pacing.cooldown_until:
        broken.add(WaitingReason.COOLDOWN)
    if not pacing.hours.contains(local):
        broken.add(WaitingReason.WORKING_HOURS)
    same_day = sum(1 for s in sends if s.astimezone(zone).date() == local.date())
    if same_day >= pacing.limits.daily_cap(action):
        broken.add(WaitingReason.DAILY_CAP)
    weekly = pacing.limits.weekly_cap(action)
    if weekly is not None and sum(1 for s in sends if at - ROLLING_WEEK < s <= at) >= weekly:
        broken.add(WaitingReason.WEEKLY_CAP)
    return broken


def first_allowed(
    pacing: SenderPacing,
    action: CappedAction,
    sends: list[datetime],
    now: datetime,
    ignoring: WaitingReason | None = None,
) -> datetime:
    """Step through the grid until nothing (but `ignoring`) is broken."""
    at = now
    while violates(pacing, action, sends, at) - {ignoring}:
        at += STEP
        assert at - now < timedelta(days=60), "no allowed instant within 60 days"
    return at


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PRIORITY = [
    WaitingReason.COOLDOWN,
    WaitingReason.WEEKLY_CAP,
    WaitingReason.DAILY_CAP,
    WaitingReason.WORKING_HOURS,
]


@PROPERTY_SETTINGS
@given(scenarios())
def test_decide_matches_a_step_by_step_search(
    scenario: tuple[SenderPacing, CappedAction, list[datetime], datetime],
) -> None:
    pacing, action, recent, now = scenario
    decision = decide(pacing, action, recent=recent, now=now)
    slots = available_slots(pacing, action, recent=recent, now=now)
    assert decision.earliest == first_allowed(pacing, action, recent, now)
    assert decision.allowed == (decision.earliest == now) == (slots > 0)
    assert decision.earliest.tzinfo is UTC
    if decision.allowed:
        return
    broken_now = [reason for reason in PRIORITY if reason in violates(pacing, action, recent, now)]
    binding = [
        reason
        for reason in broken_now
        if first_allowed(pacing, action, recent, now, ignoring=reason) < decision.earliest
    ]
    assert decision.reason is (binding or broken_now)[0]
    later = decide(pacing, action, recent=recent, now=decision.earliest)
    assert later == allowed(decision.earliest)


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(0, 80))
def test_projected_times_keep_every_limit(
    scenario: tuple[SenderPacing, CappedAction, list[datetime], datetime], count: int
) -> None:
    pacing, action, recent, now = scenario
    times = projected_times(pacing, action, recent=recent, now=now, count=count)
    assert len(times) == count
    assert times == sorted(times)
    assert all(t >= now and t.tzinfo is UTC for t in times)

    zone = ZoneInfo(pacing.timezone)
    assert all(pacing.hours.contains(t.astimezone(zone)) for t in times)
    if action is INVITE and pacing.cooldown_until is not None:
        assert all(t >= pacing.cooldown_until for t in times)

    everything = sorted([*recent, *times])
    per_day = Counter(t.astimezone(zone).date() for t in everything)
    for day in {t.astimezone(zone).date() for t in times}:
        assert per_day[day] <= pacing.limits.daily_cap(action)
    weekly = pacing.limits.weekly_cap(action)
    if weekly is not None:
        for t in times:
            window = bisect.bisect_right(everything, t) - bisect.bisect_right(
                everything, t - ROLLING_WEEK
            )
            assert window <= weekly

    # Each goes as soon as allowed, given the ones before it.
    for i, t in enumerate(times):
        previous = times[i - 1] if i else now
        assert decide(pacing, action, recent=[*recent, *times[:i]], now=previous).earliest == t
    slots = available_slots(pacing, action, recent=recent, now=now)
    assert times.count(now) == min(slots, count)


@PROPERTY_SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_what_holds_answers_the_same_for_sends_given_sorted_in_utc(
    scenario: tuple[SenderPacing, CappedAction, list[datetime], datetime],
    shuffler: random.Random,
) -> None:
    # The queue's explanation hands what_holds its sends already sorted, in UTC, and says so.
    pacing, action, recent, now = scenario
    shuffled = list(recent)
    shuffler.shuffle(shuffled)
    vouched = sorted(sent.astimezone(UTC) for sent in recent)
    assert what_holds(pacing, action, recent=vouched, now=now, recent_sorted_utc=True) == (
        what_holds(pacing, action, recent=shuffled, now=now)
    )
