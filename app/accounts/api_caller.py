"""The API's caller: bearer API-key authentication and the per-key rate limit (in one short
transaction of their own), and idempotent retries of its writes (`Idempotency-Key`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from app.accounts.rate_limit import (
    budget_headers,
    check_budget,
    count_request,
    resolve_and_count_postgres,
)
from app.accounts.service import LAST_USED_RESOLUTION, hash_api_key, resolve_api_key
from app.clock import Clock
from app.config import Settings
from app.db import writer_turn
from app.errors import Unauthorized
from app.idempotency.service import claim_key, request_fingerprint, store_answer
from app.web.deps import NowDep, SessionDep

UNKNOWN_KEY = "The API key is unknown or has been revoked"


@dataclass(frozen=True)
class ApiCaller:
    workspace_id: int
    api_key_id: int


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
    if factory.kw["bind"].dialect.name == "postgresql":
        # Autocommit on PostgreSQL (see make_sessionmaker): the key, its last use and the count
        # are one statement, so one round trip.
        with request.app.state.read_sessionmaker.begin() as session:
            counted = resolve_and_count_postgres(
                session, key_hash=hash_api_key(token), now=now, last_used_every=LAST_USED_RESOLUTION
            )
        if counted is None:
            raise Unauthorized(UNKNOWN_KEY)
        workspace_id, api_key_id, count = counted.workspace_id, counted.api_key_id, counted.count
    else:
        with writer_turn(factory), factory.begin() as session:
            api_key = resolve_api_key(session, token=token, now=now)
            if api_key is None:
                raise Unauthorized(UNKNOWN_KEY)
            workspace_id, api_key_id = api_key.workspace_id, api_key.id
            count = count_request(session, api_key_id=api_key_id, now=now)
    limit = settings.api_rate_limit_per_minute
    request.state.response_headers = budget_headers(count, limit=limit, now=now)
    check_budget(count, limit=limit, now=now)
    return ApiCaller(workspace_id, api_key_id)


ApiCallerDep = Annotated[ApiCaller, Depends(authenticate_api_key)]


@dataclass
class Idempotency:
    """Runs a POST's work at most once per Idempotency-Key (see app.idempotency.service)."""

    session: Any
    workspace_id: int
    key: str | None
    fingerprint: str
    now: Any

    def run(self, work: Callable[[], tuple[int, BaseModel]]) -> Response:
        if self.key is not None:
            stored = claim_key(
                self.session,
                workspace_id=self.workspace_id,
                key=self.key,
                fingerprint=self.fingerprint,
                now=self.now,
            )
            if stored is not None:
                return JSONResponse(
                    stored.body,
                    status_code=stored.status_code,
                    headers={"Idempotent-Replayed": "true"},
                )
        status_code, model = work()
        # Serialised by pydantic-core in one pass (a bulk answer holds a thousand contacts).
        body = model.model_dump_json().encode()
        if self.key is not None:
            store_answer(
                self.session,
                workspace_id=self.workspace_id,
                key=self.key,
                status_code=status_code,
                body=json.loads(body),
            )
        return Response(body, status_code=status_code, media_type="application/json")


async def get_idempotency(
    request: Request, session: SessionDep, caller: ApiCallerDep, now: NowDep
) -> Idempotency:
    key = request.headers.get("idempotency-key")
    body = await request.body() if key is not None else b""
    return Idempotency(
        session=session,
        workspace_id=caller.workspace_id,
        key=key,
        fingerprint=request_fingerprint(request.method, request.url.path, body),
        now=now,
    )


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


IDEMPOTENCY_HEADER_DOC = (
    "Send an `Idempotency-Key` header to make retries safe: a retry with the same key and body returns "
    "the first answer (header `Idempotent-Replayed: true`) and stores nothing twice; the same key with "
    "another body is refused with 422. Keys are kept for 24 hours."
)
