"""The event log read while PostgreSQL commits out of order (SPEC §4 Events: "never misses and never
repeats an event, even while writers commit out of order").

A real server (real HTTP, its background numberer running, as under `serve`), a database that
really commits. One writer opens a transaction and writes an event (so it draws the smaller id) and
holds it open; four others add contacts through the API and commit, many times over; a reader polls
`GET /events?after=` the whole time, keeping `next_after`. Only once the reader has read past every
committed event does the held transaction commit. The reader must end with every event exactly
once, in `seq` order, the late one included.

Beside it, a reader with the obvious cursor, the event's id from a sequence ("everything after
id N"), reads the same log the same way: it misses the late event for good. That is the trap the
post-commit numbering exists for (app/events/numbering.py), shown here so the test above is known
to be able to fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from app.campaigns.schemas import CampaignCreate
from app.campaigns.service import create_campaign
from app.db import make_sessionmaker, utcnow
from app.events import outbox
from app.events.types import EventType
from app.models import Event, Workspace
from tests.builders import a_sender, a_workspace, an_api_key
from tests.conftest import PG_URL
from tests.live import committed, drop_workspace, live_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not PG_URL,
        reason="needs PostgreSQL: set TRACKER_TEST_DATABASE_URL (SQLite has one writer at a time)",
    ),
    pytest.mark.parametrize("db_engine", ["postgresql"], indirect=True),
]

WRITERS = 4
ROUNDS = 6  # bulk adds per writer
PER_ADD = 5  # contacts per bulk add


@pytest.fixture
def workspace(db_engine: Engine) -> Iterator[tuple[Workspace, str, int]]:
    with committed(db_engine) as session:
        workspace = a_workspace(session)
        token = an_api_key(session, workspace)
        sender = a_sender(session, workspace)
        campaign = create_campaign(
            session,
            workspace_id=workspace.id,
            data=CampaignCreate(name="Out of order", sender_id=sender.id),
        )
    try:
        yield workspace, token, campaign.id
    finally:
        drop_workspace(db_engine, workspace.id)


class SeqReader(threading.Thread):
    """Polls GET /events?after=, keeping next_after, until told to stop and drained."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        self.after = 0
        self.seen: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def poll(self) -> int:
        response = self.client.get("/api/v1/events", params={"after": self.after, "limit": 50})
        response.raise_for_status()
        body = response.json()
        self.seen += body["items"]
        self.after = body["next_after"]
        return len(body["items"])

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.poll()
            while self.poll():  # drain
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.client.close()


class IdReader(threading.Thread):
    """The naive reader: committed events with an id above the last one it read."""

    def __init__(self, engine: Engine, workspace_id: int) -> None:
        super().__init__(daemon=True)
        self.factory = make_sessionmaker(engine, read_only=True)
        self.workspace_id = workspace_id
        self.after_id = 0
        self.seen: list[str] = []
        self.stop = threading.Event()

    def poll(self) -> int:
        with self.factory() as session:
            # Committed events past an id, in id order: NOT a safe cursor on PostgreSQL.
            rows = list(
                session.scalars(
                    select(Event)
                    .where(Event.workspace_id == self.workspace_id, Event.id > self.after_id)
                    .order_by(Event.id)
                    .limit(50)
                )
            )
            if rows:
                self.after_id = rows[-1].id
                self.seen += [row.uid for row in rows]
        return len(rows)

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            time.sleep(0.005)
        while self.poll():
            pass


def wait_until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_reader_gets_every_event_once_in_order_while_writers_commit_out_of_order(
    db_engine: Engine, workspace: tuple[Workspace, str, int]
) -> None:
    ws, token, campaign_id = workspace
    with live_server(db_engine, jobs=True) as base:
        seq_reader = SeqReader(base, token)
        id_reader = IdReader(db_engine, ws.id)
        seq_reader.start()
        id_reader.start()

        # The held writer: its event draws an id now, and commits last.
        held = make_sessionmaker(db_engine)()
        held.begin()
        outbox.record(
            held,
            workspace_id=ws.id,
            type=EventType.CAMPAIGN_STATE_CHANGED,
            data={"campaign_id": campaign_id, "from": "draft", "to": "running", "late": True},
            now=utcnow(),
        )
        held.flush()

        def write(writer: int) -> None:
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}
            ) as client:
                for round_ in range(ROUNDS):
                    contacts = [
                        {"linkedin_url": f"https://www.linkedin.com/in/w{writer}-r{round_}-{i}"}
                        for i in range(PER_ADD)
                    ]
                    response = client.post(
                        f"/api/v1/campaigns/{campaign_id}/contacts", json={"contacts": contacts}
                    )
                    assert response.status_code == 200, response.text

        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(write, range(WRITERS)))
        committed_by_others = WRITERS * ROUNDS * PER_ADD

        # Both readers have read past every committed event (ids above the held one included)...
        wait_until(lambda: len(seq_reader.seen) >= committed_by_others)
        wait_until(lambda: len(id_reader.seen) >= committed_by_others)
        # ... and only now does the held transaction commit, with the smallest id of them all.
        held.commit()
        held.close()
        wait_until(lambda: len(seq_reader.seen) >= committed_by_others + 1)
        time.sleep(0.5)  # the id reader's chance to see it too (it never will)
        seq_reader.stop.set()
        id_reader.stop.set()
        seq_reader.join(30)
        id_reader.join(30)
    assert seq_reader.error is None, seq_reader.error

    seen = seq_reader.seen
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)) == committed_by_others + 1  # every event, exactly once
    seqs = [e["seq"] for e in seen]
    assert seqs == list(range(1, len(seen) + 1))  # in order, without a gap
    (late,) = [e for e in seen if e["data"].get("late")]
    assert late["seq"] == len(seen)  # numbered after the events that committed before it
    assert sorted(e["data"]["contact"]["linkedin_url"] for e in seen if e is not late) == sorted(
        f"https://www.linkedin.com/in/w{w}-r{r}-{i}"
        for w in range(WRITERS)
        for r in range(ROUNDS)
        for i in range(PER_ADD)
    )

    # The sequence-id cursor read the same log and lost the late event for good.
    assert len(id_reader.seen) == committed_by_others
    assert late["id"] not in id_reader.seen
