"""The API's caller: bearer API-key authentication and the per-key rate limit (in one short
transaction of their own), and idempotent retries of its writes (`Idempotency-Key`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.accounts.rate_limit import budget_headers, check_budget
from app.accounts.repository import count_request, resolve_and_count_postgres
from app.accounts.service import LAST_USED_RESOLUTION, hash_api_key, resolve_api_key
from app.clock import Clock
from app.config import Settings
from app.db import writer_turn
from app.errors import Unauthorized
from app.idempotency.fingerprint import request_fingerprint
from app.idempotency.service import MAX_KEY_LENGTH, claim_key, store_answer
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


# Documented on every honouring operation through the header parameter of its dependency.
IDEMPOTENCY_HEADER_DOC = (
    "Send an `Idempotency-Key` header to make retries safe: a retry with the same key and body returns "
    "the first answer (header `Idempotent-Replayed: true`) and stores nothing twice; the same key with "
    "another body is refused with 422. Keys are kept for 24 hours."
)
REPLAYED_HEADER = "Idempotent-Replayed"
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description=IDEMPOTENCY_HEADER_DOC + " Scoped to the API key's workspace.",
    ),
]


class Sealer(Protocol):
    """Keeps a stored answer that carries a secret shown once (a webhook's signing secret)
    encrypted at rest, as the secret itself is: `open` gives back what `seal` was given. The
    webhooks' `Keys` is one."""

    def seal(self, secret: str) -> str: ...

    def open(self, token: str) -> str: ...


@dataclass
class Idempotency:
    """Runs a POST's work at most once per Idempotency-Key (see app.idempotency.service).

    `fingerprint` is the request's, taken by the dependency from the body FastAPI read; a route
    that reads its own body (an upload, fingerprinted while it streams) passes it to `run`."""

    session: Session
    workspace_id: int
    key: str | None
    now: datetime
    fingerprint: str | None = None

    def run(
        self,
        work: Callable[[], tuple[int, BaseModel]],
        *,
        fingerprint: str | None = None,
        sealer: Sealer | None = None,
    ) -> Response:
        """The first answer to this key, replayed; else `work`'s, stored for the retries.

        The key is claimed before `work` runs, in the request's transaction: a failure rolls the
        claim back with the work, so a refused request never burns its key."""
        if self.key is not None:
            taken = fingerprint or self.fingerprint
            if taken is None:
                raise RuntimeError("an upload route must pass the fingerprint of its body to run()")
            stored = claim_key(
                self.session,
                workspace_id=self.workspace_id,
                key=self.key,
                fingerprint=taken,
                now=self.now,
            )
            if stored is not None:
                return Response(
                    _stored_body(stored.body, sealer),
                    status_code=stored.status_code,
                    media_type="application/json",
                    headers={REPLAYED_HEADER: "true"},
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
                body=json.loads(body) if sealer is None else {SEALED: sealer.seal(body.decode())},
            )
        return Response(body, status_code=status_code, media_type="application/json")


SEALED = "sealed"


def _stored_body(stored: Any, sealer: Sealer | None) -> bytes:
    if sealer is not None and isinstance(stored, dict) and isinstance(stored.get(SEALED), str):
        return sealer.open(stored[SEALED]).encode()
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode()


async def get_idempotency(
    request: Request,
    session: SessionDep,
    caller: ApiCallerDep,
    now: NowDep,
    key: IdempotencyKeyHeader = None,
) -> Idempotency:
    """For a route whose body FastAPI reads (JSON, capped at TRACKER_API_BODY_MAX_BYTES), or that
    has none: the body is already in memory, and is fingerprinted whole."""
    body = await request.body() if key is not None else b""
    return Idempotency(
        session=session,
        workspace_id=caller.workspace_id,
        key=key,
        now=now,
        fingerprint=request_fingerprint(request.method, request.url.path, body),
    )


async def get_streamed_idempotency(
    session: SessionDep, caller: ApiCallerDep, now: NowDep, key: IdempotencyKeyHeader = None
) -> Idempotency:
    """For a route that reads its own body after authentication (an upload): it fingerprints the
    body while it streams and passes the fingerprint to `run`. The body is not touched here."""
    return Idempotency(session=session, workspace_id=caller.workspace_id, key=key, now=now)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
StreamedIdempotencyDep = Annotated[Idempotency, Depends(get_streamed_idempotency)]
