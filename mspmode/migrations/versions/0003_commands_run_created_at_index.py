"""commands_run created_at index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The learner replays the history, and catches up on it, in insertion order.
    op.create_index(op.f('ix_commands_run_created_at'), 'commands_run', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_commands_run_created_at'), table_name='commands_run')
