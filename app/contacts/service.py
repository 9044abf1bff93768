"""Contacts: bulk add with per-item outcomes, filtered keyset listing, and life-cycle events."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.campaigns.service import get_campaign
from app.contacts import repository
from app.contacts.schemas import ContactErrorRead, ContactEventIn, ContactIn, ContactRead
from app.domain.errors import INVITE_ONLY_ERRORS, ActionError, ErrorCode
from app.domain.statuses import ActivityKind, CampaignState, ContactSource, ContactStatus
from app.domain.transitions import ContactEvent, Counted, EventDetail
from app.domain.urls import InvalidProfileUrl, normalize_profile_url
from app.errors import Conflict, NotFound, ValidationFailed
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause
from app.models import Activity, BlacklistEntry, Campaign, Contact
from app.pagination import decode_cursor, encode_cursor
from app.queue.explain import explain_sender
from app.queue.repository import has_pending

MAX_PAGE = 200
SORTS = {"id": Contact.id.asc(), "-id": Contact.id.desc()}
# The same orders spelled with the campaign first: within one campaign they are the same rows in
# the same order, and PostgreSQL then walks the (campaign_id, id) index instead of the primary key
# (which it otherwise prefers for any campaign whose ids do not come first in the table).
KEYSET_ORDER = {
    "id": (Contact.campaign_id.asc(), Contact.id.asc()),
    "-id": (Contact.campaign_id.desc(), Contact.id.desc()),
}


@dataclass
class BulkAddResult:
    # Each created contact as ContactRead's fields.
    created: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[tuple[int, str, int | None]] = field(default_factory=list)
    invalid: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)


_ITEMS = TypeAdapter(list[ContactIn])


def _validated(items: Sequence[Any]) -> Iterator[tuple[int, ContactIn | dict[str, list[str]]]]:
    """Each item as a ContactIn, or what is wrong with it. The whole list is validated in one
    call when it is all valid (the usual case); otherwise item by item, for per-index errors."""
    if all(isinstance(raw, dict) for raw in items):
        try:
            valid = _ITEMS.validate_python(items)
        except ValidationError:
            pass
        else:
            yield from enumerate(valid)
            return
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            yield index, {"item": ["each contact must be a JSON object"]}
            continue
        try:
            yield index, ContactIn.model_validate(raw)
        except ValidationError as exc:
            yield index, _item_errors(exc)


def _item_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "item"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field; see ContactIn in the API schema for the fields a contact has"
        errors.setdefault(loc, []).append(msg)
    return errors


def add_contacts(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    items: Sequence[dict[str, Any]],
    now: datetime,
) -> BulkAddResult:
    """Store the valid items; report duplicates (in the request or the campaign) and invalid items.

    Set-based: one lookup of existing URLs and one INSERT … ON CONFLICT DO NOTHING for the batch,
    so a concurrent writer adding the same person makes it a duplicate, never an error.
    Raises NotFound for a campaign outside the workspace, Conflict for an archived one.
    """
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
    )
    if campaign.state is CampaignState.ARCHIVED:
        raise Conflict(f"Campaign {campaign_id} is archived; contacts cannot be added to it")
    result = BulkAddResult()
    pending: list[tuple[int, str, ContactIn]] = []
    first_index: dict[str, int] = {}
    for index, item_or_error in _validated(items):
        if not isinstance(item_or_error, ContactIn):
            result.invalid.append((index, item_or_error))
            continue
        item = item_or_error
        try:
            url = normalize_profile_url(item.linkedin_url)
        except InvalidProfileUrl as exc:
            result.invalid.append((index, {"linkedin_url": [exc.reason]}))
            continue
        if url in first_index:
            result.duplicates.append((index, url, None))
            continue
        first_index[url] = index
        pending.append((index, url, item))

    common = {
        "workspace_id": workspace_id,
        "campaign_id": campaign.id,
        "created_at": now,
        "updated_at": now,
        "status_changed_at": now,
    }
    rows: list[dict[str, Any]] = []
    starts = {
        source: lifecycle.new_contact_columns(campaign.type, source, now)
        for source in ContactSource
    }
    for _index, url, item in pending:
        start = starts[item.source]
        rows.append(
            {
                "linkedin_url": url,
                "first_name": item.first_name or None,
                "last_name": item.last_name or None,
                "email": item.email or None,
                "company": item.company or None,
                "title": item.title or None,
                "custom_fields": item.custom_fields,
                "source": item.source,
                "status": start["status"],
                "connected_at": start["connected_at"],
            }
        )
    # One INSERT … ON CONFLICT DO NOTHING: rows already in the campaign (or added by a concurrent
    # writer) are skipped, and only those are looked up to report the existing contact's id.
    inserted = lifecycle.insert_new_contacts(session, rows, common=common, cause=Cause.API, now=now)
    skipped = [str(r["linkedin_url"]) for r in rows if r["linkedin_url"] not in inserted]
    existing = repository.existing_urls(session, campaign.id, skipped) if skipped else {}
    for index, url, _item in pending:
        if url not in inserted:
            result.duplicates.append((index, url, existing.get(url)))
    # Later in-request duplicates point at the contact the first occurrence created.
    result.duplicates = [
        (i, url, cid if cid is not None else inserted.get(url, existing.get(url)))
        for i, url, cid in sorted(result.duplicates)
    ]
    # The answer is built from what was inserted: no second read, no ORM object per row (plain
    # dicts: the API validates and serialises the whole answer in one pass of pydantic-core).
    result.created = [
        {
            "id": inserted[str(r["linkedin_url"])],
            "campaign_id": campaign.id,
            **r,
            "status_label": r["status"].label,
            "error": None,
            "muted": False,
            "replied": False,
            "created_at": now,
            "updated_at": now,
            "status_changed_at": now,
            "invited_at": None,
            "withdrawn_at": None,
        }
        for r in rows
        if r["linkedin_url"] in inserted
    ]
    return result


def get_contact(session: Session, *, workspace_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id:
        raise NotFound(f"Contact {contact_id} not found")
    return contact


@dataclass(frozen=True)
class ContactFilter:
    statuses: tuple[ContactStatus, ...] = ()
    error: ErrorCode | None = None
    any_error: bool = False
    q: str | None = None
    # One of the campaign's acceptance figures (the funnel's bars open these).
    reached: Counted | None = None


def list_contacts(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    filters: ContactFilter,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "id",
    before: str | None = None,
) -> tuple[list[Contact], str | None]:
    """One keyset page (no OFFSET: a deep page costs what the first does) and the next cursor.

    The page is read first, limited to the caller's workspace: only an empty page needs the
    campaign looked up, to tell an empty campaign from one that is not the caller's (404)."""
    try:
        rows, next_cursor = contact_page(
            session,
            campaign_id=campaign_id,
            workspace_id=workspace_id,
            filters=filters,
            limit=limit,
            cursor=cursor,
            sort=sort,
            before=before,
        )
    except ValidationFailed:
        # Not the caller's campaign: 404 comes before what is wrong with the query.
        get_campaign(session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False)
        raise
    if not rows:
        get_campaign(session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False)
    return list(rows), next_cursor


def filtered_contacts(
    session: Session,
    *,
    campaign_id: int,
    filters: ContactFilter,
    columns: Sequence[Any] | None = None,
    workspace_id: int | None = None,
) -> Select[Any]:
    """The campaign's contacts under `filters`, unordered: whole contacts or rows of `columns`.
    Raises ValidationFailed for a NUL in the search (PostgreSQL refuses one in text)."""
    if filters.q and "\x00" in filters.q:
        raise ValidationFailed("The search contains a NUL character", {"q": ["Remove the \\u0000"]})
    return repository.filtered_contacts(
        session,
        campaign_id=campaign_id,
        statuses=filters.statuses,
        error=filters.error,
        any_error=filters.any_error,
        q=filters.q,
        reached=filters.reached,
        columns=columns,
        workspace_id=workspace_id,
    )


def contact_page(
    session: Session,
    *,
    campaign_id: int,
    filters: ContactFilter,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "id",
    before: str | None = None,
    columns: Sequence[Any] | None = None,
    workspace_id: int | None = None,
) -> tuple[list[Any], str | None]:
    """One keyset page of a campaign (checked to be the caller's, or limited to `workspace_id`):
    whole contacts, or rows of `columns`, and the next page's cursor (for a `before` page:
    whether rows come before it).
    Raises ValidationFailed for an unknown sort, a NUL in the search, a bad cursor."""
    if sort not in SORTS:
        raise ValidationFailed(
            f"Unknown sort {sort!r}", {"sort": [f"Use one of: {', '.join(SORTS)}"]}
        )
    limit = max(1, min(limit, MAX_PAGE))
    stmt = filtered_contacts(
        session,
        campaign_id=campaign_id,
        filters=filters,
        columns=columns,
        workspace_id=workspace_id,
    )

    def read(query: Any) -> list[Any]:
        return list(session.execute(query) if columns else session.scalars(query))

    if before:
        # The page before a row: walk backwards, then put the rows back in display order.
        first = decode_cursor(before, sort=sort)["id"]
        stmt = stmt.where(Contact.id < first if sort == "id" else Contact.id > first)
        backwards = KEYSET_ORDER["-id" if sort == "id" else "id"]
        rows = read(stmt.order_by(*backwards).limit(limit + 1))
        earlier = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        return rows, encode_cursor({"sort": sort, "id": rows[0].id}) if earlier and rows else None
    if cursor:
        last = decode_cursor(cursor, sort=sort)["id"]
        stmt = stmt.where(Contact.id > last if sort == "id" else Contact.id < last)
    rows = read(stmt.order_by(*KEYSET_ORDER[sort]).limit(limit + 1))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"sort": sort, "id": rows[-1].id})
    return rows, next_cursor


def contact_read(contact: Contact) -> ContactRead:
    error = None
    if contact.error_code is not None:
        action_error = ActionError.of(contact.error_code, contact.error_message)
        error = ContactErrorRead.model_construct(
            code=contact.error_code, label=action_error.label, message=action_error.message
        )
    # Built from a stored row whose types already match: no validation pass per field.
    return ContactRead.model_construct(
        id=contact.id,
        campaign_id=contact.campaign_id,
        linkedin_url=contact.linkedin_url,
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        company=contact.company,
        title=contact.title,
        custom_fields=contact.custom_fields,
        source=contact.source,
        status=contact.status,
        status_label=contact.status.label,
        error=error,
        muted=contact.muted,
        replied=contact.replied,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        status_changed_at=contact.status_changed_at,
        invited_at=contact.invited_at,
        connected_at=contact.connected_at,
        withdrawn_at=contact.withdrawn_at,
    )


def report_event(
    session: Session, *, workspace_id: int, contact_id: int, data: ContactEventIn, now: datetime
) -> tuple[Contact, Activity]:
    """An integration's report, applied through the lifecycle owner with its activity entry."""
    contact = get_contact(session, workspace_id=workspace_id, contact_id=contact_id)
    session.refresh(contact, with_for_update={"key_share": True})
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=contact.campaign_id, with_steps=False
    )
    occurred = data.occurred_at or now
    if occurred.tzinfo is None:
        raise ValidationFailed(
            "occurred_at needs a time zone", {"occurred_at": ["Use ISO 8601 with an offset or Z"]}
        )
    if occurred > now:
        raise ValidationFailed(
            "occurred_at is in the future", {"occurred_at": ["Report events that have happened"]}
        )
    if occurred < contact.created_at:
        raise ValidationFailed(
            "occurred_at is before the contact was added",
            {"occurred_at": [f"Use a time after {contact.created_at:%Y-%m-%d %H:%M} UTC"]},
        )
    if data.event is ContactEvent.ACTION_FAILED and data.error_code is None:
        raise ValidationFailed(
            "action_failed needs an error_code",
            {"error_code": ["Use one of: " + ", ".join(e.value for e in ErrorCode)]},
        )
    if data.event is ContactEvent.PROFILE_VISITED and data.degree is None:
        raise ValidationFailed(
            "profile_visited needs the connection degree", {"degree": ["Use 1, 2 or 3"]}
        )
    if data.step is not None and data.event is not ContactEvent.MESSAGE_SENT:
        raise ValidationFailed(
            "step goes only with message_sent", {"step": ["Leave it out for this event"]}
        )
    kind = None
    if data.event is ContactEvent.ACTION_FAILED:
        kind = data.action
        if data.error_code in INVITE_ONLY_ERRORS:
            if kind not in (None, ActivityKind.CONNECTION_REQUEST):
                raise ValidationFailed(
                    f"{data.error_code} happens only to a connection request",
                    {"action": ["Use connection_request, or leave it out"]},
                )
            kind = ActivityKind.CONNECTION_REQUEST
    if data.step is not None and data.step <= contact.follow_ups_sent:
        raise Conflict(
            f"Step {data.step} was already sent to contact {contact.id} "
            f"({contact.follow_ups_sent} sent so far)"
        )
    detail = EventDetail(
        degree=data.degree,
        error_code=data.error_code,
        error_message=data.message,
        withdrawal_pending=has_pending(session, contact.id, [ActivityKind.WITHDRAW_INVITE]),
    )
    message = data.message if data.event is ContactEvent.MESSAGE_SENT else None
    activity = lifecycle.apply_event(
        session,
        contact=contact,
        campaign=campaign,
        event=data.event,
        now=occurred,
        recorded_at=now,
        cause=Cause.EVENT,
        detail=detail,
        kind=kind,
        message=message,
        step=data.step,
        extra={"reported_by": "integration"},
    )
    return contact, activity


def set_muted(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    contact_ids: Sequence[int],
    muted: bool,
    now: datetime,
) -> int:
    """Mute (stop every further action: pending ones are skipped) or unmute chosen contacts."""
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
    )
    contacts = [
        c
        for c in repository.contacts_by_ids(session, contact_ids)
        if c.workspace_id == workspace_id and c.campaign_id == campaign_id
    ]
    lifecycle.set_muted(session, contacts=contacts, campaign=campaign, muted=muted, now=now)
    return len(contacts)


def blacklist_contacts(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    contact_ids: Sequence[int],
    now: datetime,
) -> int:
    """Never contact these people again, in any campaign of the workspace; their queued actions
    are skipped."""
    campaign = get_campaign(
        session, workspace_id=workspace_id, campaign_id=campaign_id, with_steps=False
    )
    contacts = [
        c
        for c in repository.contacts_by_ids(session, contact_ids)
        if c.workspace_id == workspace_id and c.campaign_id == campaign_id
    ]
    known = repository.blacklisted_urls(session, workspace_id, [c.linkedin_url for c in contacts])
    for contact in contacts:
        if contact.linkedin_url not in known:
            session.add(
                BlacklistEntry(
                    workspace_id=workspace_id,
                    linkedin_url=contact.linkedin_url,
                    reason="From the dashboard",
                    created_at=now,
                )
            )
            known.add(contact.linkedin_url)
    lifecycle.settle_blacklisted(session, contacts=contacts, campaign=campaign, now=now)
    return len(contacts)


def creation_source_label(source: ContactSource) -> str:
    return {
        ContactSource.CSV: "Imported from a CSV file",
        ContactSource.API: "Added through the API",
        ContactSource.INTEGRATION: "Added by an integration",
        ContactSource.SEARCH: "Added from a LinkedIn search",
    }[source]


def queue_manual_withdrawals(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    contact_ids: Sequence[int],
    now: datetime,
) -> int:
    """Withdraw chosen invites by hand: each contact becomes withdrawn with a Pending withdraw_invite
    (it obeys the daily withdrawal cap). Contacts that are not invite_sent are refused with 409."""
    contacts = repository.contacts_for_update(
        session, workspace_id=workspace_id, campaign_id=campaign_id, contact_ids=contact_ids
    )
    missing = set(contact_ids) - {c.id for c in contacts}
    if missing:
        raise NotFound(
            f"Contacts not in campaign {campaign_id}: {', '.join(map(str, sorted(missing)))}"
        )
    campaign = session.get_one(Campaign, campaign_id)
    for contact in contacts:
        lifecycle.apply_event(
            session,
            contact=contact,
            campaign=campaign,
            event=ContactEvent.INVITE_WITHDRAWN,
            now=now,
            cause=Cause.PAGE,
            extra={"reason": "manual"},
            pending=True,
            explain=False,
        )
    if campaign.sender_id is not None:
        explain_sender(session, sender_id=campaign.sender_id, now=now)
    return len(contacts)
