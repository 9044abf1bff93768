"""covering activity indexes: outcome and kind ride along for cap counts and the day chart

Revision ID: 5c1e2a7b9d40
Revises: c0ef43cb4f23
Create Date: 2026-11-27 22:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c1e2a7b9d40"
down_revision: str | None = "c0ef43cb4f23"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_sender_kind_done")
        batch_op.drop_index("ix_activities_campaign_completed")
        batch_op.create_index(
            "ix_activities_sender_kind_done",
            ["sender_id", "kind", "completed_at", "outcome"],
            unique=False,
        )
        batch_op.create_index(
            "ix_activities_campaign_completed",
            ["campaign_id", "completed_at", "outcome", "kind"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_campaign_completed")
        batch_op.drop_index("ix_activities_sender_kind_done")
        batch_op.create_index(
            "ix_activities_campaign_completed", ["campaign_id", "completed_at"], unique=False
        )
        batch_op.create_index(
            "ix_activities_sender_kind_done", ["sender_id", "kind", "completed_at"], unique=False
        )
