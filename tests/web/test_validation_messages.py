"""Validation messages are written for people: the values to type, not Python's reprs, and a
validator's own words without Pydantic's "Value error," prefix — in the API and in the forms."""

from __future__ import annotations

import re

import pytest

from tests.clients import Api, person

REPR = re.compile(r"<\w+\.\w+: ")


def messages(body: dict[str, object]) -> list[str]:
    errors = body.get("errors") or {}
    assert isinstance(errors, dict)
    return [str(body["detail"])] + [m for ms in errors.values() for m in ms]


def assert_readable(body: dict[str, object]) -> None:
    for message in messages(body):
        assert not REPR.search(message), message
        assert "Value error," not in message and "Assertion failed," not in message, message


def test_an_unknown_event_lists_the_events_as_typed(api: Api) -> None:
    created = api.campaign()
    [contact] = api.add(created["id"], [person(1)]).json()["contacts"]
    refused = api.post(f"/api/v1/contacts/{contact['id']}/events", {"event": "profile_visit"})
    assert refused.status_code == 422
    assert_readable(refused.json())
    [message] = refused.json()["errors"]["event"]
    assert "'profile_visited'" in message and "'action_failed'" in message


@pytest.mark.parametrize(
    ("url", "body", "field", "words"),
    [
        (
            "/api/v1/senders",
            {"name": "S", "working_hours": {"start": "18:00", "end": "09:00"}},
            "working_hours",
            "working_hours.start must be before working_hours.end",
        ),
        ("/api/v1/senders", {"name": "S", "tier": "gold"}, "tier", "'basic' or 'premium'"),
        ("/api/v1/senders", {"name": "S", "timezone": "Mars/Base"}, "timezone", "Mars/Base"),
    ],
)
def test_validator_messages_have_no_prefix(
    api: Api, url: str, body: dict[str, object], field: str, words: str
) -> None:
    refused = api.post(url, body)
    assert refused.status_code == 422, refused.text
    assert_readable(refused.json())
    assert any(words in m for m in refused.json()["errors"][field]), refused.json()


def test_a_connection_note_on_another_campaign_type_names_the_type(api: Api) -> None:
    sender = api.sender()
    refused = api.post(
        "/api/v1/campaigns",
        {
            "name": "Friends",
            "sender_id": sender["id"],
            "type": "existing_connections",
            "connection_template": "Hi",
        },
    )
    assert refused.status_code == 422
    assert refused.json()["errors"]["connection_template"] == [
        "Leave it empty: Existing connections campaigns send no connection note"
    ]
