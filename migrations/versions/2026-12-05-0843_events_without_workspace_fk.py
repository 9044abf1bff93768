"""events without a foreign key to workspaces: a trigger deletes a workspace's events instead

The numberer inserts thousands of events a pass, and the foreign key checked each one against
`workspaces` (a trigger per row on PostgreSQL: 3.4 µs an event, a fifth of a numbering pass).
A workspace's events still go with it, by a trigger on `workspaces` (its batches and head keep
their cascading foreign keys: one row each).

Revision ID: 5b0e7d2c9a41
Revises: 8762252f2cd9
Create Date: 2026-12-05 08:43:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b0e7d2c9a41"
down_revision: str | None = "8762252f2cd9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_events_workspace_id_workspaces"
PG_FUNCTION = """
CREATE FUNCTION workspaces_delete_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events WHERE workspace_id = OLD.id;
    RETURN NULL;
END $$
"""
PG_TRIGGER = """
CREATE TRIGGER workspaces_delete_events AFTER DELETE ON workspaces
FOR EACH ROW EXECUTE FUNCTION workspaces_delete_events()
"""
# SQLite drops a table's triggers with it: a later batch migration of `workspaces` (a copy, a drop
# and a rename) must create this one again (tests/events/test_batches.py deletes a workspace).
SQLITE_TRIGGER = """
CREATE TRIGGER workspaces_delete_events AFTER DELETE ON workspaces
FOR EACH ROW BEGIN DELETE FROM events WHERE workspace_id = OLD.id; END
"""
UNNUMBERED_WHERE = sa.text("seq IS NULL")


def _rebuilt_events(drop: bool) -> None:
    """SQLite alters a constraint by copying the table; the partial index is made again by hand
    (its predicate is not reflected) and AUTOINCREMENT kept."""
    op.drop_index("ix_events_unnumbered", table_name="events", sqlite_where=UNNUMBERED_WHERE)
    with op.batch_alter_table(
        "events", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        if drop:
            batch_op.drop_constraint(FK, type_="foreignkey")
        else:
            batch_op.create_foreign_key(
                FK, "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
            )
    op.create_index("ix_events_unnumbered", "events", ["id"], sqlite_where=UNNUMBERED_WHERE)


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _pg():
        op.drop_constraint(FK, "events", type_="foreignkey")
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        _rebuilt_events(drop=True)
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER workspaces_delete_events" + (" ON workspaces" if _pg() else ""))
    op.execute("DELETE FROM events WHERE workspace_id NOT IN (SELECT id FROM workspaces)")
    if _pg():
        op.execute("DROP FUNCTION workspaces_delete_events()")
        op.create_foreign_key(
            FK, "events", "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
        )
    else:
        _rebuilt_events(drop=False)
