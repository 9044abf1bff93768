"""The overview chart's memo of finished days: bounded, least recently used first, expiring."""

from __future__ import annotations

from datetime import date

from app.dashboard.service import ClosedDays

DAY = date(2026, 3, 2)


def key(workspace: int) -> tuple[int, date, date]:
    return (workspace, DAY, DAY)


def test_keeps_the_most_recently_used_workspaces() -> None:
    memo = ClosedDays(max_entries=2)
    memo.put(key(1), {DAY: (1, 0)})
    memo.put(key(2), {DAY: (2, 0)})
    assert memo.get(key(1)) == {DAY: (1, 0)}  # 1 is now the most recent
    memo.put(key(3), {DAY: (3, 0)})
    assert memo.get(key(2)) is None
    assert memo.get(key(1)) == {DAY: (1, 0)} and memo.get(key(3)) == {DAY: (3, 0)}


def test_entries_expire_and_expired_ones_are_dropped() -> None:
    memo = ClosedDays(ttl_seconds=0)
    memo.put(key(1), {DAY: (1, 0)})
    assert memo.get(key(1)) is None
    memo.put(key(2), {DAY: (2, 0)})
    assert list(memo._entries) == [key(2)]  # 1 went when 2 came
