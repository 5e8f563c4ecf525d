"""PostgreSQL full-text: index the words a query is cut into

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:30:00.000000

Each ``search_vector`` is rebuilt from its columns' text with every run of non-word characters
made one space (``search.pg_words``): read whole, PostgreSQL's parser indexes a host name or an
address as one token (``web1.acme.local``, ``10.0.0.5``) and the tail of a name as a signed
number (``SRV-2019`` gives ``-2019``), and no query word is ever either, so such rows were never
found. SQLite's and MariaDB's tokenizers already cut text at those characters.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, as in 0001: what this migration changes, whatever the code indexes later.
SEARCH_INDEXES = {
    "problem_solutions": (
        "problem_title",
        "error_message",
        "problem_description",
        "symptom",
        "root_cause",
        "solution_applied",
    ),
    "commands_run": ("command_text", "error_message"),
    "operation_failures": ("operation_description", "error_message"),
    "environmental_insights": ("insight_title", "insight_description"),
    "failure_patterns": ("pattern_signature", "failure_description", "root_cause", "recommended_solution"),
    "conversation_contexts": ("title", "dense_summary"),
}


def _rebuild(words: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in SEARCH_INDEXES.items():
        parts = []
        for i, column in enumerate(columns):
            text = f"coalesce({column}, '')"
            if words:
                text = f"regexp_replace({text}, '\\W+', ' ', 'g')"
            parts.append(f"setweight(to_tsvector('english', {text}), '{'ABCD'[min(i, 3)]}')")
        op.execute(f"DROP INDEX IF EXISTS ftx_{table}")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({' || '.join(parts)}) STORED"
        )
        op.execute(f"CREATE INDEX ftx_{table} ON {table} USING GIN (search_vector)")


def upgrade() -> None:
    _rebuild(words=True)


def downgrade() -> None:
    _rebuild(words=False)
