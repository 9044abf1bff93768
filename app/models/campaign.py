from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, BigId, TimestampMixin, enum_column
from app.domain.statuses import CampaignState, CampaignType


class Campaign(TimestampMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_workspace_state", "workspace_id", "state"),
        CheckConstraint("max_reinvites BETWEEN 0 AND 3", name="max_reinvites_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # NO ACTION (not RESTRICT): deleting a workspace cascades to campaigns and senders in one statement.
    sender_id: Mapped[int] = mapped_column(ForeignKey("sender_accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[CampaignType] = mapped_column(enum_column(CampaignType, "campaign_type"))
    state: Mapped[CampaignState] = mapped_column(
        enum_column(CampaignState, "campaign_state"), default=CampaignState.DRAFT
    )
    connection_template: Mapped[str] = mapped_column(Text, default="")
    # How many times a person whose invite was withdrawn is invited again (3 weeks after each
    # withdrawal, as LinkedIn allows): 0 to 3.
    max_reinvites: Mapped[int] = mapped_column(default=0, server_default="0")
    started_at: Mapped[datetime | None]

    follow_up_steps: Mapped[list[FollowUpStep]] = relationship(
        back_populates="campaign",
        order_by="FollowUpStep.position",
        cascade="all, delete-orphan",
        lazy="raise",
    )


class FollowUpStep(Base):
    __tablename__ = "follow_up_steps"
    __table_args__ = (
        UniqueConstraint("campaign_id", "position"),
        CheckConstraint("delay_days >= 0", name="delay_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int]
    delay_days: Mapped[int]
    template: Mapped[str] = mapped_column(Text)

    campaign: Mapped[Campaign] = relationship(back_populates="follow_up_steps", lazy="raise")
