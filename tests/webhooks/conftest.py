from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from tests.clients import Api, make_api
from tests.webhooks.receiver import Receiver, receiver


@pytest.fixture
def settings() -> Settings:
    # The development flag: the receiver is on 127.0.0.1, over http.
    return Settings(
        database_url="sqlite://",
        secret_key="test-secret-key-0123456789",
        webhook_allow_private=True,
    )


@pytest.fixture
def api(session: Session, app_client: TestClient) -> Iterator[Api]:
    yield make_api(session, app_client)


@pytest.fixture
def other_api(session: Session, app_client: TestClient) -> Iterator[Api]:
    yield make_api(session, app_client)


@pytest.fixture
def hook_receiver() -> Iterator[Receiver]:
    with receiver() as r:
        yield r
