from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, utcnow


class BlacklistEntry(Base):
    """A profile URL or a company that no campaign (or one campaign) may contact."""

    __tablename__ = "blacklist_entries"
    __table_args__ = (
        CheckConstraint("(linkedin_url IS NULL) <> (company IS NULL)", name="url_or_company"),
        Index("ix_blacklist_entries_workspace_url", "workspace_id", "linkedin_url"),
        Index("ix_blacklist_entries_workspace_company", "workspace_id", "company"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    linkedin_url: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
