"""sign-in sessions, token versions and throttle windows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00.000000

``auth_sessions`` holds one row per sign-in (the family of refresh tokens rotated from one
login), so a refresh token is accepted once, a reused one revokes its family, and sign-out
ends a session. ``users.token_version`` is carried by every token: raising it ends all of a
user's tokens at once. ``login_throttles`` gains the start of each counting window; its rows
are counters of the last hour, so the table is recreated rather than altered (SQLite cannot add
a column whose default is a function call).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mspmode.db import base as msp_types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _throttles(with_window: bool) -> None:
    columns = [
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('locked_until', msp_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_failure_at', msp_types.UTCDateTime(timezone=True), server_default=msp_types.now_utc(), nullable=False),
    ]
    if with_window:
        columns.append(
            sa.Column('window_started_at', msp_types.UTCDateTime(timezone=True), server_default=msp_types.now_utc(), nullable=False)
        )
    op.create_table('login_throttles', *columns, sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles')))
    op.create_index(op.f('ix_login_throttles_last_failure_at'), 'login_throttles', ['last_failure_at'], unique=False)


def _drop_throttles() -> None:
    op.drop_index(op.f('ix_login_throttles_last_failure_at'), table_name='login_throttles')
    op.drop_table('login_throttles')


def upgrade() -> None:
    op.add_column('users', sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))
    op.create_table('auth_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('generation', sa.Integer(), server_default='0', nullable=False),
    sa.Column('expires_at', msp_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_refreshed_at', msp_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', msp_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=100), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('created_at', msp_types.UTCDateTime(timezone=True), server_default=msp_types.now_utc(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions'))
    )
    op.create_index(op.f('ix_auth_sessions_user_id'), 'auth_sessions', ['user_id'], unique=False)
    _drop_throttles()
    _throttles(with_window=True)


def downgrade() -> None:
    _drop_throttles()
    _throttles(with_window=False)
    # Its index goes with it (MariaDB refuses to drop an index a foreign key needs).
    op.drop_table('auth_sessions')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('token_version')
