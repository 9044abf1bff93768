"""The external executor's protocol: lease due actions, report each result (SPEC §5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from app.accounts.api_caller import IDEMPOTENCY_HEADER_DOC, ApiCallerDep, IdempotencyDep
from app.contacts.log import activity_read
from app.contacts.schemas import ActivityRead
from app.engine import leasing, results
from app.engine.schemas import ActionResultIn, LeasedActionRead, LeaseList, LeaseRequest
from app.schemas import MAX_ID
from app.web.api_common import CONFLICT, NOT_FOUND
from app.web.deps import NowDep

router = APIRouter(tags=["executor"])
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post(
    "/senders/{sender_id}/actions/lease",
    operation_id="leaseActions",
    response_model=LeaseList,
    responses=NOT_FOUND,
    summary="Lease due actions of a sender",
    description=(
        "Hands out up to `limit` due actions, never more than the sender's caps allow right now. "
        "Leased actions are hidden from other executors until `leased_until`; an unreported lease "
        "expires and the action becomes due again. A lease retried with its Idempotency-Key "
        "answers the same actions under the same lease, and leases nothing more. "
        + IDEMPOTENCY_HEADER_DOC
    ),
)
def lease_actions(
    sender_id: Id, data: LeaseRequest, caller: ApiCallerDep, idem: IdempotencyDep, now: NowDep
) -> object:
    def work() -> tuple[int, LeaseList]:
        leased = leasing.lease_for_executor(
            idem.session,
            workspace_id=caller.workspace_id,
            sender_id=sender_id,
            limit=data.limit,
            lease_for=timedelta(seconds=data.lease_seconds),
            now=now,
        )
        return 200, LeaseList(items=[LeasedActionRead(**vars(a)) for a in leased])

    return idem.run(work)


@router.post(
    "/actions/{action_id}/result",
    operation_id="reportActionResult",
    response_model=ActivityRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Report the result of a leased action",
    description=(
        "Applied once, through the life-cycle rules, with the activity entry. Repeating the same "
        "report changes nothing; a report under another lease, or after the lease was taken over, "
        "answers 409. A report retried with its Idempotency-Key answers what the first one did. "
        + IDEMPOTENCY_HEADER_DOC
    ),
)
def report_result(
    action_id: Id, data: ActionResultIn, caller: ApiCallerDep, idem: IdempotencyDep, now: NowDep
) -> object:
    def work() -> tuple[int, ActivityRead]:
        action = results.report_result(
            idem.session,
            action_id=action_id,
            lease_token=data.lease_token,
            result=results.ActionResult(
                success=data.outcome == "success",
                degree=data.degree,
                error_code=data.error_code,
                error_message=data.message,
                accepted=data.accepted,
                replied=data.replied,
            ),
            now=now,
            workspace_id=caller.workspace_id,
        )
        return 200, activity_read(action)

    return idem.run(work)
