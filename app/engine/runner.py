"""Running the engine: one tick at an instant (sweep, observe, schedule, execute, explain)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, sessionmaker

from app.config import EngineMode
from app.db import let_writers_in
from app.domain.errors import ErrorCode
from app.domain.statuses import ActivityKind, Outcome
from app.engine import (
    leasing,
    repository,
    results,
    sandbox_executor,
    scheduling,
    sweeps,
)
from app.errors import Conflict, NotFound
from app.models import SenderAccount

log = logging.getLogger(__name__)
LEASE_FOR = timedelta(minutes=5)
BATCH = 50


@dataclass
class TickReport:
    withdrawn: int = 0
    reinvitable: int = 0
    accepted: int = 0
    replied: int = 0
    queued: int = 0
    executed: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run_tick(factory: sessionmaker[Session], *, now: datetime, mode: EngineMode) -> TickReport:
    """One engine cycle at `now`: sweep, (sandbox) observe, schedule, execute, apply, explain."""
    report = TickReport()
    if mode is EngineMode.OFF:
        return report
    # One process sweeps per tick; the others go straight to their share of the queue. The stale
    # invites go a batch per transaction (each under the sweep's lock), so writers are never held
    # up behind a whole sweep.
    while True:
        with factory.begin() as session:
            if not repository.try_exclusive(session, "engine-sweep"):
                break
            withdrawn = sweeps.withdraw_stale_invites(session, now=now, limit=sweeps.SWEEP_BATCH)
        report.withdrawn += withdrawn
        if withdrawn < sweeps.SWEEP_BATCH:
            break
        let_writers_in(factory)
    with factory.begin() as session:
        if repository.try_exclusive(session, "engine-sweep"):
            report.reinvitable = sweeps.release_old_withdrawals(session, now=now)
    if mode is EngineMode.SANDBOX:
        report.accepted, report.replied = sandbox_executor.observe_sandbox(factory, now=now)
    with factory.begin() as session:
        sender_ids = [s.id for s in repository.active_senders(session)]
    for sender_id in sender_ids:
        with factory.begin() as session:
            report.queued += scheduling.fill_queues(
                session, sender=session.get_one(SenderAccount, sender_id), now=now
            )
        if mode is EngineMode.SANDBOX:
            run_sandbox_actions(factory, sender_id=sender_id, now=now, report=report)
        with factory.begin() as session:
            scheduling.refresh_expectations(
                session, sender=session.get_one(SenderAccount, sender_id), now=now
            )
    return report


def run_sandbox_actions(
    factory: sessionmaker[Session], *, sender_id: int, now: datetime, report: TickReport
) -> None:
    """Lease what is due within the caps, run it against the sandbox, apply each result."""
    while True:
        with factory.begin() as session:
            leased = leasing.lease_due_actions(
                session, sender_id=sender_id, limit=BATCH, lease_for=LEASE_FOR, now=now
            )
        if not leased:
            return
        rate_limited = False
        for action in leased:
            if rate_limited and action.kind is ActivityKind.CONNECTION_REQUEST:
                # LinkedIn just refused an invite for activity limits: hand the rest back, unsent.
                with factory.begin() as session:
                    repository.release_lease(session, action.id)
                continue
            try:
                with factory.begin() as session:
                    # Locked first, then looked at: an action settled meanwhile (a reply,
                    # muting, an acceptance, the integration doing it) is not sent.
                    held = results.lock_for_result(session, action.id)
                    if held.action.outcome is not Outcome.PENDING:
                        continue
                    result = sandbox_executor.sandbox_result(
                        session, action, sender_id=sender_id, now=now
                    )
                    results.apply_result(
                        session,
                        held,
                        lease_token=action.lease_token,
                        result=result,
                        now=now,
                        explain=False,
                    )
            except (NotFound, NoResultFound):
                continue  # gone meanwhile (an import undone): nothing to send
            except Conflict as exc:
                if exc.code != "moot":
                    raise
                # Settled while it was out (a reply, muting, the integration did it): the result
                # is not applied, as for an external executor's late report.
                continue
            report.executed += 1
            report.failed += 0 if result.success else 1
            rate_limited = rate_limited or result.error_code is ErrorCode.TOO_MANY_REQUESTS
