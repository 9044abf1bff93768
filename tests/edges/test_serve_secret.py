"""`serve` refuses the development secret unless it listens on loopback only (SPEC §8)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app import main as app_main
from app.cli import cli
from app.config import Settings, get_settings

DEV_SECRET = Settings.model_fields["secret_key"].default
REAL_SECRET = "a-long-random-production-secret-0123456789"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """No server ever starts: uvicorn.run records its arguments instead, and the database check
    passes (the refusal must come before either)."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kw: calls.append(kw))
    monkeypatch.setattr(app_main, "check_migrated", lambda engine: None)
    monkeypatch.setenv("TRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.delenv("TRACKER_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org", ""])  # noqa: S104
def test_serve_refuses_the_development_secret_off_loopback(
    served: list[dict[str, Any]], host: str
) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", host, "--port", "8123"])
    assert result.exit_code == 2
    assert "TRACKER_SECRET_KEY" in result.output
    assert "development secret" in result.output
    assert served == []  # no server was started


def test_serve_refuses_the_development_secret_set_explicitly(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_SECRET_KEY", DEV_SECRET)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 2 and served == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST"])
def test_serve_allows_the_development_secret_on_loopback(
    served: list[dict[str, Any]], host: str
) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", host, "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert [call["port"] for call in served] == [8123]


def test_serve_with_a_real_secret_listens_anywhere(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_SECRET_KEY", REAL_SECRET)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 0, result.output
    assert [call["host"] for call in served] == ["0.0.0.0"]  # noqa: S104


def test_the_command_refuses_before_touching_the_database(tmp_path: Path) -> None:
    """The real command, as an operator runs it: a one-line error on stderr, exit code 2, even
    though the database it names cannot be opened."""
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_SECRET_KEY"}
    env["TRACKER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'absent' / 'x.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8124"],  # noqa: S104
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "TRACKER_SECRET_KEY" in lines[0]
    assert proc.stdout == ""
