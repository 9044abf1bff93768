from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, JSONType, enum_column
from app.domain.statuses import DuplicatePolicy, ImportState


class ContactImport(Base):
    """One CSV file imported into one campaign: its settings, progress, checkpoint and outcome."""

    __tablename__ = "imports"
    __table_args__ = (
        Index("ix_imports_state", "state", "id"),
        Index("ix_imports_campaign", "campaign_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(320))
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int]
    encoding: Mapped[str] = mapped_column(String(32))
    delimiter: Mapped[str] = mapped_column(String(4))
    mapping: Mapped[dict[str, Any]]
    on_duplicate: Mapped[DuplicatePolicy] = mapped_column(
        enum_column(DuplicatePolicy, "duplicate_policy")
    )
    state: Mapped[ImportState] = mapped_column(enum_column(ImportState, "import_state"))
    rows_read: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    invalid: Mapped[int] = mapped_column(default=0)
    # The last data row whose effects are committed: a resumed run starts after it, at the byte
    # just past that row (its physical line counted too), so it reads exactly the rows the first
    # run would have. An import from before offsets were kept (offset NULL) skips rows by number.
    checkpoint_row: Mapped[int] = mapped_column(default=0)
    checkpoint_offset: Mapped[int | None] = mapped_column(BigInteger)
    checkpoint_line: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    undone_at: Mapped[datetime | None]
    # A running import is owned by one process until this instant; after it, another resumes it.
    lease_until: Mapped[datetime | None]
    # Which process holds the lease ("host:pid"): an explicit resume may take over from a dead one.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(default=0)
    # The file's header row, kept so the rejected rows keep their column names once the uploaded
    # file is removed (TRACKER_IMPORT_FILE_RETENTION_DAYS after the import ended).
    header: Mapped[list[str] | None] = mapped_column(JSONType)
    file_removed_at: Mapped[datetime | None]


class ImportRejection(Base):
    """A row that was not imported, with its original cells and the reason."""

    __tablename__ = "import_rejections"
    __table_args__ = (
        Index("ix_import_rejections_import_row", "import_id", "row_number", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    row_number: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    cells: Mapped[dict[str, Any]]


class ImportChange(Base):
    """What an import changed on a contact that already existed (so an undo can restore it)."""

    __tablename__ = "import_changes"
    __table_args__ = (
        Index("ix_import_changes_import_contact", "import_id", "contact_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    previous: Mapped[dict[str, Any]]
