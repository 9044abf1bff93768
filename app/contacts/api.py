"""/api/v1 contacts, their activity and events — thin: parse, call the service, return."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.accounts.api_caller import IDEMPOTENCY_HEADER_DOC, ApiCallerDep, IdempotencyDep
from app.contacts import service
from app.contacts.log import activity_read, contact_activity
from app.contacts.schemas import (
    ActivityList,
    BulkContactsIn,
    BulkContactsResult,
    ContactEventIn,
    ContactList,
    ContactRead,
    EventResult,
)
from app.domain.errors import ErrorCode
from app.domain.statuses import ContactStatus
from app.schemas import MAX_ID
from app.web.api_common import CONFLICT, NOT_FOUND, model_response
from app.web.deps import NowDep, SessionDep

router = APIRouter(tags=["contacts"])
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get(
    "/campaigns/{campaign_id}/contacts",
    operation_id="listContacts",
    response_model=ContactList,
    responses=NOT_FOUND,
    summary="List a campaign's contacts",
    description="Keyset pagination: pass `next_cursor` back as `cursor`. A deep page costs what the first does.",
)
def list_contacts(
    campaign_id: Id,
    session: SessionDep,
    caller: ApiCallerDep,
    status: Annotated[list[ContactStatus] | None, Query(description="Repeat for several")] = None,
    error: Annotated[
        ErrorCode | Literal["any"] | None,
        Query(description="An error code, or `any` for every error"),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Search name, company, email, URL")
    ] = None,
    sort: Annotated[
        Literal["id", "-id"], Query(description="`id` oldest first, `-id` newest first")
    ] = "id",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    filters = service.ContactFilter(
        statuses=tuple(status or ()),
        error=None if error in (None, "any") else ErrorCode(error),
        any_error=error == "any",
        q=q.strip() if q and q.strip() else None,
    )
    rows, next_cursor = service.list_contacts(
        session,
        workspace_id=caller.workspace_id,
        campaign_id=campaign_id,
        filters=filters,
        limit=limit,
        cursor=cursor,
        sort=sort,
    )
    return model_response(
        ContactList(items=[service.contact_read(c) for c in rows], next_cursor=next_cursor)
    )


@router.post(
    "/campaigns/{campaign_id}/contacts",
    operation_id="addContacts",
    response_model=BulkContactsResult,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Add up to 1,000 contacts",
    description=(
        "Valid items are stored; duplicates (within the request or already in the campaign) and invalid "
        "items are reported by index, with the existing contact's id or what to fix. "
        + IDEMPOTENCY_HEADER_DOC
    ),
)
def add_contacts(
    campaign_id: Id, data: BulkContactsIn, caller: ApiCallerDep, idem: IdempotencyDep, now: NowDep
) -> object:
    def work() -> tuple[int, BulkContactsResult]:
        result = service.add_contacts(
            idem.session,
            workspace_id=caller.workspace_id,
            campaign_id=campaign_id,
            items=data.contacts,
            now=now,
        )
        return 200, BulkContactsResult.model_validate(
            {
                "created": len(result.created),
                "contacts": result.created,
                "duplicates": [
                    {"index": i, "linkedin_url": u, "contact_id": c}
                    for i, u, c in result.duplicates
                ],
                "invalid": [{"index": i, "errors": e} for i, e in result.invalid],
            }
        )

    return idem.run(work)


@router.get(
    "/contacts/{contact_id}",
    operation_id="getContact",
    response_model=ContactRead,
    responses=NOT_FOUND,
    summary="Get a contact",
)
def get_contact(contact_id: Id, session: SessionDep, caller: ApiCallerDep) -> ContactRead:
    return service.contact_read(
        service.get_contact(session, workspace_id=caller.workspace_id, contact_id=contact_id)
    )


@router.get(
    "/contacts/{contact_id}/activity",
    operation_id="listContactActivity",
    response_model=ActivityList,
    responses=NOT_FOUND,
    summary="A contact's activity log, newest first",
    description="Pending entries say why they wait (`waiting_reason`) and when they should go out (`expected_at`).",
)
def get_activity(
    contact_id: Id,
    session: SessionDep,
    caller: ApiCallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ActivityList:
    items, next_cursor = contact_activity(
        session, workspace_id=caller.workspace_id, contact_id=contact_id, limit=limit, cursor=cursor
    )
    return ActivityList(items=items, next_cursor=next_cursor)


@router.post(
    "/contacts/{contact_id}/events",
    operation_id="recordContactEvent",
    response_model=EventResult,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Report what happened to a contact",
    description=(
        "Applied through the life-cycle rules; an event the contact's status does not allow answers 409 "
        "naming the current status and the event. " + IDEMPOTENCY_HEADER_DOC
    ),
)
def report_event(
    contact_id: Id, data: ContactEventIn, caller: ApiCallerDep, idem: IdempotencyDep, now: NowDep
) -> object:
    def work() -> tuple[int, EventResult]:
        contact, activity = service.report_event(
            idem.session,
            workspace_id=caller.workspace_id,
            contact_id=contact_id,
            data=data,
            now=now,
        )
        return 200, EventResult(
            contact=service.contact_read(contact), activity=activity_read(activity)
        )

    return idem.run(work)
