"""audit chain head: a row count and a MAC over the head

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000

The head recorded the last sequence and MAC in the clear, so whoever deleted the newest rows
could set it to the new last row. It now also counts the rows and carries ``head_mac``, an
HMAC under the audit key over (sequence, count, last MAC). A migration does not hold the key:
``msp db upgrade`` and ``msp init`` sign an existing head right after this revision
(``services.audit.sign_legacy_head``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_chain_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('row_count', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('head_mac', sa.String(length=64), nullable=True))
    op.execute("UPDATE audit_chain_head SET row_count = (SELECT COUNT(*) FROM audit_log)")


def downgrade() -> None:
    with op.batch_alter_table('audit_chain_head', schema=None) as batch_op:
        batch_op.drop_column('head_mac')
        batch_op.drop_column('row_count')
