"""The rows of a CSV export of a filtered contact list (written out by app.web.downloads)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.contacts.service import KEYSET_ORDER, ContactFilter, filtered_contacts
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
COLUMNS = (
    Contact.id,
    Contact.linkedin_url,
    Contact.first_name,
    Contact.last_name,
    Contact.email,
    Contact.company,
    Contact.title,
    Contact.status,
    Contact.error_code,
    Contact.source,
    Contact.muted,
    Contact.replied,
    Contact.created_at,
    Contact.invited_at,
    Contact.connected_at,
    Contact.withdrawn_at,
)


def export_rows(
    factory: sessionmaker[Session],
    *,
    campaign_id: int,
    filters: ContactFilter,
    newest_first: bool = False,
    batch: int = 2000,
) -> Iterator[list[object]]:
    """The export's rows under HEADER, read in keyset batches, each in a short session of
    `factory`'s: a response streams them after the request's own transaction has ended, and
    memory stays flat however long the list. The campaign must already be checked.

    The first batch is read here, before the caller starts its response, so a refused filter
    (ValidationFailed) or an unreachable database is an error answer, not a cut-off file."""
    order = KEYSET_ORDER["-id" if newest_first else "id"]

    def read(after: int | None) -> list[Any]:
        with factory() as session:
            stmt = filtered_contacts(
                session, campaign_id=campaign_id, filters=filters, columns=COLUMNS
            )
            if after is not None:
                stmt = stmt.where(Contact.id < after if newest_first else Contact.id > after)
            return list(session.execute(stmt.order_by(*order).limit(batch)).all())

    def cells(r: Any) -> list[object]:
        return [
            r.id,
            r.linkedin_url,
            r.first_name,
            r.last_name,
            r.email,
            r.company,
            r.title,
            r.status.label,
            ERROR_LABELS[r.error_code] if r.error_code else "",
            r.source.value,
            "yes" if r.muted else "no",
            "yes" if r.replied else "no",
            _moment(r.created_at),
            _moment(r.invited_at),
            _moment(r.connected_at),
            _moment(r.withdrawn_at),
        ]

    def rows(first: list[Any]) -> Iterator[list[object]]:
        page = first
        while True:
            for r in page:
                yield cells(r)
            if len(page) < batch:
                return
            page = read(page[-1].id)

    return rows(read(None))


def _moment(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""
