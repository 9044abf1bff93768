from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, enum_column, utcnow
from app.domain.errors import ErrorCode
from app.domain.statuses import ContactSource, ContactStatus


class Contact(Base):
    """One person in one campaign. Its status only changes through app.domain.transitions."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "linkedin_url"),
        # Status tabs, counts and keyset pages of the campaign table; the engine's due-work scans.
        Index("ix_contacts_campaign_status_id", "campaign_id", "status", "id"),
        # Keyset pages of a whole campaign (no status filter), whatever the planner knows.
        Index("ix_contacts_campaign_id_id", "campaign_id", "id"),
        Index("ix_contacts_campaign_invited", "campaign_id", "status", "invited_at"),
        Index("ix_contacts_linkedin_url", "linkedin_url"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    linkedin_url: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[ContactSource] = mapped_column(enum_column(ContactSource, "contact_source"))
    status: Mapped[ContactStatus] = mapped_column(enum_column(ContactStatus, "contact_status"))
    error_code: Mapped[ErrorCode | None] = mapped_column(enum_column(ErrorCode, "error_code"))
    error_message: Mapped[str | None] = mapped_column(String(1000))
    muted: Mapped[bool] = mapped_column(default=False)
    replied: Mapped[bool] = mapped_column(default=False)
    email_required: Mapped[bool] = mapped_column(default=False)
    follow_ups_sent: Mapped[int] = mapped_column(default=0)
    # Invitations the campaign sent this person (the first and every re-invite).
    invites_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    # The import that created the contact: its log's first entry is derived from that record.
    # No foreign key: only the import's runner writes it, and a key checked every row cost an
    # import a tenth of its time on PostgreSQL; an import goes only with its campaign or workspace,
    # and so do its contacts (a reader of a missing import finds none).
    import_id: Mapped[int | None] = mapped_column(BigId)
    last_message_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    invited_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]


# Indexes of the few: each holds only the contacts that have the value it is read by (every reader
# asks for a value, never for its absence), so a contact without one (most of them) costs no entry
# in it when it is added, nor when its status changes (PostgreSQL writes a new entry into every
# index of the table for such an UPDATE: 150,000 of the sweep's 800,000 for 50,000 withdrawals).
# The campaign's contacts whose last action failed (the error filter, clearing one error).
Index(
    "ix_contacts_campaign_error",
    Contact.campaign_id,
    Contact.error_code,
    postgresql_where=Contact.error_code.is_not(None),
    sqlite_where=Contact.error_code.is_not(None),
)
# Contacts messaged lately (the sandbox's replies) without scanning the table.
Index(
    "ix_contacts_last_message_at",
    Contact.last_message_at,
    postgresql_where=Contact.last_message_at.is_not(None),
    sqlite_where=Contact.last_message_at.is_not(None),
)
# An import's contacts (its undo, the contact's log).
Index(
    "ix_contacts_import_id",
    Contact.import_id,
    postgresql_where=Contact.import_id.is_not(None),
    sqlite_where=Contact.import_id.is_not(None),
)
