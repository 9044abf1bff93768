from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, TimestampMixin
from app.domain.transitions import DEFAULT_WITHDRAW_AFTER_DAYS


class Workspace(TimestampMixin, Base):
    """The tenant: every other row belongs to exactly one workspace."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    withdraw_after_days: Mapped[int] = mapped_column(default=DEFAULT_WITHDRAW_AFTER_DAYS)
