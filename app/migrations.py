"""Running and checking Alembic migrations from code (the CLI, the app's start-up check, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

ROOT = Path(__file__).resolve().parent.parent
VERSION_TABLE = "alembic_version"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(bind: Engine | Connection) -> str | None:
    if isinstance(bind, Connection):
        return _recorded_revision(bind)
    with bind.connect() as conn:
        return _recorded_revision(conn)


def _recorded_revision(conn: Connection) -> str | None:
    """The revision Alembic recorded, read directly: MigrationContext would log two INFO lines
    on every call, noise in the log of every health probe. None when there is not exactly one
    (none yet, or branches this project never makes)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()  # noqa: S608
    return str(rows[0]) if len(rows) == 1 else None


def is_at_head(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
