"""How events reach the log (SPEC §4 Events; app/events/numbering.py), on both databases.

PostgreSQL: a writer leaves ONE row per batch in `event_batches`, in its own transaction (rolled
back with it), and the numberer turns the committed batches into numbered events, in the order
they were written, a batch committed late after those committed before it. SQLite: the writer
numbers its events as it inserts them (its transactions are serialised), so no batch row is ever
written; each test asserts that side there. Either way each workspace's `seq` runs 1, 2, 3 …
without a gap, whatever mix of single events and bulk batches wrote them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.contacts.service import add_contacts
from app.db import make_sessionmaker
from app.events import outbox, repository
from app.events.numbering import number_once, number_pending
from app.events.types import EventType
from app.models import Contact, Event
from app.models.event import EventBatch, LoggedEvent
from tests.builders import a_campaign, a_workspace
from tests.conftest import T0
from tests.live import committed, drop_workspace

SUMMARY_KEYS = {
    "id",
    "campaign_id",
    "linkedin_url",
    "first_name",
    "last_name",
    "email",
    "company",
    "status",
}


def batches_by_writers(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def batch_rows(session: Session, workspace_id: int) -> list[EventBatch]:
    return list(
        session.scalars(
            select(EventBatch)
            .where(EventBatch.workspace_id == workspace_id)
            .order_by(EventBatch.id)
        )
    )


def log_of(session: Session, workspace_id: int) -> list[LoggedEvent]:
    """The workspace's numbered events, in `seq` order, as the readers get them (a packed run of
    `contact.created` events unpacked)."""
    return repository.numbered_page(
        session, workspace_id=workspace_id, after=0, upto=2**62, limit=10**6, types=None
    )


def state_changed(workspace_id: int, mark: str) -> dict[str, Any]:
    """An event row as a change writes it, told apart by its `mark`."""
    return outbox.event_row(
        workspace_id=workspace_id,
        type=EventType.CAMPAIGN_STATE_CHANGED,
        data={"campaign_id": 0, "from": "draft", "to": "running", "mark": mark},
        now=T0,
    )


def add(session: Session, workspace_id: int, campaign_id: int, names: list[str]) -> list[int]:
    """A bulk add (one batch of contact.created events); the new contacts' ids, in order."""
    result = add_contacts(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        items=[
            {"linkedin_url": f"https://www.linkedin.com/in/person-{n}", "first_name": n}
            for n in names
        ],
        now=T0,
    )
    assert not result.invalid and not result.duplicates
    urls = [f"https://www.linkedin.com/in/person-{n}" for n in names]
    ids = dict(
        session.execute(
            select(Contact.linkedin_url, Contact.id).where(
                Contact.campaign_id == campaign_id, Contact.linkedin_url.in_(urls)
            )
        ).all()
    )
    return [ids[url] for url in urls]


def marks(events: list[Event]) -> list[str]:
    """What each event is, as the tests wrote it: a state change's mark, a contact's first name."""
    return [
        e.data["contact"]["first_name"] if e.type == "contact.created" else e.data["mark"]
        for e in events
    ]


# ---------------------------------------------------------------- the writer's transaction


def test_a_batch_is_written_in_the_writers_transaction_and_rolled_back_with_it(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    ws = a_workspace(session)
    number_pending(session_factory)
    with session.begin_nested() as savepoint:
        outbox.record_many(session, [state_changed(ws.id, "first"), state_changed(ws.id, "second")])
        if batches_by_writers(session):
            # ONE row for the change's two events, not yet in the log.
            (batch,) = batch_rows(session, ws.id)
            assert batch.event_count == 2 and batch.recorded_at == T0
            assert [e["data"]["mark"] for e in batch.events] == ["first", "second"]
            assert log_of(session, ws.id) == []
            assert repository.has_unnumbered(session)
        else:
            # Numbered as they are written: readable, in order, when the writer commits.
            assert batch_rows(session, ws.id) == []
            assert [(e.seq, e.data["mark"]) for e in log_of(session, ws.id)] == [
                (1, "first"),
                (2, "second"),
            ]
        savepoint.rollback()
    assert batch_rows(session, ws.id) == []
    assert session.scalar(select(func.count()).where(Event.workspace_id == ws.id)) == 0
    assert not repository.has_unnumbered(session)
    assert number_pending(session_factory) == 0


# ---------------------------------------------------------------- what the numberer makes of them


def test_batches_become_numbered_events_in_order_with_their_documented_data(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    ws = a_workspace(session)
    campaign = a_campaign(session, ws)
    number_pending(session_factory)
    head = len(log_of(session, ws.id))
    happened = T0 - timedelta(days=1, microseconds=-123456)  # reported in the past, to the µs
    outbox.record(
        session,
        workspace_id=ws.id,
        type=EventType.CAMPAIGN_STATE_CHANGED,
        data={"campaign_id": campaign.id, "from": "draft", "to": "running", "mark": "single"},
        now=T0,
        occurred_at=happened,
    )
    ids = add(session, ws.id, campaign.id, ["ana", "bo", "cy"])
    outbox.record_many(session, [state_changed(ws.id, "after-1"), state_changed(ws.id, "after-2")])
    if batches_by_writers(session):
        assert [b.event_count for b in batch_rows(session, ws.id)] == [1, 3, 2]
        assert number_pending(session_factory) == 6
        assert batch_rows(session, ws.id) == []
    else:
        assert batch_rows(session, ws.id) == []
        assert number_pending(session_factory) == 0  # numbered as they were written
    events = log_of(session, ws.id)[head:]
    assert [e.seq for e in events] == list(range(head + 1, head + 7))
    assert marks(events) == ["single", "ana", "bo", "cy", "after-1", "after-2"]
    assert all(e.uid.startswith("evt_") and len(e.uid) == 36 for e in events)
    assert len({e.uid for e in events}) == 6
    single = events[0]
    assert single.occurred_at == happened and single.recorded_at == T0
    assert single.data == {
        "campaign_id": campaign.id,
        "from": "draft",
        "to": "running",
        "mark": "single",
    }
    created = events[1:4]
    assert {e.type for e in created} == {"contact.created"}
    assert all(e.occurred_at == e.recorded_at == T0 for e in created)
    assert created[0].data == {
        "contact": {
            "id": ids[0],
            "campaign_id": campaign.id,
            "linkedin_url": "https://www.linkedin.com/in/person-ana",
            "first_name": "ana",
            "last_name": None,
            "email": None,
            "company": None,
            "status": "not_verified",
        },
        "source": "api",
        "cause": "api",
    }
    assert [e.data["contact"]["id"] for e in created] == ids
    assert all(set(e.data["contact"]) == SUMMARY_KEYS for e in created)


def test_a_pass_takes_whole_batches_until_it_has_enough_events(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    ws = a_workspace(session)
    campaign = a_campaign(session, ws)
    number_pending(session_factory)
    add(session, ws.id, campaign.id, [f"p{i}" for i in range(5)])
    outbox.record_many(session, [state_changed(ws.id, "last")])
    if not batches_by_writers(session):
        assert number_once(session, batch=2) == 0  # nothing waits on SQLite
        return
    # The bulk add's batch is never split: a pass of 2 numbers its 5 events, then the next one.
    assert number_once(session, batch=2) == 5
    assert [b.event_count for b in batch_rows(session, ws.id)] == [1]
    assert number_once(session, batch=2) == 1
    assert number_once(session, batch=2) == 0
    assert marks(log_of(session, ws.id))[-6:] == ["p0", "p1", "p2", "p3", "p4", "last"]


def test_single_events_and_bulk_batches_keep_each_workspaces_numbers_dense(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    a, b = a_workspace(session), a_workspace(session)
    ca, cb = a_campaign(session, a), a_campaign(session, b)
    number_pending(session_factory)
    heads = {a.id: len(log_of(session, a.id)), b.id: len(log_of(session, b.id))}
    outbox.record_many(session, [state_changed(a.id, "a1")])
    add(session, b.id, cb.id, ["b-ann", "b-ben", "b-cat", "b-dan"])
    outbox.record_many(session, [state_changed(a.id, "a2"), state_changed(a.id, "a3")])
    add(session, a.id, ca.id, ["a-eve", "a-fay"])
    # One change writing to both workspaces: a batch row for each.
    outbox.record_many(session, [state_changed(b.id, "b1"), state_changed(a.id, "a4")])
    if batches_by_writers(session):
        assert len(batch_rows(session, a.id)) == 4 and len(batch_rows(session, b.id)) == 2
    # Small passes, so the workspaces' batches are numbered over several of them.
    while number_once(session, batch=3):
        pass
    assert not repository.has_unnumbered(session)
    log_a, log_b = log_of(session, a.id)[heads[a.id] :], log_of(session, b.id)[heads[b.id] :]
    assert marks(log_a) == ["a1", "a2", "a3", "a-eve", "a-fay", "a4"]
    assert marks(log_b) == ["b-ann", "b-ben", "b-cat", "b-dan", "b1"]
    assert [e.seq for e in log_a] == list(range(heads[a.id] + 1, heads[a.id] + 7))
    assert [e.seq for e in log_b] == list(range(heads[b.id] + 1, heads[b.id] + 6))
    assert repository.head(session, a.id)[0] == heads[a.id] + 6
    assert repository.head(session, b.id)[0] == heads[b.id] + 5


def test_rows_written_before_the_batches_are_numbered_too(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    ws = a_workspace(session)
    number_pending(session_factory)
    # The previous writers' form: rows of the log without a number.
    legacy = [{**state_changed(ws.id, f"old-{i}"), "seq": None} for i in range(2)]
    session.execute(insert(Event), legacy)
    outbox.record_many(session, [state_changed(ws.id, "new")])
    assert repository.has_unnumbered(session)
    number_pending(session_factory)
    assert not repository.has_unnumbered(session)
    events = log_of(session, ws.id)
    assert [e.seq for e in events] == [1, 2, 3]
    if batches_by_writers(session):
        assert marks(events) == ["old-0", "old-1", "new"]  # the older rows first
    else:
        assert marks(events) == ["new", "old-0", "old-1"]  # "new" was numbered as written


# ---------------------------------------------------------------- commits out of order


@pytest.fixture
def live_workspace(db_engine: Engine) -> Iterator[int]:
    with committed(db_engine) as session:
        workspace_id = a_workspace(session).id
    try:
        yield workspace_id
    finally:
        drop_workspace(db_engine, workspace_id)
        with committed(db_engine) as session:
            # The workspace's events and batches went with it.
            assert log_of(session, workspace_id) == []
            assert batch_rows(session, workspace_id) == []


def test_a_batch_committed_late_is_numbered_after_those_committed_before_it(
    db_engine: Engine, live_workspace: int
) -> None:
    ws = live_workspace
    factory = make_sessionmaker(db_engine)
    held = factory()
    try:
        held.begin()
        outbox.record_many(held, [state_changed(ws, "late")])  # its batch id is drawn first
        if not batches_by_writers(held):
            # SQLite: the held writer has already numbered its event (no other writer can
            # commit before it: it holds the write lock).
            assert [(e.seq, e.data["mark"]) for e in log_of(held, ws)] == [(1, "late")]
            held.commit()
            with factory() as session:
                assert not repository.has_unnumbered(session)
                assert [e.seq for e in log_of(session, ws)] == [1]
            return
        with factory.begin() as other:
            outbox.record_many(other, [state_changed(ws, "early-1"), state_changed(ws, "early-2")])
        number_pending(factory)
        with factory() as session:
            assert [(e.seq, e.data["mark"]) for e in log_of(session, ws)] == [
                (1, "early-1"),
                (2, "early-2"),
            ]
            assert batch_rows(session, ws) == []  # the held batch: invisible until it commits
        held.commit()
        number_pending(factory)
        with factory() as session:
            assert [(e.seq, e.data["mark"]) for e in log_of(session, ws)] == [
                (1, "early-1"),
                (2, "early-2"),
                (3, "late"),
            ]
    finally:
        held.close()


def test_a_deleted_workspace_takes_its_events_and_batches_with_it(db_engine: Engine) -> None:
    """The log has no foreign key to `workspaces` (the numberer would check it for every event it
    inserts): a trigger deletes a workspace's events with it; its batches cascade."""
    with committed(db_engine) as session:
        ws = a_workspace(session).id
        outbox.record_many(session, [state_changed(ws, "numbered")])
    number_pending(make_sessionmaker(db_engine))
    with committed(db_engine) as session:
        outbox.record_many(session, [state_changed(ws, "waiting")])
    with committed(db_engine) as session:
        if batches_by_writers(session):
            assert marks(log_of(session, ws)) == ["numbered"] and len(batch_rows(session, ws)) == 1
        else:
            assert marks(log_of(session, ws)) == ["numbered", "waiting"]
    drop_workspace(db_engine, ws)
    with committed(db_engine) as session:
        assert session.scalar(select(func.count()).where(Event.workspace_id == ws)) == 0
        assert batch_rows(session, ws) == []
