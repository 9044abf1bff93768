"""HEAD works wherever GET does (probes, pages, downloads, the API), without HEAD operations in the
OpenAPI document; pages and downloads with contact data are never stored by a cache."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.clock import FixedClock
from app.contacts.service import add_contacts
from app.models import Campaign
from tests.clients import person
from tests.edges.conftest import Admin

# Headers that describe the body, which HEAD answers like GET (RFC 9110 §9.3.2).
SAME_AS_GET = ("content-type", "cache-control", "content-disposition")


def with_a_contact(session: Session, campaign: Campaign, now: datetime) -> None:
    add_contacts(
        session,
        workspace_id=campaign.workspace_id,
        campaign_id=campaign.id,
        items=[person(1, first_name="Secret", last_name="Person")],
        now=now,
    )
    session.flush()


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/login", "/static/css/app.css"])
def test_head_answers_like_get_without_signing_in(app_client: TestClient, path: str) -> None:
    get = app_client.get(path)
    head = app_client.head(path)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    for name in SAME_AS_GET:
        assert head.headers.get(name) == get.headers.get(name)


def test_head_on_signed_in_pages_and_downloads(
    admin: Admin, session: Session, clock: FixedClock
) -> None:
    with_a_contact(session, admin.campaign, clock())
    cid = admin.campaign.id
    for path in ["/", f"/campaigns/{cid}", f"/campaigns/{cid}/export.csv", "/senders", "/account"]:
        get = admin.client.get(path)
        head = admin.client.head(path)
        assert (get.status_code, head.status_code) == (200, 200), path
        assert head.content == b"", path
        for name in SAME_AS_GET:
            assert head.headers.get(name) == get.headers.get(name), (path, name)


def test_head_on_the_api_with_its_key(admin: Admin) -> None:
    head = admin.client.head(f"/api/v1/campaigns/{admin.campaign.id}", headers=admin.auth)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert "ratelimit-remaining" in head.headers
    assert admin.client.head("/api/v1/campaigns").status_code == 401  # still needs the key


def test_head_signed_out_redirects_like_get(app_client: TestClient) -> None:
    head = app_client.head("/campaigns/1", follow_redirects=False)
    assert head.status_code == 303 and head.headers["location"].startswith("/login?next=")


def test_head_where_get_is_not_allowed_is_405(admin: Admin) -> None:
    response = admin.client.head(f"/campaigns/{admin.campaign.id}/contacts/bulk")
    assert response.status_code == 405 and response.content == b""
    assert response.headers["allow"] == "POST"


def test_openapi_has_no_head_operations(app_client: TestClient) -> None:
    paths = app_client.get("/api/v1/openapi.json").json()["paths"]
    assert paths
    assert all("head" not in operations for operations in paths.values())


def test_pages_and_downloads_with_contact_data_are_no_store(
    admin: Admin, session: Session, clock: FixedClock
) -> None:
    with_a_contact(session, admin.campaign, clock())
    cid = admin.campaign.id
    page = admin.client.get(f"/campaigns/{cid}")
    assert "Secret" in page.text
    fragment = admin.client.get(f"/campaigns/{cid}", headers={"HX-Request": "true"})
    export = admin.client.get(f"/campaigns/{cid}/export.csv")
    assert "Secret" in export.text
    contact_id = admin.client.get(f"/api/v1/campaigns/{cid}/contacts", headers=admin.auth).json()[
        "items"
    ][0]["id"]
    dialog = admin.client.get(f"/contacts/{contact_id}", headers={"HX-Request": "true"})
    for response in (page, fragment, export, dialog):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"


def test_api_answers_and_error_pages_are_no_store_too(admin: Admin) -> None:
    api = admin.client.get(f"/api/v1/campaigns/{admin.campaign.id}", headers=admin.auth)
    missing_page = admin.client.get("/campaigns/999999999")
    missing_api = admin.client.get("/api/v1/campaigns/999999999", headers=admin.auth)
    assert (api.status_code, missing_page.status_code, missing_api.status_code) == (200, 404, 404)
    for response in (api, missing_page, missing_api):
        assert response.headers["cache-control"] == "no-store"


def test_static_files_stay_cacheable(app_client: TestClient) -> None:
    response = app_client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")
