"""The app's start-up contract: it refuses an unmigrated database and reports health."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import migrations
from app.config import Settings
from app.db import make_engine
from app.main import DatabaseNotMigrated, create_app


def test_healthz_reports_database_at_head(app_client: TestClient) -> None:
    response = app_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["revision"] == migrations.head_revision()


def test_livez_answers_without_the_database(tmp_path: Path) -> None:
    """Liveness holds while the database is away (readiness, /healthz, does not)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'absent' / 'x.db'}", check_migrations=False
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/livez").json() == {"status": "ok"}
        assert client.get("/healthz").status_code == 503


def test_app_refuses_to_start_on_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(Settings(database_url=url, secret_key="x" * 32))
    with pytest.raises(DatabaseNotMigrated, match="contact-tracker migrate"):
        with TestClient(app):
            pass


def test_app_starts_after_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    with TestClient(create_app(Settings(database_url=url, secret_key="x" * 32))) as client:
        assert client.get("/healthz").json()["status"] == "ok"


def test_unknown_url_is_a_clear_404(app_client: TestClient) -> None:
    response = app_client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "/api/v1/nope" in response.json()["detail"]
