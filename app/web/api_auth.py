"""Bearer API-key authentication and the per-key rate limit, in one short transaction of their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.accounts.rate_limit import count_request
from app.accounts.service import resolve_api_key
from app.clock import Clock
from app.config import Settings
from app.db import writer_turn
from app.errors import Unauthorized


@dataclass(frozen=True)
class ApiCaller:
    workspace_id: int
    api_key_id: int
    remaining: int


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send your API key as `Authorization: Bearer <key>`")
    return token.strip()


def authenticate_api_key(request: Request) -> ApiCaller:
    token = _bearer_token(request)
    settings: Settings = request.app.state.settings
    clock: Clock = request.app.state.clock
    now = clock()
    factory = request.app.state.sessionmaker
    with writer_turn(factory), factory.begin() as session:
        api_key = resolve_api_key(session, token=token, now=now)
        if api_key is None:
            raise Unauthorized("The API key is unknown or has been revoked")
        caller = ApiCaller(workspace_id=api_key.workspace_id, api_key_id=api_key.id, remaining=0)
        remaining = count_request(
            session, api_key_id=api_key.id, limit=settings.api_rate_limit_per_minute, now=now
        )
    request.state.rate_limit = (settings.api_rate_limit_per_minute, remaining)
    return ApiCaller(caller.workspace_id, caller.api_key_id, remaining)


ApiCallerDep = Annotated[ApiCaller, Depends(authenticate_api_key)]
