"""Work (seed 002): what was done inside a session — the work items, and the files, commands,
infrastructure changes, deployments and database changes each one is made of."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import (
    VERBATIM,
    Base,
    CreatedAt,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    flag,
    now_utc,
    one_of,
    utcnow,
)
from mspmode.models.core import PRIORITIES

WORK_CATEGORIES = (
    "infrastructure",
    "troubleshooting",
    "configuration",
    "development",
    "maintenance",
    "security",
    "documentation",
)
WORK_STATUSES = ("completed", "in_progress", "blocked", "pending", "deferred")
FILE_CHANGE_TYPES = ("created", "modified", "deleted", "renamed", "backed_up")
FAILURE_CATEGORIES = (
    "command_not_found",
    "unknown_option",
    "unknown_subcommand",
    "unsupported_syntax",
    "syntax_error",
    "version_mismatch",
    "permission_denied",
    "authentication_failure",
    "not_found",
    "timeout",
    "network",
    "dns",
    "service_unavailable",
    "configuration_error",
    "unknown",
)
INFRASTRUCTURE_CHANGE_TYPES = (
    "dns",
    "firewall",
    "routing",
    "ssl",
    "container",
    "service_config",
    "hardware",
    "network",
    "storage",
)
DEPLOYMENT_TYPES = ("code", "config", "database", "container", "service_restart")
DATABASE_CHANGE_TYPES = ("schema", "data", "index", "optimization", "cleanup", "migration")


class WorkItem(UUIDPrimaryKey, Timestamps, Base):
    """One task within a session ("renewed the SSL certificate on the web server"): the unit
    that is categorised, timed and billed.

    ``category_inferred`` says the category came from keyword triggers rather than a person,
    so a technician's later correction is not overwritten by the next inference.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        one_of("category", WORK_CATEGORIES, nullable=False),
        one_of("status", WORK_STATUSES, nullable=False),
        one_of("priority", PRIORITIES),
        Index(None, "created_at"),
    )

    session_id: Mapped[uuid.UUID] = fk("sessions.id", ondelete="CASCADE", nullable=False)
    category: Mapped[str] = mapped_column(String(50), index=True)
    category_inferred: Mapped[bool] = flag(False)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(50), default="completed", server_default="completed", index=True
    )
    priority: Mapped[str | None] = mapped_column(String(20))
    is_billable: Mapped[bool] = flag(False)
    estimated_minutes: Mapped[int | None] = mapped_column(Integer)
    actual_minutes: Mapped[int | None] = mapped_column(Integer)
    affected_systems: Mapped[list[Any] | None] = mapped_column()
    technologies_used: Mapped[list[Any] | None] = mapped_column()
    item_order: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()


class WorkItemTag(Base):
    """A tag on a work item."""

    __tablename__ = "work_item_tags"

    work_item_id: Mapped[uuid.UUID] = fk(
        "work_items.id", ondelete="CASCADE", nullable=False, primary_key=True, index=False
    )
    tag_id: Mapped[uuid.UUID] = fk("tags.id", ondelete="CASCADE", nullable=False, primary_key=True)


class FileChange(UUIDPrimaryKey, CreatedAt, Base):
    """A file created, edited, deleted, renamed or backed up while working."""

    __tablename__ = "file_changes"
    __table_args__ = (one_of("change_type", FILE_CHANGE_TYPES),)

    # Nullable, unlike seed 002: an agent hook records the edit before any work item exists.
    work_item_id: Mapped[uuid.UUID | None] = fk("work_items.id", ondelete="CASCADE")
    session_id: Mapped[uuid.UUID] = fk("sessions.id", ondelete="CASCADE", nullable=False)
    file_path: Mapped[str] = mapped_column(String(1000))
    change_type: Mapped[str | None] = mapped_column(String(50))
    # Where a renamed file came from; seed 002 has the change type but nowhere to keep it.
    previous_path: Mapped[str | None] = mapped_column(String(1000))
    backup_path: Mapped[str | None] = mapped_column(String(1000))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    description: Mapped[str | None] = mapped_column(Text)


class CommandRun(UUIDPrimaryKey, CreatedAt, Base):
    """A shell, PowerShell or SQL command that was run on a host, and how it ended.

    These rows are what the learning engine learns from: a failure's category, ``culprit``
    (the command word, option or syntax that failed) and ``fingerprint`` (the hash of its
    normalised error) group it into a failure pattern; a later success on the same host
    becomes the pattern's fix. ``host`` is the target as written in the command;
    ``infrastructure_id`` is the host it was resolved to, when it could be.
    """

    __tablename__ = "commands_run"
    __table_args__ = (
        one_of("failure_category", FAILURE_CATEGORIES),
        # "What ran on this host lately" is the learner's and the pre-check's main query.
        Index(None, "infrastructure_id", "executed_at"),
        # A client's commands in a period (its sessions' commands): the reports' failure counts.
        Index(None, "session_id", "executed_at"),
        # Insertion order: the learner replays and catches up on the history in it.
        Index(None, "created_at"),
    )

    # Nullable, unlike seed 002: commands from history imports and hooks arrive before any work item.
    work_item_id: Mapped[uuid.UUID | None] = fk("work_items.id", ondelete="CASCADE")
    session_id: Mapped[uuid.UUID] = fk("sessions.id", ondelete="CASCADE", nullable=False)
    # The composite index above leads with this column and serves its lookups too.
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL", index=False)
    failure_pattern_id: Mapped[uuid.UUID | None] = fk("failure_patterns.id", ondelete="SET NULL")
    command_text: Mapped[str] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255), index=True)
    shell_type: Mapped[str | None] = mapped_column(String(50))
    # Null when the outcome was never seen (the agent was interrupted), which is not a failure.
    success: Mapped[bool | None] = mapped_column(Boolean, index=True)
    output_summary: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    failure_category: Mapped[str | None] = mapped_column(String(100), index=True)
    # Null until classified; transient failures (timeouts, DNS) never block a later run.
    is_transient: Mapped[bool | None] = mapped_column(Boolean)
    culprit: Mapped[str | None] = mapped_column(String(255))
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True, info=VERBATIM)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved: Mapped[bool] = flag(False)
    execution_order: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # When it ran, not when it was recorded: imports arrive long after, and the learner orders
    # a failure and its fix by this.
    executed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=now_utc(), index=True)
    # Set on rows written by ``msp import``: a hash of the line's host, session, time, command
    # and exit code (and which repeat of them in its file), so importing a file again adds
    # nothing. Null for commands recorded otherwise; a null repeats freely in a unique index.
    # Verbatim: a hash no one wrote, looked up as computed.
    import_key: Mapped[str | None] = mapped_column(String(32), index=True, unique=True, info=VERBATIM)


class InfrastructureChange(UUIDPrimaryKey, CreatedAt, Base):
    """A change made to a client's infrastructure (a DNS record, a firewall rule, a certificate),
    with the before and after and how to roll it back: the change log an MSP answers for."""

    __tablename__ = "infrastructure_changes"
    __table_args__ = (one_of("change_type", INFRASTRUCTURE_CHANGE_TYPES),)

    work_item_id: Mapped[uuid.UUID] = fk("work_items.id", ondelete="CASCADE", nullable=False)
    session_id: Mapped[uuid.UUID] = fk("sessions.id", ondelete="CASCADE", nullable=False)
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    change_type: Mapped[str | None] = mapped_column(String(50), index=True)
    target_system: Mapped[str] = mapped_column(String(255))
    before_state: Mapped[str | None] = mapped_column(Text)
    after_state: Mapped[str | None] = mapped_column(Text)
    is_permanent: Mapped[bool] = flag(True)
    rollback_procedure: Mapped[str | None] = mapped_column(Text)
    verification_performed: Mapped[bool] = flag(False)
    verification_notes: Mapped[str | None] = mapped_column(Text)


class Deployment(UUIDPrimaryKey, CreatedAt, Base):
    """Software, configuration or a container put onto a host or service."""

    __tablename__ = "deployments"
    __table_args__ = (one_of("deployment_type", DEPLOYMENT_TYPES),)

    work_item_id: Mapped[uuid.UUID] = fk("work_items.id", ondelete="CASCADE", nullable=False)
    session_id: Mapped[uuid.UUID] = fk("sessions.id", ondelete="CASCADE", nullable=False)
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    service_id: Mapped[uuid.UUID | None] = fk("services.id", ondelete="SET NULL")
    deployment_type: Mapped[str | None] = mapped_column(String(50), index=True)
    version: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    deployed_from: Mapped[str | None] = mapped_column(String(500))
    deployed_to: Mapped[str | None] = mapped_column(String(500))
    rollback_available: Mapped[bool] = flag(False)
    rollback_procedure: Mapped[str | None] = mapped_column(Text)


class DatabaseChange(UUIDPrimaryKey, CreatedAt, Base):
    """A change to a client's database: schema, data, indexes, a cleanup or a migration."""

    __tablename__ = "database_changes"
    __table_args__ = (one_of("change_type", DATABASE_CHANGE_TYPES),)

    work_item_id: Mapped[uuid.UUID] = fk("work_items.id", ondelete="CASCADE", nullable=False)
    session_id: Mapped[uuid.UUID] = fk("sessions.id", ondelete="CASCADE", nullable=False)
    database_name: Mapped[str] = mapped_column(String(255), index=True)
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    change_type: Mapped[str | None] = mapped_column(String(50), index=True)
    sql_executed: Mapped[str | None] = mapped_column(Text)
    rows_affected: Mapped[int | None] = mapped_column(BigInteger)
    size_freed_bytes: Mapped[int | None] = mapped_column(BigInteger)
    backup_taken: Mapped[bool] = flag(False)
    backup_location: Mapped[str | None] = mapped_column(String(500))
