from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Contact
from app.pagination import encode_cursor
from tests.clients import Api, person


def test_thousand_item_bulk_with_valid_duplicate_and_invalid_items(
    api: Api, session: Session
) -> None:
    campaign = api.campaign()
    cid = campaign["id"]
    existing = api.add(cid, [person(0), person(1)]).json()["contacts"]
    items: list[Any] = []
    for i in range(1000):
        if i % 10 == 0:
            items.append(
                {"linkedin_url": f"https://linkedin.com/company/acme-{i}"}
            )  # invalid: company page
        elif i % 10 == 1:
            items.append({"first_name": "No URL"})  # invalid: missing
        elif i % 10 == 2:
            items.append(person(i - 2 + 1000))  # valid, duplicated at i % 10 == 3
        elif i % 10 == 3:
            items.append(
                {"linkedin_url": f"HTTP://UK.LINKEDIN.COM/in/Person-{i - 3 + 1000}/?trk=x"}
            )
        else:
            items.append(person(i + 1000))
    items[4] = person(0)  # already in the campaign
    items[5] = {
        "linkedin_url": "linkedin.com/in/ok-person",
        "email": "not an email",
        "surprise": "x",
    }
    response = api.add(cid, items)
    assert response.status_code == 200, response.text
    body = response.json()
    invalid = {i["index"]: i["errors"] for i in body["invalid"]}
    duplicates = {d["index"]: d for d in body["duplicates"]}
    assert len(invalid) == 201 and len(duplicates) == 101
    assert body["created"] == 1000 - 201 - 101 == len(body["contacts"])
    assert "company page" in invalid[0]["linkedin_url"][0]
    assert "linkedin_url" in invalid[1]
    assert set(invalid[5]) == {"email", "surprise"}
    assert duplicates[4]["contact_id"] == existing[0]["id"]
    created_ids = {c["linkedin_url"]: c["id"] for c in body["contacts"]}
    assert duplicates[3]["linkedin_url"] == "https://www.linkedin.com/in/person-1000"
    assert duplicates[3]["contact_id"] == created_ids["https://www.linkedin.com/in/person-1000"]
    stored = session.scalar(
        select(func.count()).select_from(Contact).where(Contact.campaign_id == cid)
    )
    assert stored == 2 + body["created"]
    assert all(c["status"] == "not_verified" and c["source"] == "api" for c in body["contacts"])


@pytest.mark.parametrize(
    ("type_", "source", "status"),
    [
        ("connection", "api", "not_verified"),
        ("connection", "integration", "not_verified"),
        ("connection", "search", "not_connected"),
        ("existing_connections", "api", "connected"),
        ("inmail", "search", "not_connected"),
        ("groups_events", "api", "not_verified"),
    ],
)
def test_new_contacts_start_where_the_campaign_type_says(
    api: Api, type_: str, source: str, status: str
) -> None:
    campaign = api.campaign(type=type_)
    body = api.add(campaign["id"], [person(1, source=source)]).json()
    assert body["contacts"][0]["status"] == status
    assert body["contacts"][0]["source"] == source


def test_bulk_refuses_more_than_1000_and_an_empty_list(api: Api) -> None:
    campaign = api.campaign()
    assert api.add(campaign["id"], [person(i) for i in range(1001)]).status_code == 422
    assert api.add(campaign["id"], []).status_code == 422


def test_archived_campaign_refuses_new_contacts(api: Api) -> None:
    campaign = api.campaign()
    api.patch(f"/api/v1/campaigns/{campaign['id']}", {"state": "archived"})
    response = api.add(campaign["id"], [person(1)])
    assert response.status_code == 409 and "archived" in response.json()["detail"]


def test_list_filters_and_keyset_pages(api: Api) -> None:
    campaign = api.campaign()
    cid = campaign["id"]
    contacts = api.add(
        cid, [person(i, company="Globex" if i % 3 == 0 else "Acme") for i in range(30)]
    ).json()["contacts"]
    for c in contacts[:6]:
        api.post(f"/api/v1/contacts/{c['id']}/events", {"event": "profile_visited", "degree": 2})
    api.post(
        f"/api/v1/contacts/{contacts[0]['id']}/events",
        {"event": "action_failed", "error_code": "other"},
    )
    base = f"/api/v1/campaigns/{cid}/contacts"
    assert len(api.get(f"{base}?status=not_connected").json()["items"]) == 6
    assert len(api.get(f"{base}?status=not_connected&status=not_verified").json()["items"]) == 30
    assert [c["id"] for c in api.get(f"{base}?error=other").json()["items"]] == [contacts[0]["id"]]
    assert [c["id"] for c in api.get(f"{base}?error=any").json()["items"]] == [contacts[0]["id"]]
    assert len(api.get(f"{base}?q=globex").json()["items"]) == 10
    assert [c["id"] for c in api.get(f"{base}?q=person-17").json()["items"]] == [contacts[17]["id"]]
    assert api.get(f"{base}?q=100%25").json()["items"] == []  # % is literal, not a wildcard

    seen, cursor = [], None
    while True:
        page = api.get(base, params={"limit": 7, **({"cursor": cursor} if cursor else {})}).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c["id"] for c in contacts]
    newest = api.get(f"{base}?sort=-id&limit=3").json()
    assert [c["id"] for c in newest["items"]] == [c["id"] for c in contacts[::-1][:3]]
    nxt = api.get(f"{base}?sort=-id&limit=3&cursor={newest['next_cursor']}").json()
    assert [c["id"] for c in nxt["items"]] == [c["id"] for c in contacts[::-1][3:6]]


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "error=nope",
        "sort=name",
        "limit=500",
        "cursor=%%%",
        "page=2",
        "q=" + "x" * 201,
    ],
)
def test_list_refuses_unknown_filters_and_sorts(api: Api, query: str) -> None:
    campaign = api.campaign()
    response = api.get(f"/api/v1/campaigns/{campaign['id']}/contacts?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["errors"]


def test_cursor_from_another_sort_is_refused(api: Api) -> None:
    campaign = api.campaign()
    api.add(campaign["id"], [person(i) for i in range(3)])
    base = f"/api/v1/campaigns/{campaign['id']}/contacts"
    cursor = api.get(f"{base}?limit=1").json()["next_cursor"]
    assert api.get(f"{base}?sort=-id&cursor={cursor}").status_code == 422


@pytest.mark.parametrize("last", [10**30, -1, True, 1.5, "7"])
def test_a_cursor_whose_id_no_row_could_have_is_refused(api: Api, last: object) -> None:
    """Well-formed, but past what the database can compare (or not an integer): 422, not 500."""
    campaign = api.campaign()
    api.add(campaign["id"], [person(1)])
    cursor = encode_cursor({"sort": "id", "id": last})
    response = api.get(f"/api/v1/campaigns/{campaign['id']}/contacts?cursor={cursor}")
    assert response.status_code == 422, response.text
    assert "cursor" in response.json()["errors"]


def test_get_contact_has_every_field(api: Api) -> None:
    campaign = api.campaign()
    created = api.add(
        campaign["id"],
        [
            person(
                1,
                last_name="Doe",
                email="p@x.io",
                company="Acme",
                title="CTO",
                custom_fields={"crm": "42"},
            )
        ],
    ).json()["contacts"][0]
    contact = api.get(f"/api/v1/contacts/{created['id']}").json()
    assert contact == created
    assert contact["custom_fields"] == {"crm": "42"} and contact["error"] is None
    assert contact["status_label"] == "Not verified"
    for key in (
        "created_at",
        "status_changed_at",
        "invited_at",
        "connected_at",
        "withdrawn_at",
        "muted",
        "replied",
    ):
        assert key in contact


def test_nul_characters_are_refused_not_a_500(api: Api) -> None:
    assert api.post("/api/v1/senders", {"name": "a\u0000b"}).status_code == 422
    campaign = api.campaign()
    body = api.add(
        campaign["id"],
        [person(1, first_name="x\u0000y"), person(2, custom_fields={"k\u0000": "v"}), person(3)],
    )
    assert body.status_code == 200
    assert [i["index"] for i in body.json()["invalid"]] == [0, 1] and body.json()["created"] == 1
    assert api.get(f"/api/v1/campaigns/{campaign['id']}/contacts?q=a%00b").status_code == 422
