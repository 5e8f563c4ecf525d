"""commands_run session and period index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 19:55:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The reports count a client's failed commands in a period: its sessions' commands, by date.
    op.create_index(
        op.f('ix_commands_run_session_id_executed_at'),
        'commands_run',
        ['session_id', 'executed_at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_commands_run_session_id_executed_at'), table_name='commands_run')
