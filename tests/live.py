"""A real server on 127.0.0.1 in a background thread, over a database that really commits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from app.config import EngineMode, Settings
from app.db import make_sessionmaker
from app.main import create_app
from app.models import Workspace


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(engine: Engine, *, jobs: bool = False, **settings: object) -> Iterator[str]:
    """Serve the app on a free port; yields its base URL. With `jobs`, background jobs (imports) run
    in-process as under `serve`; the engine stays off so pages hold still."""
    config = Settings(
        database_url=str(engine.url),
        secret_key="live-test-secret-0123456789",
        **settings,  # type: ignore[arg-type]
    )
    if jobs:
        config = config.model_copy(update={"engine": EngineMode.OFF})
    app = create_app(config, engine=engine, run_engine=jobs)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def committed(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed (for tests that run real concurrent requests)."""
    with make_sessionmaker(engine).begin() as session:
        yield session


def drop_workspace(engine: Engine, workspace_id: int) -> None:
    with committed(engine) as session:
        session.execute(delete(Workspace).where(Workspace.id == workspace_id))
