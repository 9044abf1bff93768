from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, TimestampMixin, enum_column
from app.domain.statuses import SenderTier


class SenderAccount(TimestampMixin, Base):
    """A LinkedIn account campaigns send from, with its caps and working hours (SPEC §2)."""

    __tablename__ = "sender_accounts"
    __table_args__ = (
        CheckConstraint("work_start < work_end", name="working_hours_order"),
        CheckConstraint(
            "daily_invites >= 0 AND weekly_invites >= 0 AND daily_profile_visits >= 0 "
            "AND daily_follow_ups >= 0 AND daily_inmails >= 0 AND daily_withdrawals >= 0",
            name="limits_non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[SenderTier] = mapped_column(enum_column(SenderTier, "sender_tier"))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    work_start: Mapped[time] = mapped_column(Time(), default=time(9))
    work_end: Mapped[time] = mapped_column(Time(), default=time(18))
    # ISO weekdays as digits, e.g. "12345" for Monday to Friday.
    work_days: Mapped[str] = mapped_column(String(7), default="12345")
    daily_invites: Mapped[int] = mapped_column(default=15)
    weekly_invites: Mapped[int] = mapped_column(default=100)
    daily_profile_visits: Mapped[int] = mapped_column(default=20)
    daily_follow_ups: Mapped[int] = mapped_column(default=20)
    daily_inmails: Mapped[int] = mapped_column(default=20)
    daily_withdrawals: Mapped[int] = mapped_column(default=40)
    # Set after LinkedIn answers too_many_requests: no invites before this instant.
    cooldown_until: Mapped[datetime | None]
