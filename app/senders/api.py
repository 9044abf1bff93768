"""/api/v1/senders — thin: parse, call the service, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.accounts.api_caller import IDEMPOTENCY_HEADER_DOC, ApiCallerDep, IdempotencyDep
from app.pagination import decode_cursor, encode_cursor
from app.schemas import MAX_ID
from app.senders import service
from app.senders.schemas import SenderCreate, SenderList, SenderRead, SenderUpdate
from app.web.api_common import NOT_FOUND
from app.web.deps import SessionDep

router = APIRouter(prefix="/senders", tags=["senders"])
SenderId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get(
    "", operation_id="listSenders", response_model=SenderList, summary="List sender accounts"
)
def list_senders(
    session: SessionDep,
    caller: ApiCallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SenderList:
    after = decode_cursor(cursor, sort="id")["id"] if cursor else None
    rows = service.list_senders(
        session, workspace_id=caller.workspace_id, after_id=after, limit=limit + 1
    )
    next_cursor = (
        encode_cursor({"sort": "id", "id": rows[limit - 1].id}) if len(rows) > limit else None
    )
    return SenderList(items=[service.sender_read(s) for s in rows[:limit]], next_cursor=next_cursor)


@router.post(
    "",
    operation_id="createSender",
    status_code=201,
    response_model=SenderRead,
    summary="Create a sender account",
    description="Omitted limits and working hours take the defaults of SPEC §2. "
    + IDEMPOTENCY_HEADER_DOC,
)
def create_sender(data: SenderCreate, caller: ApiCallerDep, idem: IdempotencyDep) -> object:
    def work() -> tuple[int, SenderRead]:
        sender = service.create_sender(idem.session, workspace_id=caller.workspace_id, data=data)
        return 201, service.sender_read(sender)

    return idem.run(work)


@router.get(
    "/{sender_id}",
    operation_id="getSender",
    response_model=SenderRead,
    responses=NOT_FOUND,
    summary="Get a sender account",
)
def get_sender(sender_id: SenderId, session: SessionDep, caller: ApiCallerDep) -> SenderRead:
    return service.sender_read(
        service.get_sender(session, workspace_id=caller.workspace_id, sender_id=sender_id)
    )


@router.patch(
    "/{sender_id}",
    operation_id="updateSender",
    response_model=SenderRead,
    responses=NOT_FOUND,
    summary="Change a sender account",
)
def update_sender(
    sender_id: SenderId, data: SenderUpdate, session: SessionDep, caller: ApiCallerDep
) -> SenderRead:
    sender = service.update_sender(
        session, workspace_id=caller.workspace_id, sender_id=sender_id, data=data
    )
    return service.sender_read(sender)
