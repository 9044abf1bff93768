"""Fuzz the whole API in-process from its own OpenAPI document: no 5xx, every response matches it."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from tests.builders import a_campaign, a_workspace, an_api_key
from tests.clients import person

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def fuzz_target(
    session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> dict[str, Any]:
    workspace = a_workspace(session)
    token = an_api_key(session, workspace)
    campaign = a_campaign(session, workspace, running=True, now=clock())
    from app.contacts.service import add_contacts

    add_contacts(
        session, workspace_id=workspace.id, campaign_id=campaign.id, items=[person(1)], now=clock()
    )
    session.flush()
    app = create_app(
        Settings(database_url="sqlite://", secret_key="x" * 32, api_rate_limit_per_minute=10**9),
        session_factory=session_factory,
        clock=clock,
    )
    # Webhook URLs are resolved without DNS: every name is a public address (the SSRF rules are
    # tested in tests/webhooks).
    app.state.webhook_resolver = lambda _host, _port: ["93.184.215.14"]
    return {"app": app, "headers": {"Authorization": f"Bearer {token}"}}


def test_api_conforms_to_its_schema(fuzz_target: dict[str, Any]) -> None:
    """Every operation, positive and negative cases. (schemathesis' lazy pytest plugin does not run
    under pytest 9, so the operations are driven through their Hypothesis strategies directly.)"""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_target["app"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # every route, the events' and webhooks' included
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=fuzz_target["headers"], checks=CHECKS)

        fuzz()
