"""Read-only aggregates for the dashboard: campaign cards, funnels, progress, alerts, a 30-day chart."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.campaigns.schemas import CampaignStats
from app.campaigns.service import campaign_stats
from app.dashboard import repository
from app.domain.actions import KINDS_OF
from app.domain.pacing import CappedAction
from app.domain.statuses import ActivityKind, CampaignState, CampaignType, Outcome
from app.models import Campaign, SenderAccount

WARN_AT = 0.8


@dataclass(frozen=True)
class Progress:
    label: str
    used: int
    cap: int

    @property
    def ratio(self) -> float:
        return 1.0 if self.cap == 0 else min(1.0, self.used / self.cap)

    @property
    def level(self) -> str:
        """ok below 80%, warn from 80%, full at 100% (the bar turns yellow, then red)."""
        if self.cap == 0 or self.used >= self.cap:
            return "full"
        return "warn" if self.used / self.cap >= WARN_AT else "ok"

    @property
    def percent(self) -> int:
        return round(self.ratio * 100)


@dataclass(frozen=True)
class FunnelBar:
    label: str
    count: int
    status: str | None  # the status tab the bar opens; None = all contacts
    filter_query: str

    def share(self, total: int) -> float:
        return 0.0 if total == 0 else self.count / total


@dataclass
class CampaignCard:
    campaign: Campaign
    sender: SenderAccount
    stats: CampaignStats
    progress: list[Progress] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    funnel: list[FunnelBar] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float | None:
        """Contacts who accepted an invite of the campaign ÷ contacts it invited (SPEC §2); those
        already connected when visited are in neither number. None while nobody was invited."""
        if self.campaign.type is not CampaignType.CONNECTION:
            return None
        return self.stats.acceptance_rate


def _local_day_start(now: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone)


def sender_progress(session: Session, sender: SenderAccount, now: datetime) -> list[Progress]:
    """Today's invites and messages against the daily caps, and the rolling week's invites."""
    day_start = _local_day_start(now, sender.timezone)
    week_start = now - timedelta(days=7)
    rows = repository.capped_actions_by_kind(
        session, sender_id=sender.id, day_start=day_start, week_start=week_start
    )
    today: dict[ActivityKind, int] = defaultdict(int)
    week: dict[ActivityKind, int] = defaultdict(int)
    for kind, n_week, n_today in rows:
        week[kind] += int(n_week)
        today[kind] += int(n_today or 0)
    messages = sum(today[k] for k in KINDS_OF[CappedAction.FOLLOW_UP])
    return [
        Progress("Invites today", today[ActivityKind.CONNECTION_REQUEST], sender.daily_invites),
        Progress("Invites this week", week[ActivityKind.CONNECTION_REQUEST], sender.weekly_invites),
        Progress("Messages today", messages, sender.daily_follow_ups),
        Progress("InMails today", today[ActivityKind.INMAIL], sender.daily_inmails),
    ]


def count_archived(session: Session, *, workspace_id: int) -> int:
    """How many campaigns the overview hides under "Archived"."""
    return repository.count_archived(session, workspace_id=workspace_id)


def funnel(stats: CampaignStats, campaign_id: int) -> list[FunnelBar]:
    """imported → verified → invited → accepted, with those already connected when visited apart,
    withdrawn and replied; each bar opens exactly the contacts it counts."""
    verified = stats.total - stats.not_verified
    return [
        FunnelBar("Imported", stats.total, None, ""),
        FunnelBar(
            "Verified",
            verified,
            "not_connected",
            "status=not_connected&status=invite_sent&status=connected&status=withdrawn",
        ),
        FunnelBar("Invited", stats.invited, "invite_sent", "reached=invited"),
        FunnelBar("Accepted", stats.accepted, "connected", "reached=accepted"),
        FunnelBar(
            "Already connected",
            stats.already_connected,
            "connected",
            "reached=already_connected",
        ),
        FunnelBar("Withdrawn", stats.withdrawn, "withdrawn", "status=withdrawn"),
        FunnelBar("Replied", stats.replied, "connected", "reached=replied"),
    ]


def overview(
    session: Session, *, workspace_id: int, now: datetime, archived: bool = False
) -> list[CampaignCard]:
    """A card per campaign: the live ones (draft, running, paused), or the archived ones."""
    campaigns = repository.workspace_campaigns(session, workspace_id, archived=archived)
    ids = [c.id for c in campaigns]
    stats = campaign_stats(session, ids)
    senders = repository.senders_by_id(session, {c.sender_id for c in campaigns})
    pending = repository.campaigns_with_pending(session, ids)
    progress_cache: dict[int, list[Progress]] = {}
    cards = []
    for c in campaigns:
        sender = senders[c.sender_id]
        if sender.id not in progress_cache:
            progress_cache[sender.id] = sender_progress(session, sender, now)
        card = CampaignCard(
            campaign=c, sender=sender, stats=stats[c.id], progress=progress_cache[sender.id]
        )
        card.funnel = funnel(card.stats, c.id)
        if c.type is not CampaignType.CONNECTION:
            card.funnel = card.funnel[:2] + card.funnel[3:4]
        s = card.stats
        workable = s.not_verified + (
            s.not_connected if c.type is not CampaignType.EXISTING_CONNECTIONS else 0
        )
        if c.state is CampaignState.RUNNING and c.id not in pending and workable == 0:
            card.alerts.append("Nothing left to send: add contacts or archive the campaign.")
        if c.state is CampaignState.RUNNING and s.total == 0:
            card.alerts.append("No contacts yet: import a CSV to start.")
        if sender.cooldown_until and sender.cooldown_until > now:
            card.alerts.append(
                f"Invites paused after LinkedIn's rate limit until {sender.cooldown_until:%b %d, %H:%M} UTC."
            )
        full = [p.label for p in card.progress if p.level == "full" and p.cap]
        if full and c.state is CampaignState.RUNNING:
            card.alerts.append(f"Limit reached: {', '.join(full).lower()}.")
        cards.append(card)
    return cards


@dataclass(frozen=True)
class DayBar:
    day: date
    success: int
    error: int


DayCounts = dict[date, tuple[int, int]]  # day → (succeeded, failed)


class ClosedDays:
    """A process's memo of the chart's closed days (before today, UTC), per workspace.

    A day that has ended almost never changes: actions are stamped when they are reported, so
    its counts are read once, not on every overview, and the page scans today's actions only,
    however busy the last month was. An entry lives `ttl_seconds`, which bounds how long the
    rare change to a past day takes to show (a deletion such as an undone import, or a sandbox
    acceptance dated back after the engine was stopped). At most `max_entries` workspaces are
    remembered, the least recently used going first; expired entries go as new ones come."""

    def __init__(self, ttl_seconds: float = 600.0, max_entries: int = 1_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, date, date], tuple[float, DayCounts]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, date, date]) -> DayCounts | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] <= time.monotonic():
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: tuple[int, date, date], counts: DayCounts) -> None:
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (expires, _) in self._entries.items() if expires <= now]:
                del self._entries[old]
            while len(self._entries) >= self.max_entries:
                self._entries.popitem(last=False)
            self._entries[key] = (now + self.ttl, counts)


def actions_per_day(
    session: Session,
    *,
    workspace_id: int,
    now: datetime,
    days: int = 30,
    closed_days: ClosedDays | None = None,
) -> list[DayBar]:
    """Completed actions per UTC day by outcome, for the last `days` days (a day with none shows 0).

    Grouped by the database: the page reads at most days × outcomes rows, not one row per action
    (thousands a day in a busy workspace). With `closed_days`, the days before today come from that
    memo when it has them, and only today's actions are counted.
    """
    now = now.astimezone(UTC)  # days are UTC days, as the database groups them
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    start = today - timedelta(days=days - 1)
    if closed_days is None:
        per_day = _count_days(session, workspace_id=workspace_id, since=start, until=None)
    else:
        key = (workspace_id, start.date(), today.date())
        earlier = closed_days.get(key)
        if earlier is None:
            earlier = _count_days(session, workspace_id=workspace_id, since=start, until=today)
            closed_days.put(key, earlier)
        latest = _count_days(session, workspace_id=workspace_id, since=today, until=None)
        per_day = {**earlier, **latest}
    return [
        DayBar(d, *per_day.get(d, (0, 0)))
        for d in (start.date() + timedelta(days=i) for i in range(days))
    ]


def _count_days(
    session: Session, *, workspace_id: int, since: datetime, until: datetime | None
) -> DayCounts:
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for on, outcome, n in repository.actions_by_day(
        session, workspace_id=workspace_id, since=since, until=until
    ):
        if on is None:
            continue
        key = on if isinstance(on, date) else date.fromisoformat(on)
        per_day[key][0 if outcome is Outcome.SUCCESS else 1] += int(n)
    return {d: (ok, failed) for d, (ok, failed) in per_day.items()}
