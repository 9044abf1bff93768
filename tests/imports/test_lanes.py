"""An import's batches written side by side (issue 19): on PostgreSQL two batches are in flight at
once, each in a transaction of its own on a connection of its own (`running._commit_in_lanes`).
Real engines and committed transactions; the same outcomes are asserted on SQLite, where batches
go one at a time: ids follow the file, the file's first row for a person decides, counts match a
recount, and a batch that fails or meets a cancel takes the batch beside it down with it, so the
checkpoint never passes a row that is not committed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.clock import FixedClock
from app.contacts.service import add_contacts
from app.db import make_sessionmaker
from app.domain.statuses import DuplicatePolicy, ImportState
from app.events.numbering import number_pending
from app.imports import running, service
from app.imports.upload import accept_file
from app.lifecycle import counts
from app.models import Contact, ContactImport
from tests.builders import a_campaign, a_workspace
from tests.conftest import PG_URL
from tests.events.test_batches import log_of
from tests.imports.test_service_api import HEADER, csv_bytes, people, url
from tests.live import committed, drop_workspace

BATCH = 5


def on_postgresql(test: Callable[..., None]) -> Callable[..., None]:
    """A test of the lanes themselves: PostgreSQL only (SQLite writes one batch at a time)."""
    only = pytest.mark.parametrize("db_engine", ["postgresql"], indirect=True)
    marked: Callable[..., None] = pytest.mark.postgresql(
        pytest.mark.skipif(not PG_URL, reason="needs TRACKER_TEST_DATABASE_URL")(only(test))
    )
    return marked


@pytest.fixture
def campaign(db_engine: Engine) -> Iterator[tuple[int, int]]:
    """(workspace id, campaign id), committed; the workspace is dropped afterwards."""
    with committed(db_engine) as s:
        workspace = a_workspace(s)
        ids = workspace.id, a_campaign(s, workspace).id
    yield ids
    drop_workspace(db_engine, ids[0])


def queued(
    engine: Engine,
    campaign: tuple[int, int],
    rows: list[list[str]],
    tmp_path: Path,
    now: Any,
    policy: DuplicatePolicy = DuplicatePolicy.SKIP,
) -> int:
    path = tmp_path / "lanes.csv"
    path.write_bytes(csv_bytes(HEADER, rows))
    with committed(engine) as s:
        job = service.create_import(
            s,
            workspace_id=campaign[0],
            campaign_id=campaign[1],
            upload=accept_file(path, data_dir=str(tmp_path), max_bytes=10**9),
            filename=path.name,
            created_by="test",
            user_id=None,
            mapping=None,
            on_duplicate=policy,
            now=now,
        )
        return job.id


def run(engine: Engine, import_id: int, clock: FixedClock, lanes: int = 2) -> ContactImport:
    factory = make_sessionmaker(engine)
    with factory.begin() as s:
        assert running.claim_next(s, now=clock(), import_id=import_id) is not None
    return running.run_import(
        factory, import_id=import_id, clock=clock, batch_size=BATCH, lanes=lanes
    )


def in_id_order(engine: Engine, campaign_id: int) -> list[tuple[str, str | None]]:
    """(profile URL, first name) of the campaign's contacts, by id."""
    with committed(engine) as s:
        rows = s.execute(
            select(Contact.linkedin_url, Contact.first_name)
            .where(Contact.campaign_id == campaign_id)
            .order_by(Contact.id)
        )
        return [(str(u), f) for u, f in rows]


def assert_counts_match_a_recount(engine: Engine, campaign_id: int) -> None:
    with committed(engine) as s:
        kept = counts.read_counts(s, [campaign_id]).get(campaign_id, {})
        recounted = {key: n for (_, key), n in counts.counted(s, campaign_id).items()}
        assert {k: n for k, n in kept.items() if n} == {k: n for k, n in recounted.items() if n}


def stored(engine: Engine, import_id: int) -> ContactImport:
    with committed(engine) as s:
        return s.get_one(ContactImport, import_id)


def resumed_to_the_end(engine: Engine, import_id: int, campaign_id: int, clock: FixedClock) -> None:
    """As the background job does after a failed run: the failure recorded, the import resumed
    from its checkpoint; it ends with the file's 40 people once each, in file order."""
    running.record_failure(make_sessionmaker(engine), import_id=import_id, error="x", now=clock())
    clock.advance(seconds=1)
    job = run(engine, import_id, clock)
    assert job.state is ImportState.DONE and (job.rows_read, job.imported) == (40, 40)
    assert in_id_order(engine, campaign_id) == [
        (url(f"person-{i}"), f"First{i}") for i in range(40)
    ]
    assert_counts_match_a_recount(engine, campaign_id)


def at_the_third_batch(
    monkeypatch: pytest.MonkeyPatch, do: Callable[[], None], *, once_written: bool
) -> Callable[[], None]:
    """Runs `do` as the third batch starts, or once it is written (before its commit); returns
    what puts the real batch writer back."""
    real = running._apply_batch

    def patched(session: Session, job: ContactImport, batch: Any, now: Any, **kw: Any) -> None:
        third = batch.rows[0].number == 2 * BATCH + 1
        if third and not once_written:
            do()
        real(session, job, batch, now, **kw)
        if third and once_written:
            do()

    monkeypatch.setattr(running, "_apply_batch", patched)
    return lambda: monkeypatch.setattr(running, "_apply_batch", real)


@pytest.mark.parametrize("lanes", [1, 2, 3])  # TRACKER_IMPORT_LANES
def test_batches_side_by_side_keep_file_order_first_rows_and_counts(
    db_engine: Engine, campaign: tuple[int, int], clock: FixedClock, tmp_path: Path, lanes: int
) -> None:
    rows = people(0, 60)
    rows[7] = ["Again", "Later", url("person-3"), "", "", "", ""]  # the next batch repeats row 4
    rows[40] = ["Again", "Much later", url("person-12"), "", "", "", ""]  # far behind its first
    rows[22] = ["No", "Url", "", "", "", "", ""]  # rejected
    import_id = queued(db_engine, campaign, rows, tmp_path, clock())
    job = run(db_engine, import_id, clock, lanes)
    assert job.state is ImportState.DONE, job.error
    assert (job.rows_read, job.imported, job.duplicates, job.invalid) == (60, 57, 2, 1)
    assert job.checkpoint_row == 60
    expected = [(url(f"person-{i}"), f"First{i}") for i in range(60) if i not in (7, 22, 40)]
    assert in_id_order(db_engine, campaign[1]) == expected  # ids follow the file
    assert_counts_match_a_recount(db_engine, campaign[1])


def test_a_failing_batch_commits_nothing_after_it_and_the_resume_is_exact(
    db_engine: Engine,
    campaign: tuple[int, int],
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_id = queued(db_engine, campaign, people(0, 40), tmp_path, clock())

    def lost() -> None:  # written, then lost before its commit
        raise RuntimeError("server closed the connection unexpectedly")

    restore = at_the_third_batch(monkeypatch, lost, once_written=True)
    with pytest.raises(RuntimeError, match="server closed"):
        run(db_engine, import_id, clock)
    job = stored(db_engine, import_id)
    # The batch beside the failed one (rows 16-20) was written but not committed.
    assert job.state is ImportState.RUNNING and job.checkpoint_row == 2 * BATCH
    assert (job.rows_read, job.imported) == (2 * BATCH, 2 * BATCH)
    assert len(in_id_order(db_engine, campaign[1])) == 2 * BATCH

    restore()
    resumed_to_the_end(db_engine, import_id, campaign[1], clock)


@on_postgresql
def test_a_cancel_met_by_a_batch_stops_it_and_the_one_beside_it(
    db_engine: Engine,
    campaign: tuple[int, int],
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cancel commits while the third batch starts (it waits for the second batch's lock on
    the job): the third and fourth batches see it once the second committed, and roll back."""
    import_id = queued(db_engine, campaign, people(0, 40), tmp_path, clock())

    def cancel() -> None:
        with committed(db_engine) as other:
            service.cancel_import(other, workspace_id=campaign[0], import_id=import_id, now=clock())

    at_the_third_batch(monkeypatch, cancel, once_written=False)
    job = run(db_engine, import_id, clock)
    assert job.state is ImportState.CANCELLED
    assert (job.rows_read, job.imported, job.checkpoint_row) == (2 * BATCH, 2 * BATCH, 2 * BATCH)
    assert len(in_id_order(db_engine, campaign[1])) == 2 * BATCH
    assert_counts_match_a_recount(db_engine, campaign[1])


@pytest.mark.parametrize("policy", [DuplicatePolicy.FILL, DuplicatePolicy.OVERWRITE])
def test_policies_events_and_undo_through_batches_side_by_side(
    db_engine: Engine,
    campaign: tuple[int, int],
    clock: FixedClock,
    tmp_path: Path,
    policy: DuplicatePolicy,
) -> None:
    workspace_id, campaign_id = campaign
    with committed(db_engine) as s:  # people the campaign has: in the first and third batches
        add_contacts(
            s,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            items=[
                {"linkedin_url": url(f"person-{i}"), "first_name": "Before"} for i in (2, 12, 13)
            ],
            now=clock(),
        )
    rows = people(0, 30)
    rows[16] = ["Second", "Row", url("person-12"), "", "Later Inc", "", ""]  # a plain duplicate
    import_id = queued(db_engine, campaign, rows, tmp_path, clock(), policy)
    job = run(db_engine, import_id, clock)
    assert job.state is ImportState.DONE, job.error
    assert (job.imported, job.duplicates) == (26, 4)
    with committed(db_engine) as s:
        merged = {
            str(c.linkedin_url): (c.first_name, c.company)
            for c in s.scalars(
                select(Contact).where(
                    Contact.campaign_id == campaign_id,
                    Contact.linkedin_url.in_([url(f"person-{i}") for i in (2, 12, 13)]),
                )
            )
        }
    first = {
        i: f"First{i}" if policy is DuplicatePolicy.OVERWRITE else "Before" for i in (2, 12, 13)
    }
    assert merged == {url(f"person-{i}"): (first[i], "Acme") for i in (2, 12, 13)}
    assert_counts_match_a_recount(db_engine, campaign_id)

    factory = make_sessionmaker(db_engine)
    number_pending(factory)
    with committed(db_engine) as s:
        types = [e.type for e in log_of(s, workspace_id)]
    assert types.count("contact.created") == 3 + 26 and types.count("import.finished") == 1

    with committed(db_engine) as s:
        assert (
            service.undo_import(s, workspace_id=workspace_id, import_id=import_id, now=clock())
            == 26
        )
    assert in_id_order(db_engine, campaign_id) == [
        (url(f"person-{i}"), "Before") for i in (2, 12, 13)
    ]
    with committed(db_engine) as s:
        companies = s.scalars(select(Contact.company).where(Contact.campaign_id == campaign_id))
        assert set(companies) == {None}
    assert_counts_match_a_recount(db_engine, campaign_id)


@on_postgresql
def test_a_batch_that_waits_too_long_for_the_one_before_stops_the_run_for_a_retry(
    db_engine: Engine,
    campaign: tuple[int, int],
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were the batch before it held by a third transaction waiting on this batch's rows, the
    wait would never end: past LANE_WAIT_SECONDS the batch rolls back and the run fails, to be
    retried from its checkpoint (here the third batch is merely slow, and commits)."""
    import_id = queued(db_engine, campaign, people(0, 40), tmp_path, clock())
    monkeypatch.setattr(running, "LANE_WAIT_SECONDS", 0.2)
    restore = at_the_third_batch(monkeypatch, lambda: time.sleep(1.0), once_written=True)
    with pytest.raises(running.LaneTimeout):
        run(db_engine, import_id, clock)
    job = stored(db_engine, import_id)
    assert job.state is ImportState.RUNNING and job.checkpoint_row == 3 * BATCH
    assert len(in_id_order(db_engine, campaign[1])) == 3 * BATCH

    restore()
    resumed_to_the_end(db_engine, import_id, campaign[1], clock)
