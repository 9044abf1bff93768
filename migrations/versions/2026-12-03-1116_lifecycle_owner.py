"""lifecycle owner: skipped outcome, waiting cap, max_reinvites, invites sent, acceptance counts

Revision ID: 6f70181afb6a
Revises: d79798d68d31
Create Date: 2026-12-03 11:16:37.921438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6f70181afb6a"
down_revision: str | None = "d79798d68d31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES_BEFORE = "outcome IN ('pending', 'success', 'error')"
OUTCOMES_AFTER = "outcome IN ('pending', 'success', 'error', 'skipped')"


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_cap", sa.String(length=16), nullable=True))
        batch_op.drop_constraint(op.f("ck_activities_outcome"), type_="check")
        batch_op.create_check_constraint("outcome", OUTCOMES_AFTER)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_reinvites", sa.Integer(), server_default="0", nullable=False)
        )
    # A campaign that re-invited withdrawn contacts without end now re-invites each one once.
    op.execute("UPDATE campaigns SET max_reinvites = 1 WHERE reinvite_withdrawn")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("reinvite_withdrawn")
        batch_op.create_check_constraint("max_reinvites_range", "max_reinvites BETWEEN 0 AND 3")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invites_sent", sa.Integer(), server_default="0", nullable=False)
        )
    # Invitations sent so far: the connection requests that went out (at least one when invited).
    op.execute(
        """
        UPDATE contacts SET invites_sent = (
            SELECT count(*) FROM activities a
            WHERE a.contact_id = contacts.id AND a.kind = 'connection_request'
              AND a.outcome = 'success'
        )
        """
    )
    op.execute(
        "UPDATE contacts SET invites_sent = 1 WHERE invites_sent = 0 AND invited_at IS NOT NULL"
    )
    # The acceptance figures (app.domain.transitions.counted_as), counted once here and then
    # maintained with every change.
    for key, where in (
        ("invited", "invites_sent > 0"),
        ("accepted", "invites_sent > 0 AND status = 'connected'"),
        ("already_connected", "invites_sent = 0 AND status = 'connected'"),
        ("replied", "replied"),
    ):
        op.execute(
            f"INSERT INTO campaign_counts (campaign_id, key, count) "  # noqa: S608
            f"SELECT campaign_id, 'funnel:{key}', count(*) FROM contacts WHERE {where} "
            f"GROUP BY campaign_id"
        )


def downgrade() -> None:
    op.execute("DELETE FROM campaign_counts WHERE key LIKE 'funnel:%'")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("invites_sent")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reinvite_withdrawn", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE campaigns SET reinvite_withdrawn = (max_reinvites > 0)")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_campaigns_max_reinvites_range"), type_="check")
        batch_op.drop_column("max_reinvites")

    op.execute("UPDATE activities SET outcome = 'error' WHERE outcome = 'skipped'")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_activities_outcome"), type_="check")
        batch_op.create_check_constraint("outcome", OUTCOMES_BEFORE)
        batch_op.drop_column("waiting_cap")
