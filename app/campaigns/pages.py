"""The campaign page (contact table, filters, admin actions), the editor, and the CSV export."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.activity.service import last_and_next, waiting_reason_label
from app.campaigns import service
from app.campaigns.schemas import CampaignCreate, CampaignUpdate, FollowUpStep
from app.contacts.export import HEADER, export_rows
from app.contacts.service import ContactFilter, blacklist_contacts, contact_page, set_muted
from app.dashboard.contact_table import TABLE_COLUMNS
from app.domain.errors import ERROR_LABELS, ErrorCode
from app.domain.messages import NOTE_LIMITS
from app.domain.statuses import CampaignState, ContactStatus
from app.domain.transitions import Counted
from app.engine.service import queue_manual_withdrawals
from app.errors import Conflict, ValidationFailed
from app.pagination import encode_cursor
from app.senders.service import get_sender, list_senders
from app.web.deps import NowDep, SessionDep
from app.web.downloads import csv_response
from app.web.forms import field_errors
from app.web.security import AdminDep, CsrfDep, ViewerDep
from app.web.templating import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
STATE_ACTIONS = {
    CampaignState.DRAFT: [("running", "Start"), ("archived", "Archive")],
    CampaignState.RUNNING: [("paused", "Pause"), ("archived", "Archive")],
    CampaignState.PAUSED: [("running", "Resume"), ("archived", "Archive")],
    CampaignState.ARCHIVED: [],
}


def _filters(
    status: list[str], error: str | None, q: str | None, reached: str | None = None
) -> ContactFilter:
    try:
        statuses = tuple(ContactStatus(s) for s in status if s)
        code = ErrorCode(error) if error and error != "any" else None
        counted = Counted(reached) if reached else None
    except ValueError as exc:
        raise ValidationFailed("Unknown filter value", {"filter": [str(exc)]}) from exc
    return ContactFilter(
        statuses=statuses,
        error=code,
        any_error=error == "any",
        q=(q or "").strip() or None,
        reached=counted,
    )


def _query(filters: ContactFilter, sort: str, **extra: str) -> str:
    pairs: list[tuple[str, str]] = [("status", s.value) for s in filters.statuses]
    if filters.any_error:
        pairs.append(("error", "any"))
    elif filters.error:
        pairs.append(("error", filters.error.value))
    if filters.q:
        pairs.append(("q", filters.q))
    if filters.reached:
        pairs.append(("reached", filters.reached.value))
    if sort != "id":
        pairs.append(("sort", sort))
    pairs.extend(extra.items())
    return urlencode(pairs)


@router.get("/campaigns/{campaign_id:int}", name="campaign")
def campaign_page(
    campaign_id: int,
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    error: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    reached: Annotated[str | None, Query(max_length=40)] = None,
    sort: Annotated[str, Query(pattern="^-?id$")] = "id",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[str | None, Query(max_length=200)] = None,
    flash: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    campaign = service.get_campaign(
        session, workspace_id=viewer.workspace_id, campaign_id=campaign_id, with_steps=False
    )
    sender = get_sender(session, workspace_id=viewer.workspace_id, sender_id=campaign.sender_id)
    filters = _filters(status, error, q, reached)
    rows, next_cursor = contact_page(
        session,
        campaign_id=campaign.id,
        filters=filters,
        limit=PAGE_SIZE,
        cursor=cursor,
        before=before,
        sort=sort,
        columns=TABLE_COLUMNS,
    )
    has_earlier = not before or next_cursor is not None
    if before and rows:
        # A "previous" page always has a next page: the one we came from.
        next_cursor = encode_cursor({"sort": sort, "id": rows[-1].id})
    actions = last_and_next(session, [c.id for c in rows])
    table = []
    for c in rows:
        last, nxt = actions[c.id]
        label = ""
        if nxt is not None and nxt.waiting_reason:
            label = waiting_reason_label(nxt.waiting_reason, nxt.waiting_cap) or ""
        table.append({"contact": c, "last": last, "next": nxt, "next_label": label})
    at_start = not rows or (not cursor and not before) or not has_earlier
    context: dict[str, Any] = {
        "campaign": campaign,
        "sender": sender,
        "note_limit": NOTE_LIMITS[sender.tier],
        "stats": service.campaign_stats(session, [campaign.id])[campaign.id],
        "filters": filters,
        "sort": sort,
        "rows": table,
        "query": _query(filters, sort),
        "next_query": _query(filters, sort, cursor=next_cursor) if next_cursor else None,
        "prev_query": None
        if at_start
        else _query(filters, sort, before=encode_cursor({"sort": sort, "id": rows[0].id})),
        "tab_query": lambda st: _query(
            ContactFilter(
                statuses=(ContactStatus(st),) if st else (),
                error=filters.error,
                any_error=filters.any_error,
                q=filters.q,
                reached=filters.reached,
            ),
            sort,
        ),
        "error_options": [
            (code.value, f"{label} ({code.value})") for code, label in ERROR_LABELS.items()
        ],
        "state_actions": STATE_ACTIONS[campaign.state],
        "flash": flash,
    }
    return page(request, "campaigns/campaign.html", context, block="contacts")


@router.post("/campaigns/{campaign_id:int}/state", dependencies=[CsrfDep])
def change_state(
    campaign_id: int,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    state: Annotated[CampaignState, Form()],
) -> Response:
    service.update_campaign(
        session,
        workspace_id=viewer.workspace_id,
        campaign_id=campaign_id,
        data=CampaignUpdate(state=state),
        now=now,
    )
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id:int}/contacts/bulk", dependencies=[CsrfDep])
def bulk_action(
    campaign_id: int,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    action: Annotated[str, Form(pattern="^(withdraw|mute|unmute|blacklist)$")],
    contact_id: Annotated[list[int], Form()] = [],  # noqa: B006
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    service.get_campaign(
        session, workspace_id=viewer.workspace_id, campaign_id=campaign_id, with_steps=False
    )
    if not contact_id:
        message = "Select at least one contact first."
    elif action == "withdraw":
        from app.contacts.service import get_contact

        invited = [
            cid
            for cid in contact_id
            if get_contact(session, workspace_id=viewer.workspace_id, contact_id=cid).status
            is ContactStatus.INVITE_SENT
        ]
        n = (
            queue_manual_withdrawals(
                session,
                workspace_id=viewer.workspace_id,
                campaign_id=campaign_id,
                contact_ids=invited,
                now=now,
            )
            if invited
            else 0
        )
        skipped = len(contact_id) - n
        message = f"{n} withdrawal(s) queued" + (
            f"; {skipped} skipped (no pending invite)" if skipped else ""
        )
    elif action in ("mute", "unmute"):
        n = set_muted(
            session,
            workspace_id=viewer.workspace_id,
            campaign_id=campaign_id,
            contact_ids=contact_id,
            muted=action == "mute",
            now=now,
        )
        message = f"{n} contact(s) {action}d"
    else:
        n = blacklist_contacts(
            session,
            workspace_id=viewer.workspace_id,
            campaign_id=campaign_id,
            contact_ids=contact_id,
            now=now,
        )
        message = f"{n} contact(s) blacklisted"
    sep = "&" if back else ""
    return RedirectResponse(
        f"/campaigns/{campaign_id}?{back}{sep}{urlencode({'flash': message})}", status_code=303
    )


@router.get("/campaigns/{campaign_id:int}/export.csv")
def export_csv(
    campaign_id: int,
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    status: Annotated[list[str], Query()] = [],  # noqa: B006
    error: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    reached: Annotated[str | None, Query(max_length=40)] = None,
    sort: Annotated[str, Query(pattern="^-?id$")] = "id",
) -> Response:
    campaign = service.get_campaign(
        session, workspace_id=viewer.workspace_id, campaign_id=campaign_id, with_steps=False
    )
    rows = export_rows(
        request.app.state.read_sessionmaker,
        campaign_id=campaign.id,
        filters=_filters(status, error, q, reached),
        newest_first=sort == "-id",
    )
    return csv_response(f"campaign-{campaign.id}-contacts.csv", HEADER, rows)


# ------------------------------------------------------------------ editor


def _steps_from_form(form: Any) -> list[dict[str, Any]]:
    steps = []
    for i in range(5):
        template = str(form.get(f"step_template_{i}", "")).strip()
        delay = str(form.get(f"step_delay_{i}", "")).strip()
        if template:
            steps.append({"delay_days": int(delay) if delay.isdigit() else 0, "template": template})
    return steps


def _form_values(form: Any) -> dict[str, Any]:
    sender = str(form.get("sender_id", ""))
    return {
        "name": str(form.get("name", "")),
        "type": str(form.get("type", "connection")),
        "sender_id": int(sender) if sender.isdigit() else None,
        "connection_template": str(form.get("connection_template", "")),
        "steps": [FollowUpStep.model_construct(**s) for s in _steps_from_form(form)],
        "max_reinvites": form.get("max_reinvites") or "0",
    }


def _editor(
    request: Request,
    session: SessionDep,
    viewer: AdminDep,
    campaign: Any,
    values: dict[str, Any],
    errors: dict[str, list[str]],
) -> Response:
    senders = list_senders(session, workspace_id=viewer.workspace_id, limit=200)
    return page(
        request,
        "campaigns/form.html",
        {"campaign": campaign, "form": values, "errors": errors, "senders": senders, "check": None},
        status_code=422 if errors else 200,
    )


@router.get("/campaigns/new")
def new_campaign(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    values: dict[str, Any] = {
        "name": "",
        "type": "connection",
        "sender_id": None,
        "connection_template": "",
        "steps": [],
        "max_reinvites": 0,
    }
    return _editor(request, session, viewer, None, values, {})


@router.post("/campaigns/new", dependencies=[CsrfDep])
async def create_campaign(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    form = await request.form()
    values = _form_values(form)
    try:
        data = CampaignCreate.model_validate(
            {
                "name": values["name"],
                "type": values["type"],
                "sender_id": values["sender_id"] or 0,
                "connection_template": values["connection_template"],
                "follow_up_steps": _steps_from_form(form),
                "max_reinvites": values["max_reinvites"],
            }
        )
        campaign = service.create_campaign(session, workspace_id=viewer.workspace_id, data=data)
    except ValidationError as exc:
        return _editor(request, session, viewer, None, values, field_errors(exc))
    except ValidationFailed as exc:
        return _editor(request, session, viewer, None, values, exc.errors)
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


@router.get("/campaigns/{campaign_id:int}/edit")
def edit_campaign(
    campaign_id: int, request: Request, session: SessionDep, viewer: AdminDep
) -> Response:
    c = service.get_campaign(session, workspace_id=viewer.workspace_id, campaign_id=campaign_id)
    values = {
        "name": c.name,
        "type": c.type.value,
        "sender_id": c.sender_id,
        "connection_template": c.connection_template,
        "steps": c.follow_up_steps,
        "max_reinvites": c.max_reinvites,
    }
    return _editor(request, session, viewer, c, values, {})


@router.post("/campaigns/{campaign_id:int}/edit", dependencies=[CsrfDep])
async def save_campaign(
    campaign_id: int, request: Request, session: SessionDep, viewer: AdminDep, now: NowDep
) -> Response:
    campaign = service.get_campaign(
        session, workspace_id=viewer.workspace_id, campaign_id=campaign_id
    )
    form = await request.form()
    values = _form_values(form)
    try:
        data = CampaignUpdate.model_validate(
            {
                "name": values["name"],
                "connection_template": values["connection_template"],
                "follow_up_steps": _steps_from_form(form),
                "max_reinvites": values["max_reinvites"],
            }
        )
        service.update_campaign(
            session, workspace_id=viewer.workspace_id, campaign_id=campaign_id, data=data, now=now
        )
    except ValidationError as exc:
        return _editor(request, session, viewer, campaign, values, field_errors(exc))
    except (ValidationFailed, Conflict) as exc:
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": [exc.detail]}
        return _editor(request, session, viewer, campaign, values, errors)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/note-check", dependencies=[CsrfDep])
async def note_check(request: Request, session: SessionDep, viewer: AdminDep) -> Response:
    """The editor's live length check: the note against the sender's tier, and how many contacts exceed it."""
    form = await request.form()
    template = str(form.get("connection_template", ""))[:2000]
    sender_id = str(form.get("sender_id", ""))
    campaign_id = str(form.get("campaign_id", ""))
    check = service.note_check(
        session,
        workspace_id=viewer.workspace_id,
        template=template,
        sender_id=int(sender_id) if sender_id.isdigit() else None,
        campaign_id=int(campaign_id) if campaign_id.isdigit() else None,
    )
    return page(
        request,
        "campaigns/form.html",
        {"check": check, "campaign": None, "form": {}, "errors": {}, "senders": []},
        block="note_check",
    )
