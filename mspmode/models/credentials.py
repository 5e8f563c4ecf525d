"""Credentials: the secrets an MSP holds for its clients, who looked at them, and the security
incidents worked on.

A secret is only ever stored as ciphertext written by ``mspmode.vault``; no column here holds a
plaintext secret, so a database dump or backup leaks nothing usable without the key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import (
    Base,
    CreatedAt,
    HasSecrets,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    flag,
    now_utc,
    one_of,
    utcnow,
)

CREDENTIAL_TYPES = (
    "password",
    "api_key",
    "oauth",
    "ssh_key",
    "shared_secret",
    "jwt",
    "connection_string",
    "certificate",
    "totp",
    "other",
)
AUDIT_ACTIONS = ("create", "view", "reveal", "update", "rotate", "delete", "totp", "failed_reveal")
INCIDENT_TYPES = (
    "malware",
    "phishing",
    "data_breach",
    "unauthorized_access",
    "credential_leak",
    "ddos",
    "policy_violation",
    "vulnerability",
    "other",
)
INCIDENT_SEVERITIES = ("critical", "high", "medium", "low")
INCIDENT_STATUSES = ("detected", "investigating", "contained", "resolved", "closed")


class Credential(HasSecrets, UUIDPrimaryKey, Timestamps, Base):
    """A way in to something a client owns: an account, an API key, an SSH key, a TOTP seed.

    Everything needed to find and use it is plain (which service, which user, which URL); each
    secret part is a separate ciphertext so a reveal can be audited per field.
    """

    __tablename__ = "credentials"
    __table_args__ = (one_of("credential_type", CREDENTIAL_TYPES, nullable=False),)

    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    service_id: Mapped[uuid.UUID | None] = fk("services.id", ondelete="SET NULL")
    credential_type: Mapped[str] = mapped_column(String(30), index=True)
    service_name: Mapped[str] = mapped_column(String(255), index=True)
    username: Mapped[str | None] = mapped_column(String(255))
    # Two addresses rather than one URL and an internal/external flag: the same account is often
    # reached both from the LAN and through a public name, and splitting it in two rows would
    # duplicate the secret.
    internal_url: Mapped[str | None] = mapped_column(String(1000))
    external_url: Mapped[str | None] = mapped_column(String(1000))
    port: Mapped[int | None] = mapped_column(Integer)
    oauth_client_id: Mapped[str | None] = mapped_column(String(255))
    tenant_id: Mapped[str | None] = mapped_column(String(255))
    public_key: Mapped[str | None] = mapped_column(Text)
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    api_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    client_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    connection_string_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    private_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    requires_vpn: Mapped[bool] = flag(False)
    requires_2fa: Mapped[bool] = flag(False)
    access_level: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    last_rotated_at: Mapped[datetime | None] = mapped_column()
    is_active: Mapped[bool] = flag(True, index=True)
    notes: Mapped[str | None] = mapped_column(Text)


class CredentialAuditLog(UUIDPrimaryKey, CreatedAt, Base):
    """One access to a credential: who created, looked at, revealed, changed or deleted it,
    from where, and whether it was allowed. Never updated or deleted."""

    __tablename__ = "credential_audit_log"
    __table_args__ = (one_of("action", AUDIT_ACTIONS, nullable=False),)

    # SET NULL and a name snapshot: the audit trail must survive the credential it describes.
    credential_id: Mapped[uuid.UUID | None] = fk("credentials.id", ondelete="SET NULL")
    credential_name: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(20), index=True)
    field: Mapped[str | None] = mapped_column(String(50))
    user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL")
    # Kept as text too, so the row still says who it was after the user is deleted.
    actor_name: Mapped[str | None] = mapped_column(String(255))
    api_key_id: Mapped[uuid.UUID | None] = fk("api_keys.id", ondelete="SET NULL")
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    success: Mapped[bool] = flag(True, index=True)
    details: Mapped[str | None] = mapped_column(Text)


class SecurityIncident(UUIDPrimaryKey, Timestamps, Base):
    """A security event at a client, from detection to closure: malware, a phishing wave, a
    leaked credential, a breach."""

    __tablename__ = "security_incidents"
    __table_args__ = (
        one_of("incident_type", INCIDENT_TYPES, nullable=False),
        one_of("severity", INCIDENT_SEVERITIES, nullable=False),
        one_of("status", INCIDENT_STATUSES, nullable=False),
    )

    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    infrastructure_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    related_credential_id: Mapped[uuid.UUID | None] = fk("credentials.id", ondelete="SET NULL")
    incident_type: Mapped[str] = mapped_column(String(30), index=True)
    severity: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="detected", server_default="detected", index=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    affected_systems: Mapped[list[Any] | None] = mapped_column()
    findings: Mapped[str | None] = mapped_column(Text)
    remediation_steps: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=now_utc(), index=True)
    contained_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    reported_by: Mapped[str | None] = mapped_column(String(255))
    assigned_to: Mapped[str | None] = mapped_column(String(255))
