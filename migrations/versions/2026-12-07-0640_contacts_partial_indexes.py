"""contacts' error, last-message and import indexes hold only the contacts that have one

Every reader of these three indexes asks for a value (an error code, messages after a time, an
import's id), never for its absence, and most contacts have none of the three. As full indexes they
cost every contact an entry in each when it is added, and PostgreSQL writes a new entry into every
index of the table for each UPDATE that changes an indexed column (a status change does): the
sweep's 50,000 withdrawals wrote 150,000 entries into these three, of its 800,000 index writes
(pg_waldump). Partial (WHERE … IS NOT NULL, on both databases), they hold only the few.

Revision ID: 4f8a2c6d9e15
Revises: 7c2d9e4a1b83
Create Date: 2026-12-07 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4f8a2c6d9e15"
down_revision: str | None = "7c2d9e4a1b83"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, columns, the column a contact must have a value in to be in the index)
INDEXES = (
    ("ix_contacts_campaign_error", ["campaign_id", "error_code"], "error_code"),
    ("ix_contacts_last_message_at", ["last_message_at"], "last_message_at"),
    ("ix_contacts_import_id", ["import_id"], "import_id"),
)


def upgrade() -> None:
    for name, columns, present in INDEXES:
        where = sa.text(f"{present} IS NOT NULL")
        op.drop_index(name, table_name="contacts")
        op.create_index(name, "contacts", columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, columns, _ in INDEXES:
        op.drop_index(name, table_name="contacts")
        op.create_index(name, "contacts", columns)
