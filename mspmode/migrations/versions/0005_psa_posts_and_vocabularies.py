"""PSA integration: HaloPSA and ITFlow in the vocabularies, the posts queue, integration settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00.000000

``psa_posts`` holds each note and time entry owed to a PSA ticket until it is posted, with the
idempotency key that makes a retry find the entry instead of posting it twice.
``integration_credentials.settings`` keeps what an integration needs besides its secrets (a
HaloPSA tenant, the PSA user time is posted as). ``ticket_links`` names the integration a
ticket lives in. The three ``integration_type`` vocabularies gain ``halopsa`` and ``itflow``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mspmode.db import base as msp_types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the vocabularies before and after this revision.
OLD_TYPES = ("syncro", "autotask", "connectwise", "msp_backups", "zapier", "other")
NEW_TYPES = ("syncro", "autotask", "connectwise", "halopsa", "itflow", "msp_backups", "zapier", "other")
OLD_TICKETS = ("syncro", "autotask", "connectwise", "other")
NEW_TICKETS = ("syncro", "autotask", "connectwise", "halopsa", "itflow", "other")
VOCABULARIES = {
    "integration_credentials": (OLD_TYPES, NEW_TYPES),
    "external_integrations": (OLD_TYPES, NEW_TYPES),
    "ticket_links": (OLD_TICKETS, NEW_TICKETS),
}


def _check(values: Sequence[str]) -> str:
    return "integration_type IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _vocabularies(new: bool) -> None:
    for table, (old, fresh) in VOCABULARIES.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_integration_type"), type_="check")
            batch.create_check_constraint(
                op.f(f"ck_{table}_integration_type"), _check(fresh if new else old)
            )


def upgrade() -> None:
    _vocabularies(new=True)
    with op.batch_alter_table('integration_credentials') as batch:
        batch.add_column(sa.Column('settings', sa.JSON(), nullable=True))
    with op.batch_alter_table('ticket_links') as batch:
        batch.add_column(sa.Column('integration_credential_id', sa.Uuid(), nullable=True))
        batch.create_index(
            op.f('ix_ticket_links_integration_credential_id'), ['integration_credential_id'], unique=False
        )
        batch.create_foreign_key(
            op.f('fk_ticket_links_integration_credential_id_integration_credentials'),
            'integration_credentials', ['integration_credential_id'], ['id'], ondelete='SET NULL',
        )
    op.create_table('psa_posts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('integration_credential_id', sa.Uuid(), nullable=True),
    sa.Column('ticket_link_id', sa.Uuid(), nullable=True),
    sa.Column('session_id', sa.Uuid(), nullable=True),
    sa.Column('work_item_id', sa.Uuid(), nullable=True),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('integration_type', sa.String(length=20), nullable=False),
    sa.Column('ticket_number', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='queued', nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('is_billable', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', msp_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_http_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('posted_at', msp_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', msp_types.UTCDateTime(timezone=True), server_default=msp_types.now_utc(), nullable=False),
    sa.Column('updated_at', msp_types.UTCDateTime(timezone=True), server_default=msp_types.now_utc(), nullable=False),
    sa.CheckConstraint(_check(NEW_TICKETS), name=op.f('ck_psa_posts_integration_type')),
    sa.CheckConstraint("kind IN ('note', 'time')", name=op.f('ck_psa_posts_kind')),
    sa.CheckConstraint("status IN ('queued', 'posted', 'failed')", name=op.f('ck_psa_posts_status')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_psa_posts_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['integration_credential_id'], ['integration_credentials.id'], name=op.f('fk_psa_posts_integration_credential_id_integration_credentials'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_psa_posts_session_id_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_link_id'], ['ticket_links.id'], name=op.f('fk_psa_posts_ticket_link_id_ticket_links'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['work_item_id'], ['work_items.id'], name=op.f('fk_psa_posts_work_item_id_work_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_psa_posts')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_psa_posts_idempotency_key'))
    )
    for column in ('client_id', 'integration_credential_id', 'next_attempt_at', 'session_id', 'status',
                   'ticket_link_id', 'work_item_id'):
        op.create_index(op.f(f'ix_psa_posts_{column}'), 'psa_posts', [column], unique=False)


def downgrade() -> None:
    op.drop_table('psa_posts')
    with op.batch_alter_table('ticket_links') as batch:
        batch.drop_constraint(
            op.f('fk_ticket_links_integration_credential_id_integration_credentials'), type_='foreignkey'
        )
        batch.drop_index(op.f('ix_ticket_links_integration_credential_id'))
        batch.drop_column('integration_credential_id')
    with op.batch_alter_table('integration_credentials') as batch:
        batch.drop_column('settings')
    # Rows naming the two new systems cannot stay under the old vocabulary.
    for table in VOCABULARIES:
        op.execute(sa.text(f"DELETE FROM {table} WHERE integration_type IN ('halopsa', 'itflow')"))
    _vocabularies(new=False)
