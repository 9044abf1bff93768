"""The maintained per-campaign counts always equal a full recount, whatever changed the contacts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import EngineMode
from app.demo import seed_demo
from app.engine.runner import run_tick
from app.lifecycle import counts
from app.models import Campaign
from tests.conftest import T0


def snapshot(session: Session) -> dict[int, dict[str, int]]:
    ids = list(session.scalars(select(Campaign.id)))
    return {
        cid: {k: n for k, n in keyed.items() if n}
        for cid, keyed in counts.read_counts(session, ids).items()
    }


def assert_counts_match_a_recount(session: Session) -> None:
    maintained = snapshot(session)
    for cid in maintained:
        counts.recount(session, cid)
    assert maintained == snapshot(session)


def test_counts_follow_demo_engine_sweeps_and_events(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    seed_demo(session, admin_email="c@demo.test", password="password-123", contacts=400, now=T0)
    session.commit()
    assert_counts_match_a_recount(session)
    for hours in (0, 3, 26, 24 * 8, 24 * 22):
        run_tick(session_factory, now=T0 + timedelta(hours=hours), mode=EngineMode.SANDBOX)
    with session_factory() as fresh:
        assert_counts_match_a_recount(fresh)
