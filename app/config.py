"""Settings from the environment (prefix TRACKER_), documented in the README."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineMode(StrEnum):
    SANDBOX = "sandbox"
    EXTERNAL = "external"
    OFF = "off"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKER_", extra="ignore")

    database_url: str = "sqlite:///tracker.db"
    secret_key: str = Field(default="dev-only-insecure-secret-change-me", min_length=16)
    engine: EngineMode = EngineMode.SANDBOX
    upload_max_bytes: Annotated[int, Field(gt=0)] = 200 * 1024 * 1024
    api_body_max_bytes: Annotated[int, Field(gt=0)] = 5 * 1024 * 1024
    # Every dashboard form but the upload (sign-in, settings, a bulk action on 200 contacts …).
    form_body_max_bytes: Annotated[int, Field(gt=0)] = 256 * 1024
    api_rate_limit_per_minute: Annotated[int, Field(gt=0)] = 600
    log_level: str = "INFO"
    db_pool_size: Annotated[int, Field(gt=0)] = 10
    check_migrations: bool = True
    data_dir: str = "data"
    import_batch_size: Annotated[int, Field(gt=0, le=100_000)] = 5000
    # PostgreSQL: import batches written side by side, each on a connection of its own (1: one
    # at a time). SQLite writes one at a time whatever this says.
    import_lanes: Annotated[int, Field(ge=1, le=8)] = 2
    # Days an ended import's uploaded file is kept (to download again, or to audit); 0 keeps it.
    import_file_retention_days: Annotated[int, Field(ge=0, le=36_500)] = 30
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (IPs or CIDRs,
    # comma-separated); nobody's by default, so a client cannot pose as another address.
    trusted_proxies: str = ""
    # Where users reach the service, e.g. https://tracker.example.com: over https, cookies are
    # Secure with the __Host- prefix and HSTS is sent.
    public_url: str | None = None
    # Events are kept this many days after they are recorded (SPEC §4 Events), then purged.
    event_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # Development and tests only: webhooks may use http and reach any address (SPEC §4 Events).
    webhook_allow_private: bool = False
    # The previous TRACKER_SECRET_KEY during a key change: webhook secrets it encrypted still decrypt.
    secret_key_previous: str | None = None
    session_idle_minutes: Annotated[int, Field(gt=0)] = 120
    session_absolute_hours: Annotated[int, Field(gt=0)] = 24
    engine_interval_seconds: Annotated[float, Field(gt=0)] = 30.0
    # Sandbox demos: simulated seconds per real second for the in-process engine (1 = real time).
    engine_speed: Annotated[float, Field(gt=0)] = 1.0
    # Fail any write of contacts.status made outside app.lifecycle (a bug caught, not data drift).
    lifecycle_guard: bool = True


@lru_cache
def get_settings() -> Settings:
    return Settings()
