"""Alembic environment: run by ``mspmode.db.schema`` with a live connection, never by a
separate alembic.ini, so the CLI, the tests and the server all migrate the same way."""

from __future__ import annotations

from alembic import context

from mspmode.db.schema import migration_options

connection = context.config.attributes["connection"]
context.configure(connection=connection, **migration_options(connection.dialect.name))
with context.begin_transaction():
    context.run_migrations()
