"""Operations: the record of who changed what (a tamper-evident audit log) and of the backups
taken of MSP Mode's own database."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import (
    SIGNED,
    VERBATIM,
    Base,
    CreatedAt,
    Timestamps,
    UUIDPrimaryKey,
    now_utc,
    one_of,
    utcnow,
)

ACTOR_TYPES = ("user", "api_key", "system", "cli", "mcp", "hook")
AUDIT_ACTIONS = ("create", "update", "delete", "login", "logout", "reveal", "rotate", "revoke", "other")
BACKUP_TYPES = ("daily", "weekly", "monthly", "manual", "pre-migration")
BACKUP_STATUSES = ("running", "succeeded", "failed")
VERIFICATION_STATUSES = ("passed", "failed", "not_verified")
DATABASE_DIALECTS = ("sqlite", "postgresql", "mariadb", "mysql")


class AuditLog(UUIDPrimaryKey, CreatedAt, Base):
    """One change to MSP Mode's data, or one sign-in, secret reveal or key rotation: who did it,
    from where, to which record.

    Rows are never updated or deleted. Each row's ``mac`` is an HMAC over its content and the
    previous row's ``mac`` (``prev_mac``), taken in ``sequence`` order, so removing, reordering
    or editing a row breaks the chain where it happened.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        one_of("actor_type", ACTOR_TYPES, nullable=False),
        one_of("action", AUDIT_ACTIONS, nullable=False),
        # "Everything that happened to this record" reads by both together.
        Index(None, "entity_type", "entity_id"),
        {"info": SIGNED},
    )

    # Assigned by the writer that holds the chain, not an autoincrement (SQLite has none outside
    # the primary key); unique so two writers racing for the same place fail instead of forking it.
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=now_utc(), index=True)
    actor_type: Mapped[str] = mapped_column(String(20), index=True)
    # No foreign key: the record of what a user did must outlive the user.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), index=True)
    actor_name: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(20), index=True)
    entity_type: Mapped[str] = mapped_column(String(100))
    # Text, not a UUID: some audited things (settings, a login name) have no UUID key.
    entity_id: Mapped[str | None] = mapped_column(String(100))
    changes: Mapped[dict[str, Any] | None] = mapped_column()
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Which HMAC key signed the row, so the chain stays verifiable across a key rotation.
    mac_key_id: Mapped[str | None] = mapped_column(String(32))
    prev_mac: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The end of the audit chain: a single row every audit write locks and advances.

    Taking the row lock is what makes concurrent writers on PostgreSQL and MariaDB take turns
    (SQLite's single writer does so already). The head remembers the last sequence, the number
    of rows and the last MAC, and ``head_mac`` signs the three with the audit key: whoever
    deletes the newest rows cannot make the head agree with what is left.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    mac: Mapped[str | None] = mapped_column(String(64), info=VERBATIM)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # NULL only before the first row (nothing to protect yet).
    head_mac: Mapped[str | None] = mapped_column(String(64), info=VERBATIM)


class LoginThrottle(Base):
    """Failed sign-ins counted for one account, one source address, or one (account, address)
    pair within a window, and how long further attempts are refused (exponential backoff).
    Kept in the database so every API worker applies the same limit (services/throttle.py).

    ``key`` is an HMAC of the kind and the name or address, never the name itself: people
    type their password into the user-name field.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True, info=VERBATIM)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column()
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=now_utc(), index=True)
    # Counting starts again this long after the window's first failure, however many came
    # since: one guess per window can never keep an account locked.
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=now_utc())


class BackupLog(UUIDPrimaryKey, Timestamps, Base):
    """One backup of MSP Mode's own database: when it ran, where the file went, whether it was
    verified, and the schema revision it needs to be restored into."""

    __tablename__ = "backup_log"
    __table_args__ = (
        one_of("backup_type", BACKUP_TYPES, nullable=False),
        one_of("status", BACKUP_STATUSES, nullable=False),
        one_of("verification_status", VERIFICATION_STATUSES, nullable=False),
        one_of("database_dialect", DATABASE_DIALECTS, nullable=False),
    )

    backup_type: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running", server_default="running", index=True)
    file_path: Mapped[str] = mapped_column(String(1000))
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    checksum_sha256: Mapped[str | None] = mapped_column(String(64), info=VERBATIM)
    backup_started_at: Mapped[datetime] = mapped_column(index=True)
    backup_completed_at: Mapped[datetime | None] = mapped_column(index=True)
    # Stored rather than generated: a computed column differs on every backend (seed 003).
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    verification_status: Mapped[str] = mapped_column(
        String(20), default="not_verified", server_default="not_verified", index=True
    )
    verification_details: Mapped[dict[str, Any] | None] = mapped_column()
    database_name: Mapped[str | None] = mapped_column(String(255))
    database_dialect: Mapped[str] = mapped_column(String(20))
    database_host: Mapped[str | None] = mapped_column(String(255))
    # "native": the dialect's own tool (SQLite's online backup, pg_dump, mariadb-dump).
    backup_method: Mapped[str] = mapped_column(String(50), default="native", server_default="native")
    schema_revision: Mapped[str | None] = mapped_column(String(64), info=VERBATIM)
    error_message: Mapped[str | None] = mapped_column(Text)
    # Set when rotation deletes the file, so the row no longer promises a restorable backup.
    pruned_at: Mapped[datetime | None] = mapped_column()
