"""An action belongs to its contact: its campaign and workspace are the contact's, and it goes with
them through the contact (activities have no foreign key of their own to either)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.demo import seed_demo
from app.models import Activity, Campaign, Contact, Workspace
from tests.conftest import T0


def _actions(session: Session, *where: object) -> int:
    return int(session.scalar(select(func.count()).select_from(Activity).where(*where)) or 0)


def test_a_deleted_campaign_or_workspace_takes_its_actions_with_it(session: Session) -> None:
    seed_demo(session, admin_email="o@demo.test", password="password-123", contacts=60, now=T0)
    session.flush()
    mismatched = session.scalar(
        select(func.count())
        .select_from(Activity)
        .join(Contact, Contact.id == Activity.contact_id)
        .where(
            (Activity.campaign_id != Contact.campaign_id)
            | (Activity.workspace_id != Contact.workspace_id)
        )
    )
    assert mismatched == 0
    campaign = session.scalars(
        select(Campaign).where(Campaign.id.in_(select(Activity.campaign_id))).limit(1)
    ).one()
    workspace_id = campaign.workspace_id
    assert _actions(session, Activity.campaign_id == campaign.id) > 0
    others = _actions(session, Activity.campaign_id != campaign.id)
    assert others > 0

    session.execute(delete(Campaign).where(Campaign.id == campaign.id))
    assert _actions(session, Activity.campaign_id == campaign.id) == 0
    assert _actions(session) == others

    session.execute(delete(Workspace).where(Workspace.id == workspace_id))
    assert _actions(session, Activity.workspace_id == workspace_id) == 0
