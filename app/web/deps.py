"""Typed dependencies: one transaction per request, committed before the response is sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import Settings


def get_session(request: Request) -> Iterator[Session]:
    # GET and HEAD only read: on SQLite their transaction never takes the write lock.
    read_only = request.method in ("GET", "HEAD")
    factory = request.app.state.read_sessionmaker if read_only else request.app.state.sessionmaker
    with factory() as session, session.begin():
        yield session


# Coroutines on purpose: FastAPI runs a plain-def dependency in the thread pool, a hop that costs
# more than reading an attribute (and, on a busy worker, waits for a thread and the GIL).
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
NowDep = Annotated[datetime, Depends(get_now)]
