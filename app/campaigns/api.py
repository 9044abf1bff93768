"""/api/v1/campaigns — thin: parse, call the service, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.accounts import audit
from app.accounts.api_caller import IDEMPOTENCY_HEADER_DOC, ApiCallerDep, IdempotencyDep
from app.campaigns import service
from app.campaigns.schemas import CampaignCreate, CampaignList, CampaignRead, CampaignUpdate
from app.domain.statuses import CampaignState
from app.pagination import decode_cursor, encode_cursor
from app.schemas import MAX_ID
from app.web.api_common import CONFLICT, NOT_FOUND
from app.web.deps import NowDep, SessionDep

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get(
    "",
    operation_id="listCampaigns",
    response_model=CampaignList,
    summary="List campaigns with their statistics",
)
def list_campaigns(
    session: SessionDep,
    caller: ApiCallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> CampaignList:
    after = decode_cursor(cursor, sort="id")["id"] if cursor else None
    rows = service.list_campaigns(
        session, workspace_id=caller.workspace_id, after_id=after, limit=limit + 1
    )
    next_cursor = (
        encode_cursor({"sort": "id", "id": rows[limit - 1].id}) if len(rows) > limit else None
    )
    return CampaignList(
        items=service.campaign_reads(session, rows[:limit]), next_cursor=next_cursor
    )


@router.post(
    "",
    operation_id="createCampaign",
    status_code=201,
    response_model=CampaignRead,
    responses=NOT_FOUND,
    summary="Create a campaign (as a draft)",
    description="The sender must belong to your workspace. " + IDEMPOTENCY_HEADER_DOC,
)
def create_campaign(data: CampaignCreate, caller: ApiCallerDep, idem: IdempotencyDep) -> object:
    def work() -> tuple[int, CampaignRead]:
        campaign = service.create_campaign(
            idem.session, workspace_id=caller.workspace_id, data=data
        )
        return 201, service.campaign_reads(idem.session, [campaign])[0]

    return idem.run(work)


@router.get(
    "/{campaign_id}",
    operation_id="getCampaign",
    response_model=CampaignRead,
    responses=NOT_FOUND,
    summary="Get a campaign",
)
def get_campaign(
    campaign_id: CampaignId, session: SessionDep, caller: ApiCallerDep
) -> CampaignRead:
    campaign = service.get_campaign(
        session, workspace_id=caller.workspace_id, campaign_id=campaign_id
    )
    return service.campaign_reads(session, [campaign])[0]


@router.patch(
    "/{campaign_id}",
    operation_id="updateCampaign",
    response_model=CampaignRead,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Rename, edit templates, or start / pause / archive a campaign",
)
def update_campaign(
    campaign_id: CampaignId,
    data: CampaignUpdate,
    session: SessionDep,
    caller: ApiCallerDep,
    now: NowDep,
) -> CampaignRead:
    campaign = service.update_campaign(
        session, workspace_id=caller.workspace_id, campaign_id=campaign_id, data=data, now=now
    )
    if data.state is CampaignState.ARCHIVED:
        audit.record(
            session,
            workspace_id=caller.workspace_id,
            actor=audit.api_actor(caller.api_key_id),
            action="campaign.archived",
            target=campaign.name,
            now=now,
        )
    return service.campaign_reads(session, [campaign])[0]
