"""CSV export of a filtered contact list, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy.orm import Session

from app.contacts import repository
from app.contacts.service import ContactFilter
from app.domain.errors import ERROR_LABELS
from app.models import Contact

HEADER = [
    "id",
    "linkedin_url",
    "first_name",
    "last_name",
    "email",
    "company",
    "title",
    "status",
    "error",
    "source",
    "muted",
    "replied",
    "created_at",
    "invited_at",
    "connected_at",
    "withdrawn_at",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs: formula starts get a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_rows(
    session: Session, *, campaign_id: int, filters: ContactFilter, batch: int = 2000
) -> Iterator[str]:
    """The CSV, a chunk at a time (keyset batches: memory stays flat however long the list)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    last_id = 0
    while True:
        stmt = repository.filtered_contacts(
            session,
            campaign_id=campaign_id,
            statuses=filters.statuses,
            error=filters.error,
            any_error=filters.any_error,
            q=filters.q,
        )
        rows: list[Contact] = list(
            session.scalars(stmt.where(Contact.id > last_id).order_by(Contact.id).limit(batch))
        )
        for c in rows:
            writer.writerow(
                [
                    neutralise(v)
                    for v in (
                        c.id,
                        c.linkedin_url,
                        c.first_name,
                        c.last_name,
                        c.email,
                        c.company,
                        c.title,
                        c.status.label,
                        ERROR_LABELS[c.error_code] if c.error_code else "",
                        c.source.value,
                        "yes" if c.muted else "no",
                        "yes" if c.replied else "no",
                        c.created_at.isoformat(),
                        c.invited_at.isoformat() if c.invited_at else "",
                        c.connected_at.isoformat() if c.connected_at else "",
                        c.withdrawn_at.isoformat() if c.withdrawn_at else "",
                    )
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < batch:
            return
        last_id = rows[-1].id
