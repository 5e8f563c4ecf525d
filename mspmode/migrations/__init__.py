"""Alembic environment and revisions: the schema's history, on all three backends."""
