"""Why each pending action waits and when it should go out (SPEC §2 "Activity log", §9).

`explain_sender` re-explains every pending entry of one sender from the caps, working hours,
cooldown, delays and campaign states as they are at `now`. Every step that changes what holds an
action calls it in the same transaction — an action done, an event reported, a pause or resume —
and each engine tick calls it for every active sender (midnight in the sender's timezone), so a
stored explanation is never older than the last such step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.domain.actions import KINDS_OF, MESSAGE_KINDS, QUEUE_HORIZON_DAYS
from app.domain.pacing import (
    ROLLING_WEEK,
    CappedAction,
    SenderPacing,
    WaitingReason,
    projected_times,
    what_holds,
)
from app.domain.statuses import ActivityKind
from app.models import SenderAccount
from app.queue import repository
from app.senders.service import sender_pacing


def explain_sender(
    session: Session,
    *,
    sender_id: int,
    now: datetime,
    caps: Iterable[CappedAction] | None = None,
) -> None:
    """Record on each pending action of the sender why it waits and when it should go out."""
    sender = session.get(SenderAccount, sender_id)
    if sender is None:
        return
    session.flush()
    repository.explain_paused_and_awaiting(session, sender_id=sender.id, now=now)
    pacing = sender_pacing(sender)
    for cap in caps if caps is not None else CappedAction:
        _explain_cap(session, sender, pacing, cap, now)


def _own_delay(kind: ActivityKind, retry: bool) -> WaitingReason:
    """What an action waits for before its own due time: a follow-up's delay, or a retry's."""
    if kind in MESSAGE_KINDS and not retry:
        return WaitingReason.FOLLOW_UP_DELAY
    return WaitingReason.COOLDOWN


def _explain_cap(
    session: Session, sender: SenderAccount, pacing: SenderPacing, cap: CappedAction, now: datetime
) -> None:
    kinds = KINDS_OF[cap]
    horizon = max(1, pacing.limits.daily_cap(cap) * QUEUE_HORIZON_DAYS)
    head = repository.queue_head(session, sender_id=sender.id, kinds=kinds, limit=horizon, now=now)
    if not head:
        return
    recent = repository.sent_times(
        session, sender_id=sender.id, kinds=kinds, since=now - ROLLING_WEEK, now=now
    )
    # Each action takes the first slot at or after both its own due time and the previous slot.
    # A run of actions already due by the time the run starts is projected in one call (the same
    # slots as one at a time: each is what `decide` answers given the ones before it).
    slots: list[datetime] = []
    starts: list[datetime] = []
    assigned = list(recent)
    i = 0
    while i < len(head):
        start = max(now, head[i].scheduled_for or now, slots[-1] if slots else now)
        j = i + 1
        while j < len(head) and (head[j].scheduled_for or now) <= start:
            j += 1
        run = projected_times(pacing, cap, recent=assigned, now=start, count=j - i)
        slots.extend(run)
        starts.extend([start] * len(run))
        assigned.extend(run)
        i = j
    # What holds an action is what holds it from its start given the slots before it; the actions
    # sharing a (start, slot) share the answer, computed once.
    held: dict[tuple[datetime, datetime], WaitingReason] = {}
    changed: list[dict[str, Any]] = []
    # The sends before each action, sorted once: what was sent, then the slots before it (never
    # earlier than what was sent, unless a send is stamped after `now`: then sorted each time).
    sent = sorted(recent)
    in_order = not sent or not slots or sent[-1] <= slots[0]
    for index, (action, slot, start) in enumerate(zip(head, slots, starts, strict=True)):
        own_due = action.scheduled_for or now
        if slot <= max(now, own_due):
            own = own_due > now
            reason = _own_delay(action.kind, action.retry) if own else WaitingReason.QUEUED
        else:
            key = (start, slot)
            if key not in held:
                before = sent + slots[:index]
                if not in_order:
                    before.sort()
                decision = what_holds(pacing, cap, recent=before, now=start, recent_sorted_utc=True)
                held[key] = decision.reason or WaitingReason.DAILY_CAP
            reason = held[key]
        cap_name = cap.cap_name if reason.names_a_cap else None
        if (action.expected_at, action.waiting_reason, action.waiting_cap) != (
            slot,
            reason.value,
            cap_name,
        ):
            changed.append(
                {
                    "id": action.id,
                    "expected_at": slot,
                    "waiting_reason": reason.value,
                    "waiting_cap": cap_name,
                }
            )
    repository.save_explanations(session, changed)
    if len(head) == horizon:
        # Beyond a week of the cap's capacity: held by the daily cap, no time projected yet.
        last = head[-1]
        repository.explain_beyond(
            session,
            sender_id=sender.id,
            kinds=kinds,
            after=(last.scheduled_for or now, last.id),
            waiting_reason=WaitingReason.DAILY_CAP.value,
            waiting_cap=cap.cap_name,
        )
