"""Bulk inserts of new contacts (PostgreSQL: COPY into a staging table the connection keeps): a
second batch in the same transaction (into another campaign, or the same), or one after a
rolled-back batch, inserts only its own rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.statuses import CampaignType, ContactSource
from app.lifecycle import service as lifecycle
from app.lifecycle.service import Cause
from app.models import Contact
from tests.builders import a_campaign, a_workspace
from tests.conftest import T0


def _batch(
    session: Session, campaign_id: int, workspace_id: int, names: list[str]
) -> dict[str, int]:
    start = lifecycle.new_contact_columns(CampaignType.CONNECTION, ContactSource.API, T0)
    common: dict[str, Any] = {
        "workspace_id": workspace_id,
        "campaign_id": campaign_id,
        "source": ContactSource.API,
        "created_at": T0,
        "updated_at": T0,
        **start,
    }
    rows = [
        {"linkedin_url": f"https://www.linkedin.com/in/{n}", "first_name": n, "custom_fields": {}}
        for n in names
    ]
    return lifecycle.insert_new_contacts(session, rows, common=common, cause=Cause.API, now=T0)


def _stored(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Contact.first_name, Contact.id).where(Contact.campaign_id == campaign_id)
    )
    return {str(name): int(id_) for name, id_ in rows}


def test_two_batches_in_one_transaction_and_one_after_a_rollback(session: Session) -> None:
    workspace = a_workspace(session)
    campaign = a_campaign(session, workspace)
    other = a_campaign(session, workspace, name="Other")
    session.commit()

    elsewhere = _batch(session, other.id, workspace.id, ["zoe"])
    first = _batch(session, campaign.id, workspace.id, ["ann", "bob"])
    second = _batch(session, campaign.id, workspace.id, ["cat", "ann", "dan"])
    # The second batch inserted only its own new rows, under ids after the first's, in order.
    assert [url.rsplit("/", 1)[1] for url in second] == ["cat", "dan"]
    assert min(second.values()) > max(first.values())
    assert second["https://www.linkedin.com/in/cat"] < second["https://www.linkedin.com/in/dan"]
    session.commit()

    with session.begin_nested() as nested:
        _batch(session, campaign.id, workspace.id, ["eve", "fay"])
        nested.rollback()
    after = _batch(session, campaign.id, workspace.id, ["gus"])
    session.commit()

    stored = _stored(session, campaign.id)
    assert sorted(stored) == ["ann", "bob", "cat", "dan", "gus"]
    assert _stored(session, other.id) == {"zoe": elsewhere["https://www.linkedin.com/in/zoe"]}
    assert after == {"https://www.linkedin.com/in/gus": stored["gus"]}
