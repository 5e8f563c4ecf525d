"""commands_run import key: importing a file again adds nothing

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00.000000

``import_key`` identifies a command line of an import file (``history.import_key``); the
unique index makes a second import of the same line impossible, and answers the import's
"already imported?" lookups. Commands imported before this revision have no key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('commands_run', sa.Column('import_key', sa.String(length=32), nullable=True))
    op.create_index(op.f('ix_commands_run_import_key'), 'commands_run', ['import_key'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_commands_run_import_key'), table_name='commands_run')
    op.drop_column('commands_run', 'import_key')
