from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, enum_column, utcnow
from app.domain.errors import ErrorCode
from app.domain.statuses import ActivityKind, ContactStatus, Outcome


class Activity(Base):
    """One action on one contact: pending until executed, then success or error, in place."""

    __tablename__ = "activities"
    __table_args__ = (
        # A contact's log, newest first.
        Index("ix_activities_contact_id", "contact_id", "id"),
        # The engine's queue of each kind per sender, in due order: every reader of the queue
        # (the head, what is due, the backlog, the explanation beyond the head) asks for some
        # kinds, and without `kind` here the inmail queue's read walked all the sender's 5,000
        # pending withdrawals.
        Index("ix_activities_sender_due", "sender_id", "outcome", "kind", "scheduled_for"),
        # Covering (outcome, kind ride along): cap counts and the dashboard's per-day chart read
        # the index alone.
        Index("ix_activities_sender_kind_done", "sender_id", "kind", "completed_at", "outcome"),
        Index("ix_activities_campaign_completed", "campaign_id", "completed_at", "outcome", "kind"),
        Index("ix_activities_contact_outcome_kind", "contact_id", "outcome", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # An action belongs to its contact: its campaign and workspace are the contact's, copied by
    # every writer, and go with it (the contact's own keys cascade from both). No key of their
    # own: each cost a trigger per inserted row, a third of the sweep's INSERT on PostgreSQL.
    workspace_id: Mapped[int] = mapped_column(BigId)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(BigId)
    sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("sender_accounts.id", ondelete="SET NULL")
    )
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind, "activity_kind"))
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome, "outcome"))
    error_code: Mapped[ErrorCode | None] = mapped_column(enum_column(ErrorCode, "error_code"))
    error_message: Mapped[str | None] = mapped_column(String(1000))
    message: Mapped[str | None] = mapped_column(Text)
    status_from: Mapped[ContactStatus | None] = mapped_column(
        enum_column(ContactStatus, "status_from")
    )
    status_to: Mapped[ContactStatus | None] = mapped_column(enum_column(ContactStatus, "status_to"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    scheduled_for: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # Why a pending action waits and when it is expected to go out (SPEC §2 "Activity log").
    waiting_reason: Mapped[str | None] = mapped_column(String(32))
    # The cap that holds it (`invites`, `follow_ups`, …) when the reason is a cap.
    waiting_cap: Mapped[str | None] = mapped_column(String(16))
    expected_at: Mapped[datetime | None]
    # Follow-up and message steps: which step of the campaign's sequence this is (1-based).
    step: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    leased_until: Mapped[datetime | None]
