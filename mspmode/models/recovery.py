"""Recovery (seed 004, adapted from tasks to commands): what was tried after a failure, and the
explanation the technician was given — why it failed, whether to retry, what they must do."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import Base, CreatedAt, Timestamps, UUIDPrimaryKey, fk, one_of

RECOVERY_STRATEGIES = (
    "retry_with_backoff",
    "use_learned_alternative",
    "escalate_to_user",
    "modify_command",
    "skip",
    "manual_fix",
)
RECOVERY_OUTCOMES = ("succeeded", "failed", "abandoned", "pending")
RETRY_DECISIONS = ("retry_with_backoff", "use_learned_alternative", "escalate_to_user", "do_not_retry")
SEVERITY_LEVELS = ("low", "medium", "high", "critical")


class RecoveryAttempt(UUIDPrimaryKey, Timestamps, Base):
    """One try at getting past a failure — a retry, the learned alternative, an edited command,
    a hand-off to the technician — numbered within its failure, with the reasoning behind it.

    The failure is a failed command or a failed non-command operation; the attempt goes with it.
    """

    __tablename__ = "recovery_attempts"
    __table_args__ = (
        CheckConstraint(
            "failed_command_id IS NOT NULL OR operation_failure_id IS NOT NULL", name="has_failure"
        ),
        # info: the API's schema reads the range back (a 0 is a 422, not a refused INSERT).
        CheckConstraint(
            "attempt_number >= 1",
            name="attempt_number",
            info={"column": "attempt_number", "range": (1, 2**31 - 1)},
        ),
        # Attempts are numbered per failure; two writers numbering the same attempt must collide.
        UniqueConstraint("failed_command_id", "attempt_number"),
        UniqueConstraint("operation_failure_id", "attempt_number"),
        one_of("recovery_strategy", RECOVERY_STRATEGIES, nullable=False),
        one_of("outcome", RECOVERY_OUTCOMES, nullable=False),
        Index(None, "started_at"),
    )

    failed_command_id: Mapped[uuid.UUID | None] = fk("commands_run.id", ondelete="CASCADE")
    operation_failure_id: Mapped[uuid.UUID | None] = fk("operation_failures.id", ondelete="CASCADE")
    failure_pattern_id: Mapped[uuid.UUID | None] = fk("failure_patterns.id", ondelete="SET NULL")
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    # The command the attempt ran, once recorded: a succeeded attempt is how a fix gets learned.
    result_command_id: Mapped[uuid.UUID | None] = fk("commands_run.id", ondelete="SET NULL")
    recovery_strategy: Mapped[str] = mapped_column(String(50), index=True)
    attempt_number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    # Null while pending; ``outcome`` also tells an abandoned attempt from a failed one.
    success: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending", index=True)
    reasoning: Mapped[str | None] = mapped_column(Text)
    attempted_command: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)


class RecoveryExplanation(UUIDPrimaryKey, CreatedAt, Base):
    """What the technician was told about a failure: a plain summary, the root cause, whether
    to retry and why, what they must do themselves, and how serious it is.

    It explains a failed command, a failed operation, or a failure pattern as a whole, and is
    kept as it was said (append-only), so a later, better explanation is a new row.
    """

    __tablename__ = "recovery_explanations"
    __table_args__ = (
        one_of("retry_decision", RETRY_DECISIONS, nullable=False),
        one_of("severity_level", SEVERITY_LEVELS),
        Index(None, "created_at"),
    )

    command_run_id: Mapped[uuid.UUID | None] = fk("commands_run.id", ondelete="CASCADE")
    operation_failure_id: Mapped[uuid.UUID | None] = fk("operation_failures.id", ondelete="CASCADE")
    # SET NULL, and no "one of the three is set" CHECK: deleting a pattern must not fail
    # because an explanation of that pattern alone would lose its last reference.
    failure_pattern_id: Mapped[uuid.UUID | None] = fk("failure_patterns.id", ondelete="SET NULL")
    failure_summary: Mapped[str] = mapped_column(Text)
    root_cause: Mapped[str] = mapped_column(Text)
    retry_decision: Mapped[str] = mapped_column(String(30), index=True)
    retry_explanation: Mapped[str | None] = mapped_column(Text)
    user_action_required: Mapped[str | None] = mapped_column(Text)
    severity_level: Mapped[str | None] = mapped_column(String(20), index=True)
    suggested_commands: Mapped[list[Any] | None] = mapped_column()
