"""The OpenAPI document as a client generator reads it (issue 17): a stable, readable operationId
and a tag on every operation, and every answer an operation can give documented."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api import TAGS

# The public names of the API: generated clients call them (createCampaign → `create_campaign`).
# Changing one breaks every client generated before; add, never rename.
OPERATION_IDS = {
    ("get", "/api/v1/senders"): "listSenders",
    ("post", "/api/v1/senders"): "createSender",
    ("get", "/api/v1/senders/{sender_id}"): "getSender",
    ("patch", "/api/v1/senders/{sender_id}"): "updateSender",
    ("get", "/api/v1/campaigns"): "listCampaigns",
    ("post", "/api/v1/campaigns"): "createCampaign",
    ("get", "/api/v1/campaigns/{campaign_id}"): "getCampaign",
    ("patch", "/api/v1/campaigns/{campaign_id}"): "updateCampaign",
    ("get", "/api/v1/campaigns/{campaign_id}/contacts"): "listContacts",
    ("post", "/api/v1/campaigns/{campaign_id}/contacts"): "addContacts",
    ("get", "/api/v1/contacts/{contact_id}"): "getContact",
    ("get", "/api/v1/contacts/{contact_id}/activity"): "listContactActivity",
    ("post", "/api/v1/contacts/{contact_id}/events"): "recordContactEvent",
    ("post", "/api/v1/senders/{sender_id}/actions/lease"): "leaseActions",
    ("post", "/api/v1/actions/{action_id}/result"): "reportActionResult",
    ("post", "/api/v1/imports"): "createImport",
    ("get", "/api/v1/imports"): "listImports",
    ("get", "/api/v1/imports/{import_id}"): "getImport",
    ("get", "/api/v1/imports/{import_id}/rejected.csv"): "getImportRejectedRows",
    ("post", "/api/v1/imports/{import_id}/cancel"): "cancelImport",
    ("post", "/api/v1/imports/{import_id}/undo"): "undoImport",
    ("get", "/api/v1/events"): "listEvents",
    ("get", "/api/v1/webhooks"): "listWebhooks",
    ("post", "/api/v1/webhooks"): "createWebhook",
    ("get", "/api/v1/webhooks/{webhook_id}"): "getWebhook",
    ("patch", "/api/v1/webhooks/{webhook_id}"): "updateWebhook",
    ("delete", "/api/v1/webhooks/{webhook_id}"): "deleteWebhook",
    ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret"): "rotateWebhookSecret",
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"): "listWebhookDeliveries",
    ("post", "/api/v1/webhooks/{webhook_id}/replay"): "replayWebhook",
    ("post", "/api/v1/webhooks/{webhook_id}/test"): "sendWebhookTest",
    ("get", "/api/v1/workspace"): "getWorkspace",
    ("patch", "/api/v1/workspace"): "updateWorkspace",
}
PROBLEM = "application/problem+json"


@pytest.fixture
def operations(app_client: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    schema = app_client.get("/api/v1/openapi.json").json()
    return {
        (method, path): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_every_operation_has_its_stable_readable_operation_id(
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    ids = [operation.get("operationId") for operation in operations.values()]
    assert None not in ids
    assert len(set(ids)) == len(ids), "operation ids are unique"
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)+", str(i)) for i in ids), ids  # verbNoun
    assert {key: op["operationId"] for key, op in operations.items()} == OPERATION_IDS


def test_every_operation_has_one_described_tag(
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    described = {tag["name"] for tag in TAGS}
    assert all(len(op["tags"]) == 1 and op["tags"][0] in described for op in operations.values())
    assert {op["tags"][0] for op in operations.values()} == described


def test_every_answer_an_operation_can_give_is_documented(
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for (method, path), operation in operations.items():
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        # Any request: a bad key, a bad parameter, the rate limit, a database outage.
        for status in ("401", "413", "422", "429", "503"):
            # Sent as application/problem+json, and documented so: a generated client parses it.
            assert list(responses[status]["content"]) == [PROBLEM], (where, status)
            assert responses[status]["content"][PROBLEM]["schema"]["$ref"].endswith("Problem")
        assert "Retry-After" in responses["429"]["headers"], where
        assert "Retry-After" in responses["503"]["headers"], where
        # A JSON body that does not parse is refused with 400 before any field is read.
        takes_json = "application/json" in operation.get("requestBody", {}).get("content", {})
        assert ("400" in responses) == takes_json, where
        if takes_json:
            assert PROBLEM in responses["400"]["content"], where
        # An id in the path may name nothing in the caller's workspace.
        if "{" in path:
            assert PROBLEM in responses["404"]["content"], where
