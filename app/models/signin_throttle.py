from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class SigninCounter(Base):
    """One throttle counter of sign-in attempts (app.accounts.throttle): per account, per
    (address, account), per address, per known device. Times are Unix seconds, so the one
    statement that checks and counts an attempt can do its arithmetic in SQL on both databases."""

    __tablename__ = "signin_counters"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[float] = mapped_column(Float)
    next_allowed: Mapped[float] = mapped_column(Float, default=0.0, index=True)
