"""Fuzz the whole API in-process from its own OpenAPI document (issue 17): no 5xx, every answer
documented, every response, header and content type as documented, invalid data refused, and valid
data mostly accepted.

Each operation gets three kinds of cases: valid data aimed at rows that exist (so the operation's
own logic runs, not only its 404), valid data with generated ids, and invalid data (schemathesis'
negative mode: wrong types, missing fields, bodies that are not JSON). Hypothesis is derandomized,
with a few examples of each kind per operation, so every run is the same and takes seconds.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
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
from app.senders.schemas import TIME_ZONE_FORMAT
from tests.clients import Api, make_api, person

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 10  # per operation and kind of case
KNOWN, GENERATED, INVALID = "valid data, rows that exist", "valid data, any ids", "invalid data"
# Valid data an operation may still refuse, for a rule the schema states in words only.
REFUSED_IN_WORDS = {
    # The file must be CSV text with a column of profile URLs: JSON Schema cannot say so of a file.
    "POST /api/v1/imports",
}

# The schema names the time zones by format; any generator needs the names themselves.
schemathesis.openapi.format(TIME_ZONE_FORMAT, st.sampled_from(sorted(available_timezones())))


@dataclass
class Target:
    app: FastAPI
    headers: dict[str, str]
    ids: dict[str, Any]  # a path parameter's or a body field's name → a row that exists


def csv_file(*slugs: str) -> bytes:
    rows = [f"https://www.linkedin.com/in/{slug},{slug.title()}" for slug in slugs]
    return ("linkedin_url,first_name\r\n" + "\r\n".join(rows) + "\r\n").encode()


@pytest.fixture
def target(
    tmp_path: Path, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> Target:
    settings = Settings(
        database_url="sqlite://",
        secret_key="x" * 32,
        data_dir=str(tmp_path / "data"),
        api_rate_limit_per_minute=10**9,  # every operation is reached, none stopped at 429
    )
    app = create_app(settings, session_factory=session_factory, clock=clock)
    # Webhook URLs are resolved without DNS: every name is a public address (the SSRF rules are
    # tested in tests/webhooks).
    app.state.webhook_resolver = lambda _host, _port: ["93.184.215.14"]
    api = make_api(session, TestClient(app))
    return Target(app=app, headers=api.auth, ids=seed(api))


def seed(api: Api) -> dict[str, Any]:
    """A row of every kind an operation's path can name, made through the API itself."""
    sender = api.sender()
    campaign = api.campaign(sender_id=sender["id"])
    added = api.add(campaign["id"], [person(i) for i in range(3)])
    assert added.status_code == 200, added.text
    webhook = api.post("/api/v1/webhooks", {"url": "https://crm.example.com/hooks"})
    assert webhook.status_code == 201, webhook.text
    upload = api.client.post(
        "/api/v1/imports",
        files={"file": ("people.csv", csv_file("ann-lee", "bo-chan"), "text/csv")},
        data={"campaign_id": str(campaign["id"])},
        headers=api.auth,
    )
    assert upload.status_code == 202, upload.text
    lease = api.post(f"/api/v1/senders/{sender['id']}/actions/lease", {"limit": 1})
    assert lease.status_code == 200 and lease.json()["items"], lease.text
    action = lease.json()["items"][0]
    # Events are reported for another contact: one would settle the leased action.
    contact = next(c for c in added.json()["contacts"] if c["id"] != action["contact_id"])
    return {
        "sender_id": sender["id"],
        "campaign_id": campaign["id"],
        "contact_id": contact["id"],
        "webhook_id": webhook.json()["id"],
        "import_id": upload.json()["id"],
        "action_id": action["id"],
        "lease_token": action["lease_token"],
    }


def label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def cases(operation: Any, ids: dict[str, Any]) -> st.SearchStrategy[tuple[str, Any]]:
    known = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
    valid = operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known)
    if label(operation) == "POST /api/v1/imports":
        # A file the server can read, beside the generated ones (random bytes, refused with 422).
        upload = {"file": csv_file("cy-dee", "di-eve"), "campaign_id": ids["campaign_id"]}
        bodies = [upload, {**upload, "on_duplicate": "fill", "encoding": "utf-8"}]
        readable = st.sampled_from(bodies).flatmap(
            lambda body: operation.as_strategy(GenerationMode.POSITIVE, body=body)
        )
        valid = st.one_of(readable, valid)
    return st.one_of(
        st.tuples(st.just(KNOWN), valid),
        st.tuples(st.just(GENERATED), operation.as_strategy(GenerationMode.POSITIVE)),
        st.tuples(st.just(INVALID), operation.as_strategy(GenerationMode.NEGATIVE)),
    )


def fuzz(operation: Any, target: Target, keys: Iterator[int], answered: Counter[int]) -> None:
    """Raises what schemathesis' checks found, after Hypothesis shrank it."""

    @given(case=cases(operation, target.ids))
    @settings(
        max_examples=3 * EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: tuple[str, Any]) -> None:
        kind, call = case
        if kind == KNOWN and isinstance(call.body, dict):
            # The body's references too (a campaign's sender, a result's lease).
            call.body.update({k: target.ids[k] for k in call.body.keys() & target.ids.keys()})
        if kind != INVALID and "Idempotency-Key" in call.headers:
            # A fresh key: a generated one repeats across cases, and the same key with another
            # body is refused (documented, but it would stop the case at the door).
            call.headers["Idempotency-Key"] = f"fuzz-{next(keys)}"
        response = call.call_and_validate(headers=target.headers, checks=CHECKS)
        if kind == KNOWN:
            answered[response.status_code] += 1

    run()


def test_api_conforms_to_its_schema(target: Target) -> None:
    """Every operation, the events' and webhooks' included. (schemathesis' lazy pytest plugin does
    not run under pytest 9, so the operations are driven through their Hypothesis strategies.)"""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", target.app)
    # Deletions last: the rows they remove are the ones the other operations aim at.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: op.method == "delete",
    )
    assert len(operations) == 33  # every route, the events' and the webhooks' included
    keys = itertools.count()
    failures: dict[str, str] = {}
    answers: dict[str, Counter[int]] = {}
    for operation in operations:
        answers[label(operation)] = Counter()
        try:
            fuzz(operation, target, keys, answers[label(operation)])
        except (Exception, BaseExceptionGroup) as exc:  # every operation's, not only the first's
            failures[label(operation)] = str(exc)
    assert not failures, "\n\n".join(f"{op}:\n{why}" for op, why in failures.items())
    # Valid data, aimed at rows that exist, is mostly taken: a schema that allows what the server
    # refuses does not state the real constraints.
    refusing = {
        op: dict(answered)
        for op, answered in answers.items()
        if op not in REFUSED_IN_WORDS and answered[422] * 2 > answered.total()
    }
    assert not refusing, f"valid data mostly refused with 422: {refusing}"
