"""A contact's activity log: a dialog fragment for htmx, a whole page at the same URL otherwise."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.activity.service import contact_activity
from app.campaigns.service import get_campaign
from app.contacts.service import get_contact
from app.web.deps import SessionDep
from app.web.security import ViewerDep
from app.web.templating import is_htmx, page

router = APIRouter(include_in_schema=False)


@router.get("/contacts/{contact_id:int}", name="contact")
def contact_page(
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
