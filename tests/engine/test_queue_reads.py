"""A sender's queue is read kind by kind: every reader of it (the head and the explanation beyond
it, what is due, the backlog, the follow-ups awaiting an acceptance, the sends counted against a
cap) seeks its own kinds along an index, so a sender's thousands of pending withdrawals after a
sweep are not walked through to find a handful of follow-ups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from app.engine import leasing
from app.queue.explain import explain_sender
from tests.engine.helpers import at, make_world, sandbox_urls


def test_every_reader_of_the_queue_seeks_its_own_kinds(
    session: Session, session_factory: sessionmaker[Session], backend: str
) -> None:
    world = make_world(session, session_factory)
    world.add(sandbox_urls(6))
    world.lease(at(0))  # visits done; invites queued
    connection = session.connection()
    if backend == "postgresql":
        # Its planner reads a table this small whole; the index is what it will seek along.
        indexes = {
            ix["name"]: ix["column_names"] for ix in inspect(connection).get_indexes("activities")
        }
        assert indexes["ix_activities_sender_due"] == [
            "sender_id",
            "outcome",
            "kind",
            "scheduled_for",
        ]
        return

    reads: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "activities.sender_id = ?" in statement and "activities.kind" in statement:
            reads.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        leasing.lease_due_actions(
            session, sender_id=world.sender.id, limit=10, lease_for=timedelta(minutes=5), now=at(1)
        )
        explain_sender(session, sender_id=world.sender.id, now=at(1))
    finally:
        event.remove(connection, "before_cursor_execute", capture)

    assert len(reads) >= 5
    for statement, parameters in reads:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        on_activities = [row[3] for row in plan if " activities USING " in row[3]]
        assert on_activities, (statement, plan)
        assert all("kind=?" in line for line in on_activities), (statement, on_activities)
