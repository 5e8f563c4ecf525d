"""Context recall: what an agent should be told when a new session starts, on any machine —
compressed summaries of earlier sessions, standing facts, where a project stands, and the
decisions already taken."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import Base, Timestamps, UUIDPrimaryKey, between, fk, flag, one_of

CONTEXT_TYPES = (
    "session_summary",
    "project_state",
    "general_context",
    "technical_decision",
    "bug_fix",
    "compaction",
)
SNIPPET_CATEGORIES = (
    "tech_decision",
    "configuration",
    "pattern",
    "lesson_learned",
    "constraint",
    "credential_reference",
    "other",
)
DECISION_TYPES = ("technical", "architectural", "process", "security", "other")
IMPACTS = ("low", "medium", "high", "critical")


class ConversationContext(UUIDPrimaryKey, Timestamps, Base):
    """A compressed account of earlier work with an agent — a session summary, the state before
    a compaction, a fix worth remembering — ready to be put in front of the next session.

    ``relevance_score`` is the stored base score; recall applies time decay and usage on top.
    """

    __tablename__ = "conversation_contexts"
    __table_args__ = (
        one_of("context_type", CONTEXT_TYPES, nullable=False),
        between("importance", 1, 10, nullable=False),
    )

    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    # CASCADE: a context about a client or project means nothing once they are gone, and must
    # not be recalled into another client's session.
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    project_id: Mapped[uuid.UUID | None] = fk("projects.id", ondelete="CASCADE")
    machine_id: Mapped[uuid.UUID | None] = fk("machines.id", ondelete="SET NULL")
    context_type: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(String(500))
    dense_summary: Mapped[str] = mapped_column(Text)
    key_decisions: Mapped[list[Any] | None] = mapped_column()
    current_state: Mapped[dict[str, Any] | None] = mapped_column()
    tags: Mapped[list[Any] | None] = mapped_column()
    relevance_score: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    importance: Mapped[int] = mapped_column(Integer, default=5, server_default="5", index=True)
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_used_at: Mapped[datetime | None] = mapped_column()
    source_tokens: Mapped[int | None] = mapped_column(Integer)
    compressed_tokens: Mapped[int | None] = mapped_column(Integer)
    superseded_by: Mapped[uuid.UUID | None] = fk("conversation_contexts.id", ondelete="SET NULL")
    is_active: Mapped[bool] = flag(True, index=True)


class ContextSnippet(UUIDPrimaryKey, Timestamps, Base):
    """A small standing fact worth recalling on its own: a configuration detail, a constraint of
    a host, a lesson learned, where a credential is kept (never the secret itself)."""

    __tablename__ = "context_snippets"
    __table_args__ = (
        one_of("category", SNIPPET_CATEGORIES, nullable=False),
        between("importance", 1, 10, nullable=False),
    )

    project_id: Mapped[uuid.UUID | None] = fk("projects.id", ondelete="CASCADE")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    category: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(String(500))
    dense_content: Mapped[str] = mapped_column(Text)
    structured_data: Mapped[dict[str, Any] | None] = mapped_column()
    tags: Mapped[list[Any] | None] = mapped_column()
    importance: Mapped[int] = mapped_column(Integer, default=5, server_default="5", index=True)
    relevance_score: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_used_at: Mapped[datetime | None] = mapped_column()
    # A hard host constraint ("PowerShell 2.0 only") is as true in a year as today: no time decay.
    decays: Mapped[bool] = flag(True)
    superseded_by: Mapped[uuid.UUID | None] = fk("context_snippets.id", ondelete="SET NULL")
    is_active: Mapped[bool] = flag(True, index=True)


class ProjectState(UUIDPrimaryKey, Timestamps, Base):
    """Where a project stands right now — phase, progress, blockers, what comes next — so the
    next session picks up where the last one stopped. One per project, overwritten in place."""

    __tablename__ = "project_states"
    __table_args__ = (between("progress_percentage", 0, 100, nullable=False),)

    project_id: Mapped[uuid.UUID] = fk("projects.id", ondelete="CASCADE", nullable=False, unique=True)
    last_session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    current_phase: Mapped[str | None] = mapped_column(String(100))
    progress_percentage: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    blockers: Mapped[list[Any] | None] = mapped_column()
    next_actions: Mapped[list[Any] | None] = mapped_column()
    context_summary: Mapped[str | None] = mapped_column(Text)
    key_files: Mapped[list[Any] | None] = mapped_column()
    important_decisions: Mapped[list[Any] | None] = mapped_column()


class DecisionLog(UUIDPrimaryKey, Timestamps, Base):
    """A decision taken for a client or project and why, so a later session does not reopen it
    unknowingly; a reversal supersedes it rather than rewriting it."""

    __tablename__ = "decision_logs"
    __table_args__ = (
        one_of("decision_type", DECISION_TYPES, nullable=False),
        one_of("impact", IMPACTS, nullable=False),
    )

    project_id: Mapped[uuid.UUID | None] = fk("projects.id", ondelete="CASCADE")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    decision_type: Mapped[str] = mapped_column(String(20), index=True)
    decision_text: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str | None] = mapped_column(Text)
    alternatives_considered: Mapped[list[Any] | None] = mapped_column()
    impact: Mapped[str] = mapped_column(String(20), default="medium", server_default="medium", index=True)
    tags: Mapped[list[Any] | None] = mapped_column()
    superseded_by: Mapped[uuid.UUID | None] = fk("decision_logs.id", ondelete="SET NULL")
    is_active: Mapped[bool] = flag(True, index=True)
