"""The connection pool: PostgreSQL connections are pinged only after they idled."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import db
from app.db import make_engine
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
