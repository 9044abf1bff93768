"""The connection pool: PostgreSQL connections are pinged only after they idled; SQLite's WAL is
checkpointed by a thread of the engine's own, not by the writer whose commit crosses the line; a
long batched write on SQLite lets a writer that waits for the lock in between its batches."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from app import db
from app.db import make_engine, make_sessionmaker
from tests.conftest import PG_URL

if PG_URL:

    def test_postgres_pings_only_idle_connections_and_replaces_a_dead_one(
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        assert PG_URL
        engine = make_engine(PG_URL, pool_size=1)
        pings: list[object] = []
        real_ping = engine.dialect.do_ping

        def counting_ping(dbapi_conn: object) -> bool:
            pings.append(dbapi_conn)
            return real_ping(dbapi_conn)

        monkeypatch.setattr(engine.dialect, "do_ping", counting_ping)
        try:
            with engine.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with engine.connect() as conn:  # used a moment ago: reused without a ping
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
            assert pings == []

            admin = make_engine(PG_URL)
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.dispose()

            monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had idled
            with engine.connect() as conn:  # the ping finds it dead: another one serves
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
            assert len(pings) >= 1
        finally:
            engine.dispose()


def _checkpoint_threads(database: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"wal-checkpoint {database}"]


def test_sqlite_wal_is_checkpointed_by_the_engines_thread_not_by_writers(tmp_path: Path) -> None:
    database = tmp_path / "tracker.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            # Writers checkpoint only far past SQLite's 1,000 pages, should the thread fall behind.
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == db.WAL_BACKSTOP_PAGES
            conn.execute(text("CREATE TABLE filler (blob BLOB)"))
            conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
                    " INSERT INTO filler SELECT randomblob(2000) FROM n"
                )
            )  # about 1,500 pages, past SQLite's own line
        assert len(_checkpoint_threads(database)) == 1
        # No other commit follows: the thread alone copies the WAL into the database file.
        deadline = time.monotonic() + 30
        while database.stat().st_size < 3000 * 2000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert database.stat().st_size >= 3000 * 2000
    finally:
        engine.dispose()
    for thread in _checkpoint_threads(database):
        thread.join(timeout=10)
    assert _checkpoint_threads(database) == []  # disposing of the engine stops its thread


def test_an_in_memory_sqlite_database_has_no_checkpoint_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert {t.name for t in threading.enumerate()} - before == set()
    finally:
        engine.dispose()


def test_a_long_batched_write_lets_a_waiting_writer_in_between_its_batches(tmp_path: Path) -> None:
    database = tmp_path / "tracker.db"
    sweeper, other = make_engine(f"sqlite:///{database}"), make_engine(f"sqlite:///{database}")
    try:
        with sweeper.begin() as conn:
            conn.execute(text("CREATE TABLE turns (who TEXT)"))
        assert not db.writers_waiting(str(database))
        factory = make_sessionmaker(sweeper)

        def write() -> None:
            with other.begin() as conn:
                conn.execute(text("INSERT INTO turns VALUES ('writer')"))

        writer = threading.Thread(target=write)
        for batch in range(20):
            with factory.begin() as session:
                session.execute(text("INSERT INTO turns VALUES ('batch')"))
                if batch == 0:
                    writer.start()  # finds the lock taken, waits, and says so
                    deadline = time.monotonic() + 30
                    while not db.writers_waiting(str(database)) and time.monotonic() < deadline:
                        time.sleep(0.001)
                    assert db.writers_waiting(str(database))
            db.let_writers_in(factory)
        writer.join(timeout=30)
        assert not db.writers_waiting(str(database))  # it has had its turn
        with sweeper.connect() as conn:
            turns = list(conn.execute(text("SELECT who FROM turns ORDER BY rowid")).scalars())
        # It went right after the batch it waited for; without the turn, the next batch would
        # most often win the race for the lock, and the one after that.
        assert turns.count("writer") == 1
        assert turns[:2] == ["batch", "writer"]
    finally:
        sweeper.dispose()
        other.dispose()
