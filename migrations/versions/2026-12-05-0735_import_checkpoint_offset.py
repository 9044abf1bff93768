"""imports resume from a byte offset: the checkpoint's offset and physical line

Revision ID: 3c1f0a6d9b21
Revises: 88d5259cca24
Create Date: 2026-12-05 07:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1f0a6d9b21"
down_revision: str | None = "88d5259cca24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkpoint_offset", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("checkpoint_line", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.drop_column("checkpoint_line")
        batch_op.drop_column("checkpoint_offset")
