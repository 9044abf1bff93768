"""A campaign's contacts: the table (status tabs, error filter, search, sort, keyset pages, all in
the URL), bulk actions on selected contacts, the CSV export, and each contact's activity log (a
dialog fragment for htmx, a whole page at the same URL otherwise)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts.security import AdminDep, CsrfDep, Viewer, ViewerDep
from app.campaigns import service
from app.campaigns.pages import STATE_ACTIONS
from app.campaigns.service import get_campaign
from app.contacts.export import HEADER, export_rows
from app.contacts.log import contact_activity, last_and_next, waiting_reason_label
from app.contacts.service import (
    ContactFilter,
    blacklist_contacts,
    contact_page,
    get_contact,
    queue_manual_withdrawals,
    set_muted,
)
from app.domain.errors import ERROR_LABELS, ErrorCode
from app.domain.messages import NOTE_LIMITS
from app.domain.statuses import ContactStatus
from app.domain.transitions import Counted
from app.errors import NotFound, ValidationFailed
from app.models import Contact
from app.pagination import encode_cursor
from app.schemas import DbId
from app.senders.service import get_sender
from app.web.deps import NowDep, SessionDep
from app.web.downloads import csv_response
from app.web.templating import is_htmx, page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
# What the page says after a bulk action (SPEC §8: messages come from the server, never from the
# URL). The redirect names the message by its code, with its counts (`?done=muted&n=3`); an
# unknown code, or a count that is not a small number, shows nothing.
DONE_MESSAGES: dict[str, str] = {
    "none_selected": "Select at least one contact first.",
    "withdrawn": "{n} withdrawal(s) queued",
    "muted": "{n} contact(s) muted",
    "unmuted": "{n} contact(s) unmuted",
    "blacklisted": "{n} contact(s) blacklisted",
}
SKIPPED_NOTE = "; {skipped} skipped (no pending invite)"
_COUNT = re.compile(r"[0-9]{1,7}")
_ID = re.compile(r"[0-9]{1,18}")
# The columns the table shows, read as plain rows (no ORM identity, no custom fields decoded).
TABLE_COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.linkedin_url,
    Contact.company,
    Contact.title,
    Contact.status,
    Contact.muted,
    Contact.replied,
    Contact.error_code,
    Contact.error_message,
)


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


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and _COUNT.fullmatch(value) else None


def done_message(done: str | None, n: str | None, skipped: str | None) -> str | None:
    """The message of a `done` code from our own table, with its counts; None when there is none."""
    template = DONE_MESSAGES.get(done or "")
    if template is None:
        return None
    count = _count(n)
    if "{n}" in template and count is None:
        return None
    message = template.format(n=count)
    skipped_count = _count(skipped)
    if done == "withdrawn" and skipped_count:
        message += SKIPPED_NOTE.format(skipped=skipped_count)
    return message


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


@router.get("/campaigns/{campaign_id:id}", name="campaign")
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
    # Looked up in DONE_MESSAGES, never shown: no length to check (a long one is no code).
    done: str | None = None,
    n: str | None = None,
    skipped: str | None = None,
    # The contact whose log is open over the table (a dialog's own URL); not an id: no dialog.
    contact: str | None = None,
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
        "flash": done_message(done, n, skipped),
        "opened": None if is_htmx(request) else _opened(session, viewer, campaign.id, contact),
    }
    return page(request, "campaigns/campaign.html", context, block="contacts")


def _opened(session: Session, viewer: Viewer, campaign_id: int, contact: str | None) -> Any:
    """The contact of `?contact=ID` with its log, when it is one of this campaign's contacts
    (anyone else's, or no contact at all, opens nothing: the table is shown as it is)."""
    if contact is None or not _ID.fullmatch(contact):
        return None
    try:
        found = get_contact(session, workspace_id=viewer.workspace_id, contact_id=int(contact))
    except NotFound:
        return None
    if found.campaign_id != campaign_id:
        return None
    activity, _ = contact_activity(
        session, workspace_id=viewer.workspace_id, contact_id=found.id, limit=200
    )
    return {"contact": found, "activity": activity}


@router.post("/campaigns/{campaign_id:id}/contacts/bulk", dependencies=[CsrfDep])
def bulk_action(
    campaign_id: int,
    session: SessionDep,
    viewer: AdminDep,
    now: NowDep,
    action: Annotated[str, Form(pattern="^(withdraw|mute|unmute|blacklist)$")],
    contact_id: Annotated[list[DbId], Form()] = [],  # noqa: B006
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    service.get_campaign(
        session, workspace_id=viewer.workspace_id, campaign_id=campaign_id, with_steps=False
    )
    done: dict[str, str | int]
    if not contact_id:
        done = {"done": "none_selected"}
    elif action == "withdraw":
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
        done = {"done": "withdrawn", "n": n, "skipped": len(contact_id) - n}
    elif action in ("mute", "unmute"):
        n = set_muted(
            session,
            workspace_id=viewer.workspace_id,
            campaign_id=campaign_id,
            contact_ids=contact_id,
            muted=action == "mute",
            now=now,
        )
        done = {"done": f"{action}d", "n": n}
    else:
        n = blacklist_contacts(
            session,
            workspace_id=viewer.workspace_id,
            campaign_id=campaign_id,
            contact_ids=contact_id,
            now=now,
        )
        done = {"done": "blacklisted", "n": n}
    sep = "&" if back else ""
    return RedirectResponse(
        f"/campaigns/{campaign_id}?{back}{sep}{urlencode(done)}", status_code=303
    )


@router.get("/campaigns/{campaign_id:id}/export.csv")
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


@router.get("/contacts/{contact_id:id}", name="contact")
def contact_log(
    contact_id: int, request: Request, session: SessionDep, viewer: ViewerDep
) -> Response:
    contact = get_contact(session, workspace_id=viewer.workspace_id, contact_id=contact_id)
    campaign = get_campaign(
        session, workspace_id=viewer.workspace_id, campaign_id=contact.campaign_id, with_steps=False
    )
    activity, _ = contact_activity(
        session, workspace_id=viewer.workspace_id, contact_id=contact_id, limit=200
    )
    context = {"contact": contact, "campaign": campaign, "activity": activity}
    if is_htmx(request):
        return page(request, "contacts/dialog.html", context)
    return page(request, "contacts/contact.html", context)
