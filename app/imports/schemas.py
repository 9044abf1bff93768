from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.domain.statuses import DuplicatePolicy, ImportState


class ImportRead(BaseModel):
    id: int
    campaign_id: int
    filename: str
    state: ImportState
    on_duplicate: DuplicatePolicy
    encoding: str
    delimiter: str
    mapping: dict[str, str] = Field(description="Column index → field")
    rows_read: int
    imported: int
    duplicates: int
    invalid: int
    error: str | None = Field(description="Why the import failed, if it did")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    undone_at: datetime | None
    file_removed_at: datetime | None = Field(
        description="When the uploaded file was deleted, TRACKER_IMPORT_FILE_RETENTION_DAYS after "
        "the import ended (its contacts, rejected rows and undo stay)"
    )
    rejected_rows_url: str = Field(
        description="The rejected rows as CSV: the file's columns plus the reason"
    )


class ImportList(BaseModel):
    items: list[ImportRead]
