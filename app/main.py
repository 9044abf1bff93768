"""The application factory: settings in, a FastAPI app out."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import migrations
from app.api import API_PREFIX, install_api
from app.clock import Clock, ScaledClock, system_clock
from app.config import Settings, get_settings
from app.dashboard.service import ClosedDays
from app.db import make_engine, make_sessionmaker
from app.health import router as health_router
from app.lifecycle import counts
from app.lifecycle import guard as lifecycle_guard
from app.pages import page_routers
from app.web.body_limit import BodyLimitMiddleware
from app.web.exception_handlers import install_exception_handlers
from app.web.head import HeadAsGetMiddleware
from app.web.headers import SecurityHeadersMiddleware
from app.web.request_id import RequestIdMiddleware, install_log_records
from app.web.templating import ROOT
from app.worker import Worker, background_jobs

log = logging.getLogger(__name__)


class DatabaseNotMigrated(RuntimeError):
    pass


def configure_logging(level: str) -> None:
    """Log lines to stderr, each with the id of the request it was made for ("-" outside one)."""
    install_log_records()
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s",
    )


def check_migrated(engine: Engine) -> None:
    """Refuse to serve a database that is not at the migration head."""
    current, head = migrations.current_revision(engine), migrations.head_revision()
    if current != head:
        raise DatabaseNotMigrated(
            f"The database is at migration {current or 'none'}, not {head}: "
            "run `contact-tracker migrate` first."
        )


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock = system_clock,
    run_engine: bool = False,
) -> FastAPI:
    """Build the app. Tests pass their own session factory (one rolled-back transaction per test)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    counts.install()
    if settings.lifecycle_guard:
        lifecycle_guard.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None and session_factory is None
        db_engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)
        if settings.check_migrations and session_factory is None:
            check_migrated(db_engine)
        app.state.engine = db_engine
        app.state.sessionmaker = session_factory or make_sessionmaker(db_engine)
        app.state.read_sessionmaker = session_factory or make_sessionmaker(
            db_engine, read_only=True
        )
        worker = None
        if run_engine:
            engine_clock: Clock = clock
            if settings.engine_speed != 1:
                engine_clock = ScaledClock(clock, settings.engine_speed)
            worker = Worker(
                background_jobs(
                    app.state.sessionmaker,
                    settings=settings,
                    clock=clock,
                    engine_clock=engine_clock,
                    engine=settings.engine,
                    engine_interval=settings.engine_interval_seconds,
                )
            )
            worker.start()
        # Everything built so far lives as long as the process: move it out of the collector's
        # reach, so a full collection walks only request garbage (it otherwise walked ~150,000
        # startup objects every few hundred requests, an 86–101 ms pause for every queued request).
        if owned:  # a served process (tests build many apps in one process and skip this)
            gc.collect()
            gc.freeze()
        yield
        if worker is not None:
            worker.stop()
        if owned:
            db_engine.dispose()

    app = FastAPI(
        title="Campaign contact tracker",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.closed_days = ClosedDays()  # the overview chart's finished days, per workspace
    # Read once: the scripts on disk may change under a running server without it being migrated.
    app.state.migration_head = migrations.head_revision()
    if session_factory is not None:
        # Available before (and without) the lifespan, e.g. for in-process schema fuzzing.
        app.state.sessionmaker = app.state.read_sessionmaker = session_factory
    install_exception_handlers(app)
    app.include_router(health_router)
    install_api(app)
    for router in page_routers():
        app.include_router(router)

    def body_limit(path: str) -> int | None:
        if path.startswith(f"{API_PREFIX}/imports") or path == "/imports/upload":
            return settings.upload_max_bytes
        if path.startswith(API_PREFIX):
            return settings.api_body_max_bytes
        # Every other form (sign-in, settings, bulk actions …): a small cap, before a byte is read.
        return settings.form_body_max_bytes

    # The last added runs first: the request id sees every answer (the 413s and 405s too), and
    # HEAD runs as GET through everything below it.
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    app.add_middleware(
        SecurityHeadersMiddleware, hsts=(settings.public_url or "").startswith("https://")
    )
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestIdMiddleware)
    if settings.trusted_proxies.strip():
        # Outermost: the client's own address and scheme, as a trusted proxy saw them, for every
        # layer below (the sign-in throttle, the log, Secure cookies). Nobody else's headers count.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    return app
