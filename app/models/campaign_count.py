from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class CampaignCount(Base):
    """How many of a campaign's contacts have a status (`status:<value>`) or an error (`error:<code>`).

    Kept in step with every change (app.lifecycle.counts), so the overview never counts a million
    rows per request.
    """

    __tablename__ = "campaign_counts"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
