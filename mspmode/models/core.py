"""Core: who works (users, their API keys, their machines), for whom (clients, projects) and
when (sessions of work, the tasks left open, the tags that group them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import VERBATIM, Base, CreatedAt, Timestamps, UUIDPrimaryKey, fk, flag, one_of

ROLES = ("admin", "technician", "readonly")
CLIENT_TYPES = ("msp_client", "internal", "project")
MACHINE_TYPES = ("laptop", "desktop", "workstation", "server", "vm")
PLATFORMS = ("windows", "macos", "linux", "wsl", "other")
PROJECT_STATUSES = ("planning", "active", "on_hold", "completed", "cancelled")
SESSION_STATUSES = ("active", "completed", "interrupted", "abandoned")
PRIORITIES = ("critical", "high", "medium", "low")
TASK_STATUSES = ("pending", "in_progress", "blocked", "completed", "cancelled")
TAG_CATEGORIES = ("technology", "client", "infrastructure", "problem_type", "action", "service", "other")


class User(UUIDPrimaryKey, Timestamps, Base):
    """A person who signs in: a technician, an administrator, or a read-only auditor.

    ``client_scope`` limits the user to some clients (a list of client ids); null means all.
    """

    __tablename__ = "users"
    __table_args__ = (one_of("role", ROLES, nullable=False),)

    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255), info=VERBATIM)
    role: Mapped[str] = mapped_column(String(20), default="technician", server_default="technician")
    client_scope: Mapped[list[Any] | None] = mapped_column()
    is_active: Mapped[bool] = flag(True, index=True)
    must_change_password: Mapped[bool] = flag(False)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    # Every access and refresh token carries the value it was issued under; raising it (password
    # change, disable, role change, sign out everywhere) ends them all at once.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiKey(UUIDPrimaryKey, Timestamps, Base):
    """A long-lived credential for a hook, an agent or an MCP client on one machine.

    Only a keyed HMAC of the key is stored; ``prefix`` is the visible start that lets a person
    tell their keys apart.
    """

    __tablename__ = "api_keys"
    __table_args__ = (one_of("role", ROLES, nullable=False),)

    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(24), unique=True, info=VERBATIM)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True, info=VERBATIM)
    role: Mapped[str] = mapped_column(String(20), default="technician", server_default="technician")
    scopes: Mapped[list[Any] | None] = mapped_column()
    client_scope: Mapped[list[Any] | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    last_used_from: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)


class AuthSession(UUIDPrimaryKey, CreatedAt, Base):
    """One sign-in of a user: the family of refresh tokens rotated from one login, and the
    access tokens issued with them.

    ``generation`` counts the rotations: only the newest refresh token (the one issued at the
    current generation) is accepted, and presenting an older one again means it was copied, so
    the whole family is revoked. Sign-out, a password change, disabling the user or changing
    their role set ``revoked_at``.
    """

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", nullable=False)
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column()
    last_refreshed_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(100))
    client_address: Mapped[str | None] = mapped_column(String(64))


class Machine(UUIDPrimaryKey, Timestamps, Base):
    """A technician's workstation running an agent: where a session physically happened."""

    __tablename__ = "machines"
    __table_args__ = (
        one_of("machine_type", MACHINE_TYPES),
        one_of("platform", PLATFORMS),
    )

    hostname: Mapped[str] = mapped_column(String(255), index=True)
    machine_fingerprint: Mapped[str | None] = mapped_column(String(128), unique=True, info=VERBATIM)
    friendly_name: Mapped[str | None] = mapped_column(String(255))
    machine_type: Mapped[str | None] = mapped_column(String(20))
    platform: Mapped[str | None] = mapped_column(String(20))
    os_version: Mapped[str | None] = mapped_column(String(100))
    username: Mapped[str | None] = mapped_column(String(100))
    home_directory: Mapped[str | None] = mapped_column(String(500))
    agent: Mapped[str | None] = mapped_column(String(100))
    has_vpn_access: Mapped[bool] = flag(False)
    vpn_profiles: Mapped[list[Any] | None] = mapped_column()
    available_tools: Mapped[list[Any] | None] = mapped_column()
    mcp_servers: Mapped[list[Any] | None] = mapped_column()
    is_primary: Mapped[bool] = flag(False)
    is_active: Mapped[bool] = flag(True)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    notes: Mapped[str | None] = mapped_column(Text)


class Client(UUIDPrimaryKey, Timestamps, Base):
    """A customer of the MSP, or the MSP itself (``internal``, whose work is not billed)."""

    __tablename__ = "clients"
    __table_args__ = (one_of("client_type", CLIENT_TYPES, nullable=False),)

    name: Mapped[str] = mapped_column(String(255), unique=True)
    client_type: Mapped[str] = mapped_column(String(20), default="msp_client", server_default="msp_client")
    domain_name: Mapped[str | None] = mapped_column(String(255))
    network_subnet: Mapped[str | None] = mapped_column(String(100))
    primary_contact: Mapped[str | None] = mapped_column(String(255))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(Text)
    default_hourly_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    notes: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = flag(True, index=True)


class Project(UUIDPrimaryKey, Timestamps, Base):
    """A piece of work with an end for one client; ``local_path`` maps an agent's cwd to it."""

    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("client_id", "name"),
        one_of("status", PROJECT_STATUSES, nullable=False),
    )

    client_id: Mapped[uuid.UUID] = fk("clients.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str | None] = mapped_column(String(255), index=True)
    project_type: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active", index=True)
    description: Mapped[str | None] = mapped_column(Text)
    repository_url: Mapped[str | None] = mapped_column(String(500))
    local_path: Mapped[str | None] = mapped_column(String(1000))
    technologies: Mapped[list[Any] | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    estimated_hours: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    notes: Mapped[str | None] = mapped_column(Text)


class Session(UUIDPrimaryKey, Timestamps, Base):
    """One sitting of work: a technician, on a machine, for a client, from start to end.

    ``external_session_id`` is the agent's own session id (Claude Code's ``session_id``), so
    hooks from the same agent session land in the same row. ``billable_hours`` is the sum over
    the session's billable work items (seed 002).
    """

    __tablename__ = "sessions"
    __table_args__ = (one_of("status", SESSION_STATUSES, nullable=False),)

    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="SET NULL")
    project_id: Mapped[uuid.UUID | None] = fk("projects.id", ondelete="SET NULL")
    machine_id: Mapped[uuid.UUID | None] = fk("machines.id", ondelete="SET NULL")
    user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL")
    external_session_id: Mapped[str | None] = mapped_column(String(255), index=True)
    session_title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active", index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    is_billable: Mapped[bool] = flag(True)
    billable_hours: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"), server_default="0")
    technician: Mapped[str | None] = mapped_column(String(255))
    working_directory: Mapped[str | None] = mapped_column(String(1000))
    summary: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)


class PendingTask(UUIDPrimaryKey, Timestamps, Base):
    """Something left to do for a client: carried from one session into the next."""

    __tablename__ = "pending_tasks"
    __table_args__ = (
        one_of("priority", PRIORITIES),
        one_of("status", TASK_STATUSES, nullable=False),
    )

    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    project_id: Mapped[uuid.UUID | None] = fk("projects.id", ondelete="CASCADE")
    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    work_item_id: Mapped[uuid.UUID | None] = fk("work_items.id", ondelete="SET NULL")
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending", index=True)
    blocked_by: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[str | None] = mapped_column(String(255))
    due_date: Mapped[datetime | None] = mapped_column(index=True)
    estimated_minutes: Mapped[int | None] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column()


class Tag(UUIDPrimaryKey, CreatedAt, Base):
    """A label shared by sessions, work items and hosts ("ssl", "backup", "server_2008")."""

    __tablename__ = "tags"
    __table_args__ = (one_of("category", TAG_CATEGORIES),)

    name: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str | None] = mapped_column(String(50), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SessionTag(Base):
    """A tag on a session."""

    __tablename__ = "session_tags"

    session_id: Mapped[uuid.UUID] = fk(
        "sessions.id", ondelete="CASCADE", nullable=False, primary_key=True, index=False
    )
    tag_id: Mapped[uuid.UUID] = fk("tags.id", ondelete="CASCADE", nullable=False, primary_key=True)
