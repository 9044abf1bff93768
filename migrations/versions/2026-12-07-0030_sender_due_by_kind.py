"""the sender's due queue indexed by kind: (sender_id, outcome, kind, scheduled_for)

Every reader of a sender's queue asks for some kinds (the head per cap, what is due, the backlog,
the explanation beyond the head). With (sender_id, outcome, scheduled_for) a read of the inmail or
follow-up queue walked every pending action of the sender — after a sweep, its thousands of pending
withdrawals — to find a handful; with `kind` before `scheduled_for` each reads its own kind, still in
due order. Same number of indexes, so writing an activity costs the same.

Revision ID: 3e8b5f1a7c20
Revises: 6a1f3c9e0b52
Create Date: 2026-12-07 00:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3e8b5f1a7c20"
down_revision: str | None = "6a1f3c9e0b52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_activities_sender_due"


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(
            INDEX, ["sender_id", "outcome", "kind", "scheduled_for"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(INDEX, ["sender_id", "outcome", "scheduled_for"], unique=False)
