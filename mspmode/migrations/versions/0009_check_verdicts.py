"""check verdicts: the commands a pre-check stopped or warned about

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 16:00:00.000000

``check_verdicts`` keeps every ``block`` and ``warn`` a pre-check answered (never an
``allow``), whoever asked — the API, the CLI, an MCP tool or a hook — so the dashboard's Home
and live feed can show what was stopped today. A new table: nothing to carry over.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mspmode.db import base as msp_types

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('check_verdicts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('infrastructure_id', sa.Uuid(), nullable=True),
    sa.Column('failure_pattern_id', sa.Uuid(), nullable=True),
    sa.Column('verdict', sa.String(length=10), nullable=False),
    sa.Column('confidence', sa.String(length=20), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('command', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('actor_name', sa.String(length=255), nullable=True),
    sa.Column('created_at', msp_types.UTCDateTime(timezone=True), server_default=msp_types.now_utc(), nullable=False),
    sa.CheckConstraint("verdict IN ('block', 'warn')", name=op.f('ck_check_verdicts_verdict')),
    sa.CheckConstraint("confidence IS NULL OR confidence IN ('confirmed', 'likely', 'suspected')", name=op.f('ck_check_verdicts_confidence')),
    sa.CheckConstraint("actor_type IN ('user', 'api_key', 'system', 'cli', 'mcp', 'hook')", name=op.f('ck_check_verdicts_actor_type')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_check_verdicts_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['failure_pattern_id'], ['failure_patterns.id'], name=op.f('fk_check_verdicts_failure_pattern_id_failure_patterns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['infrastructure_id'], ['infrastructure.id'], name=op.f('fk_check_verdicts_infrastructure_id_infrastructure'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_verdicts'))
    )
    op.create_index(op.f('ix_check_verdicts_client_id'), 'check_verdicts', ['client_id'], unique=False)
    op.create_index(op.f('ix_check_verdicts_created_at'), 'check_verdicts', ['created_at'], unique=False)
    op.create_index(op.f('ix_check_verdicts_failure_pattern_id'), 'check_verdicts', ['failure_pattern_id'], unique=False)
    op.create_index(op.f('ix_check_verdicts_infrastructure_id'), 'check_verdicts', ['infrastructure_id'], unique=False)


def downgrade() -> None:
    # Its indexes go with it (MariaDB refuses to drop an index a foreign key needs).
    op.drop_table('check_verdicts')
