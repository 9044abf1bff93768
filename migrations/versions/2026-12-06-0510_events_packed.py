"""events.event_count: one row of the log may hold a packed run of events

On SQLite an import's or a bulk add's batch of new contacts writes its `contact.created` events
as one row of the log holding the batch's own insert parameters, and a sweep batch its
`contact.status_changed` events as one row, numbered seq … seq + count - 1
(app.models.event.Event). Built per row, the created events cost an import a fifth to a third of
its rate. On PostgreSQL the numberer makes each committed batch of `contact.created` events one
packed row (its columns as the writer left them, as text).

The downgrade unpacks every packed run into single rows, as the readers give them.

Revision ID: 6a1f3c9e0b52
Revises: 9d4c1b7e2f60
Create Date: 2026-12-06 05:10:00.000000
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "6a1f3c9e0b52"
down_revision: str | None = "9d4c1b7e2f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMARY = ("linkedin_url", "first_name", "last_name", "email", "company")


def upgrade() -> None:
    op.add_column("events", sa.Column("event_count", sa.Integer(), nullable=True))


def unpacked(row: sa.Row[Any]) -> list[dict[str, Any]]:
    """A packed run's events as single rows, as app.events.repository.unpack reads them."""
    packed = json.loads(row.data) if isinstance(row.data, str) else row.data
    at = {name: i for i, name in enumerate(packed["names"])}
    first_id = packed.get("first_id")

    def column(values: list[Any], name: str) -> Any:
        return values[at[name]] if name in at else packed["shared"].get(name)

    def data(i: int, values: list[Any]) -> dict[str, Any]:
        contact = {
            "id": first_id + i if first_id is not None else int(column(values, "id")),
            "campaign_id": int(column(values, "campaign_id")),
            **{name: column(values, name) for name in SUMMARY},
            "status": column(values, "status"),
        }
        if row.type == "contact.status_changed":
            return {
                "contact": contact,
                "from": packed["shared"]["from"],
                "to": contact["status"],
                "cause": packed["cause"],
            }
        return {"contact": contact, "source": column(values, "source"), "cause": packed["cause"]}

    return [
        {
            "uid": f"{row.uid}{i:08x}",
            "workspace_id": row.workspace_id,
            "seq": row.seq + i,
            "type": row.type,
            "occurred_at": row.occurred_at,
            "recorded_at": row.recorded_at,
            "data": json.dumps(data(i, values)),
        }
        for i, values in enumerate(packed["rows"])
    ]


def downgrade() -> None:
    bind = op.get_bind()
    packed = bind.execute(
        sa.text(
            "SELECT id, uid, workspace_id, seq, type, occurred_at, recorded_at, data "
            "FROM events WHERE event_count IS NOT NULL ORDER BY id"
        )
    ).all()
    for row in packed:
        singles = unpacked(row)
        bind.execute(sa.text("DELETE FROM events WHERE id = :id"), {"id": row.id})
        if singles:
            bind.execute(
                sa.text(
                    "INSERT INTO events (uid, workspace_id, seq, type, occurred_at, recorded_at, "
                    "data) VALUES (:uid, :workspace_id, :seq, :type, :occurred_at, :recorded_at, "
                    ":data)"
                ),
                singles,
            )
    op.drop_column("events", "event_count")
