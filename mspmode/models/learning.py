"""Learning: what went wrong, why, and what worked instead (seeds 000, 001, 004).

Failures are grouped into failure patterns, patterns become environmental insights, and solved
problems become a searchable record of fixes; together they are what the pre-check and the
recall read before an agent acts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import (
    VERBATIM,
    Base,
    CreatedAt,
    Timestamps,
    UUIDPrimaryKey,
    between,
    fk,
    flag,
    now_utc,
    one_of,
    utcnow,
)

ROOT_CAUSE_CATEGORIES = (
    "configuration",
    "hardware",
    "software",
    "network",
    "permissions",
    "compatibility",
    "other",
)
SOLUTION_CATEGORIES = (
    "config_change",
    "restart",
    "replacement",
    "patch",
    "alternative_approach",
    "workaround",
    "other",
)
PROBLEM_STATUSES = ("draft", "verified", "archived")
PATTERN_TYPES = (
    "command_compatibility",
    "version_mismatch",
    "permission_denied",
    "service_unavailable",
    "configuration_error",
    "environmental_limitation",
    "network_connectivity",
    "authentication_failure",
    "syntax_error",
    "command_not_found",
    "unknown_option",
    "unsupported_syntax",
    "not_found",
    "transient",
)
PATTERN_SEVERITIES = ("blocking", "major", "minor", "info")
CULPRIT_KINDS = ("command", "option", "subcommand", "operator", "syntax", "none")
CONFIDENCE_LEVELS = ("confirmed", "likely", "suspected")
INSIGHT_CATEGORIES = (
    "command_constraints",
    "service_configuration",
    "version_limitations",
    "custom_installations",
    "network_constraints",
    "permissions",
    "compatibility",
    "performance",
    "security",
)
OPERATION_TYPES = (
    "api_call",
    "file_operation",
    "network_request",
    "database_query",
    "external_integration",
    "service_restart",
    "backup_operation",
    "restore_operation",
    "migration",
)


class ProblemSolution(UUIDPrimaryKey, Timestamps, Base):
    """A problem a technician solved: what it looked like, why it happened, what fixed it.

    A ``draft`` is written by the learning engine from a failure followed by a working command;
    a technician promotes it to ``verified`` or retires it to ``archived``.
    """

    __tablename__ = "problem_solutions"
    __table_args__ = (
        one_of("root_cause_category", ROOT_CAUSE_CATEGORIES),
        one_of("solution_category", SOLUTION_CATEGORIES),
        one_of("status", PROBLEM_STATUSES, nullable=False),
    )

    # Nullable and SET NULL, unlike seed 000: drafts are learned from imported history that has
    # no work item, and a solution must outlive the session it was found in.
    work_item_id: Mapped[uuid.UUID | None] = fk("work_items.id", ondelete="SET NULL")
    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="SET NULL")
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    failure_pattern_id: Mapped[uuid.UUID | None] = fk("failure_patterns.id", ondelete="SET NULL")
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft", index=True)
    problem_title: Mapped[str] = mapped_column(String(500))
    problem_description: Mapped[str] = mapped_column(Text)
    symptom: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(100))
    investigation_steps: Mapped[list[Any] | None] = mapped_column()
    diagnostic_output: Mapped[str | None] = mapped_column(Text)
    investigation_duration_minutes: Mapped[int | None] = mapped_column(Integer)
    root_cause: Mapped[str] = mapped_column(Text)
    root_cause_category: Mapped[str | None] = mapped_column(String(100), index=True)
    solution_applied: Mapped[str] = mapped_column(Text)
    solution_category: Mapped[str | None] = mapped_column(String(100), index=True)
    commands_run: Mapped[list[Any] | None] = mapped_column()
    files_modified: Mapped[list[Any] | None] = mapped_column()
    verification_method: Mapped[str | None] = mapped_column(Text)
    verification_successful: Mapped[bool] = flag(True)
    verification_notes: Mapped[str | None] = mapped_column(Text)
    rollback_plan: Mapped[str | None] = mapped_column(Text)
    prevention_measures: Mapped[str | None] = mapped_column(Text)
    recurrence_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    similar_problems: Mapped[list[Any] | None] = mapped_column()
    tags: Mapped[list[Any] | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    time_to_resolution_minutes: Mapped[int | None] = mapped_column(Integer)


class FailurePattern(UUIDPrimaryKey, Timestamps, Base):
    """A way things go wrong that has been seen before: the same failure, grouped across runs
    and hosts, with why it happens and what to do instead.

    The pre-check finds a pattern by ``error_message_hash`` (the fingerprint of the normalised
    message) or by ``culprit``; ``confidence_level`` and ``is_transient`` decide whether a repeat
    is blocked, warned about or only given retry advice.
    """

    __tablename__ = "failure_patterns"
    __table_args__ = (
        one_of("pattern_type", PATTERN_TYPES, nullable=False),
        one_of("severity", PATTERN_SEVERITIES),
        one_of("culprit_kind", CULPRIT_KINDS),
        one_of("confidence_level", CONFIDENCE_LEVELS, nullable=False),
    )

    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="CASCADE")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    pattern_type: Mapped[str] = mapped_column(String(100), index=True)
    pattern_signature: Mapped[str] = mapped_column(String(500), index=True)
    error_pattern: Mapped[str | None] = mapped_column(Text, info=VERBATIM)
    error_message_hash: Mapped[str | None] = mapped_column(String(64), index=True, info=VERBATIM)
    # No CHECK: the classifier's vocabulary is versioned with the engine and grows without a
    # migration; pattern_type is the stable, human-facing vocabulary.
    failure_class: Mapped[str | None] = mapped_column(String(50), index=True)
    culprit: Mapped[str | None] = mapped_column(String(255), index=True)
    culprit_kind: Mapped[str | None] = mapped_column(String(20))
    is_transient: Mapped[bool] = flag(False)
    confidence_level: Mapped[str] = mapped_column(
        String(20), default="suspected", server_default="suspected", index=True
    )
    confidence_score: Mapped[float | None] = mapped_column(Float)
    affected_systems: Mapped[list[Any] | None] = mapped_column()
    affected_os_versions: Mapped[list[Any] | None] = mapped_column()
    distinguishing_traits: Mapped[dict[str, Any] | None] = mapped_column()
    triggering_commands: Mapped[list[Any] | None] = mapped_column()
    triggering_operations: Mapped[list[Any] | None] = mapped_column()
    failure_description: Mapped[str] = mapped_column(Text)
    typical_error_messages: Mapped[list[Any] | None] = mapped_column()
    root_cause: Mapped[str] = mapped_column(Text)
    recommended_solution: Mapped[str] = mapped_column(Text)
    alternative_approaches: Mapped[list[Any] | None] = mapped_column()
    workaround_commands: Mapped[list[Any] | None] = mapped_column()
    occurrence_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    host_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    fix_observed: Mapped[bool] = flag(False)
    last_fix_at: Mapped[datetime | None] = mapped_column()
    first_seen: Mapped[datetime] = mapped_column(default=utcnow, server_default=now_utc())
    last_seen: Mapped[datetime] = mapped_column(default=utcnow, server_default=now_utc(), index=True)
    severity: Mapped[str | None] = mapped_column(String(20), index=True)
    is_active: Mapped[bool] = flag(True, index=True)
    added_to_insights: Mapped[bool] = flag(False)


class EnvironmentalInsight(UUIDPrimaryKey, Timestamps, Base):
    """A fact about a client's environment worth knowing before touching it ("Server 2008 has
    PowerShell 2.0 only"), written up from failure patterns for agents and for insights.md."""

    __tablename__ = "environmental_insights"
    __table_args__ = (
        one_of("insight_category", INSIGHT_CATEGORIES, nullable=False),
        one_of("confidence_level", CONFIDENCE_LEVELS),
        between("priority", 1, 10, nullable=False),
    )

    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="CASCADE")
    insight_category: Mapped[str] = mapped_column(String(100), index=True)
    insight_title: Mapped[str] = mapped_column(String(500))
    insight_description: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[Any] | None] = mapped_column()
    affected_operations: Mapped[list[Any] | None] = mapped_column()
    source_pattern_id: Mapped[uuid.UUID | None] = fk("failure_patterns.id", ondelete="SET NULL")
    confidence_level: Mapped[str | None] = mapped_column(String(20))
    verification_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_verified: Mapped[datetime | None] = mapped_column()
    # NOT NULL although the seed allows NULL: insights are listed by priority, and NULLs sort
    # first on PostgreSQL but last on MariaDB in a descending order.
    priority: Mapped[int] = mapped_column(Integer, default=5, server_default="5", index=True)
    is_active: Mapped[bool] = flag(True, index=True)
    superseded_by: Mapped[uuid.UUID | None] = fk("environmental_insights.id", ondelete="SET NULL")


class OperationFailure(UUIDPrimaryKey, CreatedAt, Base):
    """A failed operation that was not a shell command: an API call, a file copy, a backup, a
    query. Complements the failure record kept on each command run."""

    __tablename__ = "operation_failures"
    __table_args__ = (one_of("operation_type", OPERATION_TYPES, nullable=False),)

    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="CASCADE")
    work_item_id: Mapped[uuid.UUID | None] = fk("work_items.id", ondelete="CASCADE")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="SET NULL")
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    operation_type: Mapped[str] = mapped_column(String(100), index=True)
    operation_description: Mapped[str] = mapped_column(Text)
    target_system: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(50))
    # No CHECK: seed 000 leaves this vocabulary open ("timeout", "authentication", ... etc.).
    failure_category: Mapped[str | None] = mapped_column(String(100), index=True)
    # Null until classified: "not transient" is a finding, not a default.
    is_transient: Mapped[bool | None] = mapped_column(Boolean)
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True, info=VERBATIM)
    stack_trace: Mapped[str | None] = mapped_column(Text)
    request_data: Mapped[dict[str, Any] | None] = mapped_column()
    response_data: Mapped[dict[str, Any] | None] = mapped_column()
    environment_snapshot: Mapped[dict[str, Any] | None] = mapped_column()
    resolution_applied: Mapped[str | None] = mapped_column(Text)
    resolved: Mapped[bool] = flag(False, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column()
    time_to_resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    related_pattern_id: Mapped[uuid.UUID | None] = fk("failure_patterns.id", ondelete="SET NULL")
