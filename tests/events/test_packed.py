"""Packed runs of events (`Event.event_count`): on SQLite a batch of new contacts that all went in,
in order, writes its `contact.created` events as ONE row of the log holding the batch's insert
parameters, and a sweep batch its `contact.status_changed` events as one row; on PostgreSQL the
numberer makes each committed batch of created contacts one row, and a sweep batch's one batch row
(built by the database) one row too. Readers see single events, the
same as single rows give them: on both databases, from any `after`, with any `limit` and type
filter; the purge never splits a run; the downgrade unpacks them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import migrations
from app.clock import FixedClock
from app.contacts.schemas import ContactEventIn
from app.contacts.service import add_contacts, report_event
from app.db import make_engine, make_sessionmaker
from app.engine.sweeps import withdraw_stale_invites
from app.events import repository
from app.models import Contact, Event
from tests.builders import a_campaign, a_workspace
from tests.clients import Api, person
from tests.conftest import T0
from tests.events.test_api import events, head, report

PREVIOUS_REVISION = "9d4c1b7e2f60"  # the migration before events.event_count


def expected(contact: dict[str, Any]) -> dict[str, Any]:
    """A `contact.created` event's documented data, from the contact as the API reads it."""
    return {
        "contact": {
            "id": contact["id"],
            "campaign_id": contact["campaign_id"],
            **{
                k: contact[k]
                for k in ("linkedin_url", "first_name", "last_name", "email", "company")
            },
            "status": contact["status"],
        },
        "source": "api",
        "cause": "api",
    }


def log_rows(session: Session, workspace_id: int) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.workspace_id == workspace_id).order_by(Event.seq))
    )


def test_a_whole_batch_is_one_packed_row_and_reads_as_the_per_row_events_do(
    api: Api, session: Session, backend: str
) -> None:
    campaign = api.campaign()
    start = head(api)
    fresh = [
        person(0, last_name="Ødegård", email="p0@example.com", company='Globex, "Inc."'),
        person(1, custom_fields={"Notes": "tab\there", "Tier": "A"}),
        person(2, first_name="Zoë 🚀"),
    ]
    response = api.add(campaign["id"], fresh)
    assert response.status_code == 200 and response.json()["created"] == 3, response.text
    packed = [api.get(f"/api/v1/contacts/{c['id']}").json() for c in response.json()["contacts"]]
    events(api, after=start)  # PostgreSQL: numbered (on demand), as one packed row as well
    (row,) = [r for r in log_rows(session, api.workspace.id) if r.seq and r.seq > start]
    assert (row.type, row.seq, row.event_count) == ("contact.created", start + 1, 3)
    assert row.uid.startswith("evt_") and len(row.uid) == 28  # 96 random bits
    # A batch with a duplicate in it is written per row (one row per event, built from the
    # contacts): its readers see the same documented data.
    mixed = api.add(campaign["id"], [person(2), person(3, email="p3@example.com"), person(4)])
    assert mixed.json()["created"] == 2 and len(mixed.json()["duplicates"]) == 1
    single = [
        api.get(f"/api/v1/contacts/{c['id']}").json()
        for c in mixed.json()["contacts"]
        if c.get("id") not in {p["id"] for p in packed}
    ]
    events(api, after=start)
    later = [r for r in log_rows(session, api.workspace.id) if r.seq and r.seq > start + 3]
    # SQLite: one row per event, built from the contacts; PostgreSQL's numberer packs every
    # committed batch of created contacts.
    packs = {"sqlite": [None, None], "postgresql": [2]}[backend]
    assert [r.event_count for r in later if r.type == "contact.created"] == packs
    created = [e for e in events(api, after=start) if e["type"] == "contact.created"]
    assert [e["data"] for e in created] == [expected(c) for c in packed + single]
    assert [e["seq"] for e in created[:3]] == [start + 1, start + 2, start + 3]
    ids = [e["id"] for e in created]
    assert all(i.startswith("evt_") and len(i) == 36 for i in ids) and len(set(ids)) == 5
    assert [e["id"] for e in events(api, after=start) if e["type"] == "contact.created"] == ids


def test_a_sweep_batch_is_one_packed_row_of_status_changes(
    api: Api, session: Session, clock: FixedClock
) -> None:
    campaign = api.campaign()
    response = api.add(campaign["id"], [person(i, company=f"Co {i}") for i in range(3)])
    contacts = response.json()["contacts"]
    for c in contacts:
        report(api, c["id"], {"event": "profile_visited", "degree": 2})
        report(api, c["id"], {"event": "invite_sent"})
    start = head(api)
    assert withdraw_stale_invites(session, now=clock() + timedelta(days=21)) == 3
    session.flush()
    swept = events(api, after=start)  # on PostgreSQL, numbered from the sweep's one batch row
    (row,) = [r for r in log_rows(session, api.workspace.id) if r.seq and r.seq > start]
    assert (row.type, row.seq, row.event_count) == ("contact.status_changed", start + 1, 3)
    now = [api.get(f"/api/v1/contacts/{c['id']}").json() for c in contacts]
    assert [e["data"] for e in swept] == [
        {
            "contact": expected(c)["contact"],
            "from": "invite_sent",
            "to": "withdrawn",
            "cause": "engine",
        }
        for c in now
    ]
    assert [e["seq"] for e in swept] == [start + 1, start + 2, start + 3]
    assert len({e["id"] for e in swept}) == 3
    middle = api.get("/api/v1/events", params={"after": start + 1, "limit": 1}).json()
    assert middle == {"items": [swept[1]], "next_after": start + 2}


def test_pages_start_anywhere_inside_a_run_with_any_limit_and_filter(api: Api) -> None:
    campaign = api.campaign()
    response = api.add(campaign["id"], [person(i) for i in range(9)])
    contact = response.json()["contacts"][4]
    report(api, contact["id"], {"event": "profile_visited", "degree": 2})
    everything = events(api)
    last = everything[-1]["seq"]
    for after in range(0, last + 1):
        for limit in (1, 4, 1000):
            paged: list[dict[str, Any]] = []
            at = after
            while True:
                body = api.get("/api/v1/events", params={"after": at, "limit": limit}).json()
                if not body["items"]:
                    assert body["next_after"] == max(at, last)
                    break
                assert len(body["items"]) <= limit
                paged += body["items"]
                at = body["next_after"]
            assert paged == [e for e in everything if e["seq"] > after], (after, limit)
        created = api.get(
            "/api/v1/events", params={"after": after, "type": "contact.created", "limit": 2}
        ).json()
        wanted = [e for e in everything if e["seq"] > after and e["type"] == "contact.created"]
        assert created["items"] == wanted[:2]
        others = api.get(
            "/api/v1/events", params={"after": after, "type": "contact.status_changed"}
        ).json()
        assert others["items"] == [
            e for e in everything if e["seq"] > after and e["type"] == "contact.status_changed"
        ]
        assert others["next_after"] == last  # past the runs it skipped


def test_the_downgrade_unpacks_runs_into_single_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'packed.db'}")
    try:
        migrations.upgrade(engine)
        factory = make_sessionmaker(engine)
        with factory.begin() as session:
            ws = a_workspace(session)
            campaign = a_campaign(session, ws)
            items = [person(i, email=f"p{i}@example.com") for i in range(4)]
            add_contacts(session, workspace_id=ws.id, campaign_id=campaign.id, items=items, now=T0)
            workspace_id, campaign_id = ws.id, campaign.id
        with factory.begin() as session:
            ids = session.scalars(select(Contact.id).where(Contact.campaign_id == campaign_id))
            for contact_id in list(ids):
                for event in ("profile_visited", "invite_sent"):
                    extra = {"degree": 2} if event == "profile_visited" else {}
                    report_event(
                        session,
                        workspace_id=workspace_id,
                        contact_id=contact_id,
                        data=ContactEventIn(event=event, **extra),
                        now=T0,
                    )
        with factory.begin() as session:
            assert withdraw_stale_invites(session, now=T0 + timedelta(days=21)) == 4
        with factory() as session:
            read = repository.numbered_page(
                session, workspace_id=workspace_id, after=0, upto=2**62, limit=1000, types=None
            )
            assert any(r.event_count for r in log_rows(session, workspace_id))
        created = [(e.uid, e.seq, e.data) for e in read if e.type == "contact.created"]
        changed = [(e.uid, e.seq, e.data) for e in read if e.type == "contact.status_changed"]
        assert len(created) == 4 and len(changed) == 3 * 4  # visited, invited, withdrawn
        migrations.downgrade(engine, PREVIOUS_REVISION)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT uid, seq, data FROM events WHERE workspace_id = :ws "
                    "AND type IN ('contact.created', 'contact.status_changed') ORDER BY seq"
                ),
                {"ws": workspace_id},
            ).all()
        assert [(uid, seq, json.loads(data)) for uid, seq, data in rows] == sorted(
            created + changed, key=lambda e: e[1]
        )
        migrations.upgrade(engine)
        with factory() as session:
            again = repository.numbered_page(
                session, workspace_id=workspace_id, after=0, upto=2**62, limit=1000, types=None
            )
        assert [(e.uid, e.seq, e.data) for e in again] == [(e.uid, e.seq, e.data) for e in read]
    finally:
        engine.dispose()
