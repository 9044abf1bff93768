"""Pacing: may a sender act now, and if not, why and when (SPEC §2 Sender account, §3).

A sender account has per-action caps (daily for every capped action, plus a rolling 7-day cap for
invites), working hours in its own time zone, and — after LinkedIn answers `too_many_requests` —
an invite cooldown. Given the instants at which the sender already performed an action, this
module says whether one more may go at a given instant, which constraint holds it back, the
earliest instant at which it may go, how many may go at once, and when a queue of them is expected
to go out.

Conventions, which every public function keeps:

- Instants passed in and returned are timezone-aware; naive ones raise `ValueError`. Returned
  instants are in UTC. Working hours and calendar days are read on the sender's wall clock via
  `zoneinfo`, so daylight-saving shifts move them in UTC as they should.
- A calendar day is local midnight to local midnight: from the first instant whose local date is
  that day up to (not including) the first instant of the next day.
- The weekly window at instant t holds the sends in (t - 7 days, t], 7 days being 168 hours.
- Nothing here reads a clock: `now` is always passed in.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROLLING_WEEK = timedelta(days=7)
# The "earliest" of an action whose cap is 0: it never goes. Far enough from datetime.max that any
# time zone can show it and a few weeks can be added to it without overflowing.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
_RESOLUTION = timedelta(microseconds=1)
# next_open looks this many days ahead; a week of days always holds an opening, and a few more cover
# an opening lost to a daylight-saving gap.
_SEARCH_DAYS = 400


class CappedAction(StrEnum):
    """An action that counts against one of the sender's caps."""

    INVITE = "invite"
    PROFILE_VISIT = "profile_visit"
    FOLLOW_UP = "follow_up"
    INMAIL = "inmail"
    WITHDRAWAL = "withdrawal"

    @property
    def label(self) -> str:
        return CAPPED_ACTION_LABELS[self]

    @property
    def cap_name(self) -> str:
        """The API's `waiting_cap` value: the cap this action counts against."""
        return CAP_NAMES[self]


CAPPED_ACTION_LABELS: dict[CappedAction, str] = {
    CappedAction.INVITE: "invite",
    CappedAction.PROFILE_VISIT: "profile visit",
    CappedAction.FOLLOW_UP: "message",
    CappedAction.INMAIL: "InMail",
    CappedAction.WITHDRAWAL: "withdrawal",
}

CAP_NAMES: dict[CappedAction, str] = {
    CappedAction.INVITE: "invites",
    CappedAction.PROFILE_VISIT: "profile_visits",
    CappedAction.FOLLOW_UP: "follow_ups",
    CappedAction.INMAIL: "inmails",
    CappedAction.WITHDRAWAL: "withdrawals",
}
CAP_BY_NAME: dict[str, CappedAction] = {name: cap for cap, name in CAP_NAMES.items()}


class WaitingReason(StrEnum):
    """Why a pending action has not gone out yet.

    `decide` reports the first four; the engine reports the others (a follow-up's delay, an invite
    not yet accepted, a paused campaign, an action due now that goes out with the next cycle).
    """

    DAILY_CAP = "daily_cap"
    WEEKLY_CAP = "weekly_cap"
    WORKING_HOURS = "working_hours"
    COOLDOWN = "cooldown"
    FOLLOW_UP_DELAY = "follow_up_delay"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    CAMPAIGN_PAUSED = "campaign_paused"
    QUEUED = "queued"

    @property
    def label(self) -> str:
        return WAITING_REASON_LABELS[self]

    @property
    def names_a_cap(self) -> bool:
        """Whether the reason is one of the sender's caps (and `waiting_cap` says which)."""
        return self in (WaitingReason.DAILY_CAP, WaitingReason.WEEKLY_CAP)


WAITING_REASON_LABELS: dict[WaitingReason, str] = {
    WaitingReason.DAILY_CAP: "Daily limit reached",
    WaitingReason.WEEKLY_CAP: "Weekly invite limit reached",
    WaitingReason.WORKING_HOURS: "Outside working hours",
    WaitingReason.COOLDOWN: "Cooling down before the next attempt (LinkedIn's rate limit or an error)",
    WaitingReason.FOLLOW_UP_DELAY: "Waiting for the follow-up delay",
    WaitingReason.AWAITING_ACCEPTANCE: "Waiting for the invite to be accepted",
    WaitingReason.CAMPAIGN_PAUSED: "Campaign paused",
    WaitingReason.QUEUED: "Due now: goes out in the engine's next cycle",
}


def waiting_label(reason: WaitingReason, action: CappedAction | None) -> str:
    """The sentence for `reason`, naming the limit that holds the action.

    "Daily profile visit limit reached" for a visit, "Daily message limit reached" for a
    follow-up; the weekly cap exists for invites only.
    """
    if action is not None and reason is WaitingReason.DAILY_CAP:
        return f"Daily {action.label} limit reached"
    if action is not None and reason is WaitingReason.WEEKLY_CAP:
        return f"Weekly {action.label} limit reached"
    return WAITING_REASON_LABELS[reason]


def validate_timezone(name: str) -> str:
    """Return `name` unchanged if zoneinfo knows it as an IANA time zone; `ValueError` if not."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/London' or 'UTC'"
        ) from None
    return name


@dataclass(frozen=True)
class SenderLimits:
    """A sender's caps: whole numbers, 0 or more (`ValueError` otherwise).

    A cap of 0 switches the action off for the sender: it is never allowed, and its earliest
    instant is `NEVER`.
    """

    daily_invites: int = 15
    weekly_invites: int = 100
    daily_profile_visits: int = 20
    daily_follow_ups: int = 20
    daily_inmails: int = 20
    daily_withdrawals: int = 40

    def __post_init__(self) -> None:
        for name in (
            "daily_invites",
            "weekly_invites",
            "daily_profile_visits",
            "daily_follow_ups",
            "daily_inmails",
            "daily_withdrawals",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a whole number, 0 or more, got {value!r}")

    def daily_cap(self, action: CappedAction) -> int:
        """How many of `action` the sender may perform per local calendar day."""
        match action:
            case CappedAction.INVITE:
                return self.daily_invites
            case CappedAction.PROFILE_VISIT:
                return self.daily_profile_visits
            case CappedAction.FOLLOW_UP:
                return self.daily_follow_ups
            case CappedAction.INMAIL:
                return self.daily_inmails
            case CappedAction.WITHDRAWAL:
                return self.daily_withdrawals

    def weekly_cap(self, action: CappedAction) -> int | None:
        """How many of `action` per rolling 7 days, or None when uncapped; only invites have one."""
        return self.weekly_invites if action is CappedAction.INVITE else None


@dataclass(frozen=True)
class WorkingHours:
    """Wall-clock hours [start, end) on the given ISO weekdays (1 = Monday … 7 = Sunday).

    Invariants (`ValueError` otherwise): start < end, both without tzinfo; at least one day, each
    in 1..7.
    """

    start: time = time(9)
    end: time = time(18)
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("Working hours are wall-clock times: give them without a time zone")
        if not self.start < self.end:
            raise ValueError(
                "Working hours must start before they end, got "
                f"{self.start.isoformat('minutes')}–{self.end.isoformat('minutes')}"
            )
        days = frozenset(self.days)
        if not days:
            raise ValueError("Working hours need at least one working day")
        wrong = [d for d in days if type(d) is not int or not 1 <= d <= 7]
        if wrong:
            raise ValueError(
                f"Working days are ISO weekdays from 1 (Monday) to 7 (Sunday), got {wrong!r}"
            )
        object.__setattr__(self, "days", days)

    def contains(self, local: datetime) -> bool:
        """Whether the wall clock of `local` (aware in its own zone, or naive) is in the hours."""
        return local.isoweekday() in self.days and self.start <= local.time() < self.end

    def next_open(self, local: datetime) -> datetime:
        """The earliest instant at or after `local` that `contains` accepts, in `local`'s zone.

        For an aware `local` this is DST-correct: an opening that falls in a spring-forward gap is
        the instant the clock jumps; on a fall-back day the repeated hour is considered twice. A
        naive `local` is read as a wall clock without daylight saving; the result is naive too.
        """
        if local.tzinfo is None:
            return self.next_open(local.replace(tzinfo=UTC)).replace(tzinfo=None)
        if self.contains(local):
            return local
        zone = local.tzinfo
        instant = local.astimezone(UTC)
        day = local.date()
        for _ in range(_SEARCH_DAYS):
            if day.isoweekday() in self.days:
                for candidate in _clock_entries(day, self.start, zone):
                    if candidate >= instant and self.contains(candidate.astimezone(zone)):
                        return candidate.astimezone(zone)
            day += _ONE_DAY
        raise AssertionError(f"no working hours found within {_SEARCH_DAYS} days of {local}")


@dataclass(frozen=True)
class SenderPacing:
    """Everything pacing needs to know about one sender.

    Invariants (`ValueError` otherwise): `timezone` is a known IANA name; `cooldown_until`, when
    set, is aware (it is stored in UTC). The cooldown holds back invites only.
    """

    limits: SenderLimits = field(default_factory=SenderLimits)
    hours: WorkingHours = field(default_factory=WorkingHours)
    timezone: str = "UTC"
    cooldown_until: datetime | None = None

    def __post_init__(self) -> None:
        validate_timezone(self.timezone)
        if self.cooldown_until is not None:
            cooldown_until = _to_utc(self.cooldown_until, "cooldown_until")
            object.__setattr__(self, "cooldown_until", cooldown_until)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class PacingDecision:
    """Whether an action may go at the instant asked about, and if not, why and from when.

    Invariants: `reason` is None exactly when `allowed`; `earliest` is UTC, equals the instant asked
    about when allowed and is later than it otherwise — `NEVER` when a cap of 0 holds it back.
    """

    allowed: bool
    reason: WaitingReason | None
    earliest: datetime

    def __post_init__(self) -> None:
        if self.allowed != (self.reason is None):
            raise ValueError("A decision has a waiting reason exactly when it is not allowed")
        object.__setattr__(self, "earliest", _to_utc(self.earliest, "earliest"))

    @property
    def never(self) -> bool:
        """Whether the action can never go (its cap is 0)."""
        return self.earliest >= NEVER


def decide(
    pacing: SenderPacing, action: CappedAction, *, recent: Sequence[datetime], now: datetime
) -> PacingDecision:
    """May the sender perform one more `action` at `now`, given the instants in `recent`?

    `recent` holds the instants at which the sender already performed this kind of action,
    covering at least the last 7 days; older ones are ignored. `earliest` is the first instant
    >= now at which the cooldown (invites only), the working hours, the weekly cap (invites only)
    and the daily cap all hold at once.

    The reason is a constraint violated at `now` — so a label never says "outside working hours"
    inside them — and, among those, the one that binds: without it the action could go earlier.
    When several bind, the first of COOLDOWN, WEEKLY_CAP, DAILY_CAP, WORKING_HOURS wins: a full
    Friday reports DAILY_CAP even though the weekend also keeps it until Monday's opening, while a
    cooldown that ends on Saturday morning reports WORKING_HOURS, since it changes nothing. When
    none binds alone (each would hold it until the same instant), the first violated one in that
    order is reported.
    """
    now_utc = _to_utc(now, "now")
    schedule = _Schedule(pacing, action, recent, now_utc)
    earliest = schedule.earliest(now_utc)
    if earliest == now_utc:
        return PacingDecision(allowed=True, reason=None, earliest=now_utc)
    return PacingDecision(
        allowed=False, reason=schedule.binding_reason(now_utc, earliest), earliest=earliest
    )


def what_holds(
    pacing: SenderPacing,
    action: CappedAction,
    *,
    recent: Sequence[datetime],
    now: datetime,
    recent_sorted_utc: bool = False,
) -> PacingDecision:
    """Like `decide`, but the reason names the constraint that holds the action over its whole
    wait, not only at `now`: the first (in `decide`'s order) without which it could go earlier.

    A third invite on a Saturday, under a daily cap of 2 already taken by Monday's opening, waits
    for the daily cap (it would go Monday without it), not for the weekend.

    `recent_sorted_utc`: the caller vouches that `recent` is sorted and in UTC (the queue's
    explanation asks hundreds of times over thousands of sends), so it is not converted and sorted
    again.
    """
    now_utc = _to_utc(now, "now")
    schedule = _Schedule(pacing, action, recent, now_utc, presorted=recent_sorted_utc)
    earliest = schedule.earliest(now_utc)
    if earliest == now_utc:
        return PacingDecision(allowed=True, reason=None, earliest=now_utc)
    for constraint in _REASON_PRIORITY:
        if schedule.earliest(now_utc, ignoring=constraint) < earliest:
            return PacingDecision(allowed=False, reason=constraint, earliest=earliest)
    return PacingDecision(
        allowed=False, reason=schedule.binding_reason(now_utc, earliest), earliest=earliest
    )


def available_slots(
    pacing: SenderPacing, action: CappedAction, *, recent: Sequence[datetime], now: datetime
) -> int:
    """How many of `action` may go at `now`: the room left under the daily and weekly caps.

    0 outside working hours and, for invites, during the cooldown. Positive exactly when `decide`
    allows the action at `now`.
    """
    now_utc = _to_utc(now, "now")
    return _Schedule(pacing, action, recent, now_utc).free_slots(now_utc)


def projected_times(
    pacing: SenderPacing,
    action: CappedAction,
    *,
    recent: Sequence[datetime],
    now: datetime,
    count: int,
) -> list[datetime]:
    """When the next `count` queued actions are expected to go, if each goes as soon as allowed.

    The result is sorted, starts no earlier than `now`, and each instant is what `decide` would
    answer given `recent` plus the instants before it. Actions that may go at the same instant
    share it (the engine sends them in the same cycle). Under a cap of 0 every instant is `NEVER`.
    The search jumps from opening to opening, so its cost grows with the number of distinct
    instants, not with the time span. `ValueError` if `count` is negative.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    now_utc = _to_utc(now, "now")
    schedule = _Schedule(pacing, action, recent, now_utc)
    times: list[datetime] = []
    at = now_utc
    while len(times) < count:
        at = schedule.earliest(at)
        if at >= NEVER:
            times.extend(itertools.repeat(NEVER, count - len(times)))
            break
        batch = min(schedule.free_slots(at), count - len(times))
        times.extend(itertools.repeat(at, batch))
        schedule.record(at, batch)
    return times


# Constraints in the order the search applies them (cheapest first) and in the order reasons win.
_SEARCH_ORDER = (
    WaitingReason.COOLDOWN,
    WaitingReason.WORKING_HOURS,
    WaitingReason.WEEKLY_CAP,
    WaitingReason.DAILY_CAP,
)
_REASON_PRIORITY = (
    WaitingReason.COOLDOWN,
    WaitingReason.WEEKLY_CAP,
    WaitingReason.DAILY_CAP,
    WaitingReason.WORKING_HOURS,
)


class _Ledger:
    """The sorted UTC instants of one sender's sends of one kind."""

    __slots__ = ("_times",)

    def __init__(self, times: Iterable[datetime], *, presorted: bool = False) -> None:
        self._times = list(times) if presorted else sorted(times)

    def count_from(self, start: datetime, end: datetime) -> int:
        """Sends in [start, end)."""
        return bisect.bisect_left(self._times, end) - bisect.bisect_left(self._times, start)

    def count_in_week_to(self, at: datetime) -> int:
        """Sends in the weekly window at `at`: (at - 7 days, at]."""
        times = self._times
        return bisect.bisect_right(times, at) - bisect.bisect_right(times, at - ROLLING_WEEK)

    def week_release(self, at: datetime, cap: int) -> datetime:
        """The instant enough old sends leave the full window at `at` to leave room for one more."""
        first = bisect.bisect_right(self._times, at - ROLLING_WEEK)
        in_window = bisect.bisect_right(self._times, at) - first
        return self._times[first + in_window - cap] + ROLLING_WEEK

    def record(self, at: datetime, count: int) -> None:
        position = bisect.bisect_right(self._times, at)
        self._times[position:position] = itertools.repeat(at, count)


class _Schedule:
    """One sender's constraints on one action, evaluated at UTC instants."""

    def __init__(
        self,
        pacing: SenderPacing,
        action: CappedAction,
        recent: Sequence[datetime],
        now: datetime,
        *,
        presorted: bool = False,
    ) -> None:
        self.hours = pacing.hours
        self.zone = pacing.zone
        self.daily_cap = pacing.limits.daily_cap(action)
        self.weekly_cap = pacing.limits.weekly_cap(action)
        self.cooldown_until = pacing.cooldown_until if action is CappedAction.INVITE else None
        # Every instant asked about is >= now, so sends before the window at now never count again:
        # a local day is shorter than the week, and windows only move forward.
        horizon = now - ROLLING_WEEK
        if presorted:
            self.ledger = _Ledger(recent[bisect.bisect_right(recent, horizon) :], presorted=True)
            return
        sends = (_to_utc(sent, "recent") for sent in recent)
        self.ledger = _Ledger(sent for sent in sends if sent > horizon)

    def record(self, at: datetime, count: int) -> None:
        self.ledger.record(at, count)

    def next_allowed_by(self, constraint: WaitingReason, at: datetime) -> datetime | None:
        """None if `constraint` holds at `at`, else the first later instant it may hold."""
        match constraint:
            case WaitingReason.COOLDOWN:
                if self.cooldown_until is not None and at < self.cooldown_until:
                    return self.cooldown_until
            case WaitingReason.WORKING_HOURS:
                local = at.astimezone(self.zone)
                if not self.hours.contains(local):
                    return self.hours.next_open(local).astimezone(UTC)
            case WaitingReason.WEEKLY_CAP:
                cap = self.weekly_cap
                if cap == 0:
                    return NEVER
                if cap is not None and self.ledger.count_in_week_to(at) >= cap:
                    return self.ledger.week_release(at, cap)
            case WaitingReason.DAILY_CAP:
                if self.daily_cap == 0:
                    return NEVER
                day_start, day_end = _local_day(at, self.zone)
                if self.ledger.count_from(day_start, day_end) >= self.daily_cap:
                    return day_end
            case _:
                raise AssertionError(f"{constraint} is not a pacing constraint")
        return None

    def earliest(self, at: datetime, *, ignoring: WaitingReason | None = None) -> datetime:
        """The first instant >= `at` where every constraint (but `ignoring`) holds.

        Each step moves the candidate to the first instant the violated constraint could hold, never
        past a valid instant, so the fixed point is the earliest; every step moves strictly forward.
        """
        while at < NEVER:
            for constraint in _SEARCH_ORDER:
                if constraint is ignoring:
                    continue
                later = self.next_allowed_by(constraint, at)
                if later is not None:
                    at = later
                    break
            else:
                return at
        return NEVER

    def binding_reason(self, now: datetime, earliest: datetime) -> WaitingReason:
        violated = [c for c in _REASON_PRIORITY if self.next_allowed_by(c, now) is not None]
        for constraint in violated:
            if self.earliest(now, ignoring=constraint) < earliest:
                return constraint
        if not violated:
            raise AssertionError("an action held back at now violates some constraint at now")
        return violated[0]

    def free_slots(self, at: datetime) -> int:
        if self.next_allowed_by(WaitingReason.COOLDOWN, at) is not None:
            return 0
        if self.next_allowed_by(WaitingReason.WORKING_HOURS, at) is not None:
            return 0
        day_start, day_end = _local_day(at, self.zone)
        room = self.daily_cap - self.ledger.count_from(day_start, day_end)
        if self.weekly_cap is not None:
            room = min(room, self.weekly_cap - self.ledger.count_in_week_to(at))
        return max(room, 0)


def _to_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _local_day(at: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC bounds [start, end) of the local calendar day that contains `at`."""
    day = at.astimezone(zone).date()
    start, end = _day_start(day, zone), _day_start(day + _ONE_DAY, zone)
    # Where a clock falls back across midnight, an instant can read the previous date after the next
    # day began; it belongs to the day whose bounds contain it.
    while at >= end:
        day += _ONE_DAY
        start, end = end, _day_start(day + _ONE_DAY, zone)
    while at < start:
        day -= _ONE_DAY
        start, end = _day_start(day, zone), start
    return start, end


def _day_start(day: date, zone: tzinfo) -> datetime:
    """The first UTC instant whose local date is `day`: midnight, or the jump that skips it."""
    return _instants_reading(day, time(0), zone)[0]


@lru_cache(maxsize=8192)
def _instants_reading(day: date, wall: time, zone: tzinfo) -> tuple[datetime, ...]:
    """The UTC instants at which the local clock first reads `wall` or later on `day`, in order.

    Usually one; two when `wall` repeats as a clock falls back; when `wall` is skipped as a clock
    springs forward, the instant of the jump.
    """
    naive = datetime.combine(day, wall.replace(fold=0))
    found: list[datetime] = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant not in found:
            found.append(instant)
    if not found:
        before, after = sorted(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
        found.append(_offset_change(before, after, zone))
    return tuple(sorted(found))


@lru_cache(maxsize=8192)
def _clock_entries(day: date, wall: time, zone: tzinfo) -> tuple[datetime, ...]:
    """The UTC instants around `day` at which the clock may enter hours that start at `wall`.

    It enters when it reaches `wall` going forward, or when it is set back into the hours at a
    daylight-saving change that day.
    """
    entries = set(_instants_reading(day, wall, zone))
    start, end = _day_start(day, zone), _day_start(day + _ONE_DAY, zone)
    if start.astimezone(zone).utcoffset() != end.astimezone(zone).utcoffset():
        entries.add(_offset_change(start, end, zone))
    return tuple(sorted(entries))


def _offset_change(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The first instant in (before, after] with `after`'s UTC offset, by bisection."""
    target = after.astimezone(zone).utcoffset()
    while after - before > _RESOLUTION:
        middle = before + (after - before) // 2
        if middle.astimezone(zone).utcoffset() == target:
            after = middle
        else:
            before = middle
    return after
