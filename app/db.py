"""Database plumbing: the declarative base, engine construction, the request session."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Integer, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware UTC datetime (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_param(dialect: Dialect, value: datetime) -> datetime:
    """`value` as a UTC column takes it, for a parameter of raw SQL (exec_driver_sql)."""
    bind = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    return bind(value) if bind is not None else value


def enum_column(enum: type, name: str) -> Enum:
    """A portable enum stored as its string values, checked by a named constraint."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[str]: JSONType}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


BUSY_WAIT_SECONDS = 30.0
# A writer waiting for SQLite's lock tries again at least this often (_begin_immediate).
BUSY_POLL_MAX_SECONDS = 0.005
# How long a long batched write waits between batches for the writers waiting meanwhile to have had
# their turn (let_writers_in): enough for each to poll and commit a short write.
TURN_WAIT_MAX_SECONDS = 0.1


def _file_path(database: str | None) -> str | None:
    """The path of a SQLite database kept in a file (None for an in-memory one, or a URI)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _waiting_file(path: str | None) -> str | None:
    """The file beside a SQLite database on which writers waiting for its lock hold a shared flock."""
    return f"{path}-waiting" if path else None


def _flock(path: str, operation: int) -> int:
    """A descriptor of `path` (made if need be) holding flock `operation`, taken without waiting;
    OSError otherwise (BlockingIOError when another descriptor holds a lock against it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _say_waiting(path: str) -> int | None:
    """A shared flock on the waiting file, held until its descriptor is closed (None if it could
    not be taken this instant: the next poll tries again)."""
    try:
        return _flock(path, fcntl.LOCK_SH)
    except OSError:
        return None


def writers_waiting(path: str | None) -> bool:
    """Whether a writer of any process is waiting for the lock of the SQLite database at `path`."""
    waiting_file = _waiting_file(path)
    if waiting_file is None:
        return False
    try:
        os.close(_flock(waiting_file, fcntl.LOCK_EX))  # closing releases it at once
    except BlockingIOError:
        return True  # held shared: a writer is waiting
    except OSError:
        return False
    return False


def _begin_immediate(dbapi_conn: Any, path: str | None = None) -> None:
    """BEGIN IMMEDIATE, retried quickly while another process holds the write lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms between attempts: a short write (the
    API's per-request rate count) that finds the lock taken waits far longer than the holder
    needs. Here the first retries come after a fraction of a millisecond, backing off to 5 ms,
    for up to BUSY_WAIT_SECONDS; statements inside the transaction keep the normal busy timeout.
    While it waits, it holds a shared flock on the database's waiting file (`path` + "-waiting"):
    a long batched write sees it there and lets it in (let_writers_in).
    """
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    pause = 0.0002
    waiting_file = _waiting_file(path)
    waiting: int | None = None  # the descriptor holding the shared flock, once we wait
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
            if waiting is None and waiting_file is not None:
                waiting = _say_waiting(waiting_file)
            time.sleep(pause)
            pause = min(pause * 2, BUSY_POLL_MAX_SECONDS)
    finally:
        if waiting is not None:
            os.close(waiting)
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(BUSY_WAIT_SECONDS * 1000)}")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for SQLite (WAL, foreign keys on, a generous busy timeout) or PostgreSQL."""
    if is_sqlite(url):
        engine = create_engine(
            url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
        )
        path = _file_path(make_url(url).database)
        if path:
            WalCheckpointer.attach(engine, path)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
            # Let SQLAlchemy emit BEGIN itself so transactions and savepoints behave.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_WAIT_SECONDS * 1000)}")
            if path:  # the engine's thread checkpoints (WalCheckpointer)
                cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock up front (IMMEDIATE), so a transaction never fails on a
            # read-to-write lock upgrade; read-only sessions begin DEFERRED and never block anyone.
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            if mode != "IMMEDIATE":
                conn.exec_driver_sql(f"BEGIN {mode}")
                return
            _begin_immediate(conn.connection.dbapi_connection, path)

        return engine
    engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    _ping_connections_that_idled(engine)
    return engine


# SQLite copies its WAL into the database file (a checkpoint) inside the commit that finds more than
# 1,000 pages in it: the writer that crosses the line, a sweep batch or an API request, pays the
# copy and two fsyncs. A thread of the engine's own checkpoints instead, soon after this process's
# commits, so no writer waits on the disk; writers keep a far higher line of their own
# (WAL_BACKSTOP_PAGES), a backstop should the thread ever fall behind.
WAL_BACKSTOP_PAGES = 16_384
WAL_CHECKPOINT_EVERY_SECONDS = 0.25


class WalCheckpointer:
    """Checkpoints one SQLite database's WAL from a daemon thread while its engine lives."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"wal-checkpoint {database}", daemon=True
        )

    @classmethod
    def attach(cls, engine: Engine, database: str) -> None:
        """Start a checkpointer for the engine's database, woken by its commits, stopped with it."""
        checkpointer = cls(database)
        event.listen(engine, "commit", lambda _conn: checkpointer._wake.set())
        event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())
        weakref.finalize(engine, checkpointer.stop)
        checkpointer._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for a checkpoint under way: once its engine is disposed,
        nothing of this process writes to the database file any more (a copy of it is whole)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while True:
                self._wake.wait()
                # Commits that come within the pause are checkpointed together.
                self._stop.wait(WAL_CHECKPOINT_EVERY_SECONDS)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    if connection is None:
                        # mode=rw: a database removed meanwhile is not made again, empty.
                        connection = sqlite3.connect(
                            f"file:{urllib.parse.quote(self.database)}?mode=rw",
                            uri=True,
                            timeout=0,
                            isolation_level=None,
                        )
                    # PASSIVE: copies what no reader still needs, never waits for anyone.
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass  # busy or gone: the next commit wakes us again; writers have a backstop
        finally:
            if connection is not None:
                connection.close()


# A pooled PostgreSQL connection is pinged before use only when it sat idle this long: one that
# served a request a moment ago is alive, and pinging it (SQLAlchemy's pool_pre_ping) was a round
# trip on every checkout, two per API request. A server restart still costs no request its
# answer for a connection that idled; the rare one caught in use fails once, and SQLAlchemy then
# replaces the whole pool.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_connections_that_idled(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idled(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("connection lost while idle") from exc


# One SQLite writer at a time per process on the busiest write path (the API's per-request rate
# count): its threads queue on this lock instead of polling SQLite's, which even with the quick
# retries of _begin_immediate measured p99 54 ms against 76–107 ms for an authenticated GET under
# 8 clients. Other processes are held off by SQLite's lock and _begin_immediate.
_SQLITE_WRITERS = threading.Lock()


def writer_turn(factory: sessionmaker[Session]) -> AbstractContextManager[object]:
    """Hold this around a short SQLite write transaction made on a busy request path."""
    bind = factory.kw.get("bind")
    if bind is not None and bind.dialect.name == "sqlite":
        return _SQLITE_WRITERS
    return nullcontext()


def let_writers_in(factory: sessionmaker[Session]) -> None:
    """Call between the transactions of a long batched write (the sweep). SQLite grants its lock to
    whoever asks first, and the next batch always asks first: while writers (of any process) say
    they are waiting, wait for them to take their turn, up to TURN_WAIT_MAX_SECONDS. PostgreSQL
    locks rows, and needs none."""
    bind = factory.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return
    path = _file_path(bind.engine.url.database)
    deadline = time.monotonic() + TURN_WAIT_MAX_SECONDS
    while writers_waiting(path) and time.monotonic() < deadline:
        time.sleep(0.0005)


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for writing, or for reading only.

    Reading sessions never take SQLite's write lock (BEGIN DEFERRED). On PostgreSQL they run in
    autocommit: under READ COMMITTED every statement has its own snapshot anyway, so a BEGIN and a
    COMMIT would be two round trips that change nothing."""
    if not read_only:
        return sessionmaker(engine, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        bind = engine.execution_options(sqlite_begin="DEFERRED")
    else:
        bind = engine.execution_options(isolation_level="AUTOCOMMIT")
    return sessionmaker(bind, expire_on_commit=False)
