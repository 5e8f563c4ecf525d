"""Integrations: the MSP's other systems — PSA ticketing (SyncroMSP, Autotask, ConnectWise,
HaloPSA, ITFlow), MSP Backups, Zapier — how to reach them, what was exchanged with them, which
tickets a session's work belongs to (seed 003), and the notes and time waiting to be posted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import Base, CreatedAt, HasSecrets, Timestamps, UUIDPrimaryKey, fk, flag, one_of

INTEGRATION_TYPES = (
    "syncro",
    "autotask",
    "connectwise",
    "halopsa",
    "itflow",
    "msp_backups",
    "zapier",
    "other",
)
INTEGRATION_ACTIONS = ("created", "updated", "linked", "attached", "synced", "deleted")
DIRECTIONS = ("inbound", "outbound")
INTEGRATION_STATUSES = ("pending", "success", "failed")
INTEGRATION_CREDENTIAL_TYPES = ("oauth", "api_key", "basic_auth")
TEST_STATUSES = ("success", "failed")
TICKET_SYSTEMS = ("syncro", "autotask", "connectwise", "halopsa", "itflow", "other")
LINK_TYPES = ("related", "resolves", "documents")
PSA_POST_KINDS = ("note", "time")
PSA_POST_STATUSES = ("queued", "posted", "failed")


class ExternalIntegration(UUIDPrimaryKey, CreatedAt, Base):
    """One exchange with an outside system: a ticket created in the PSA, a note attached, a
    webhook received. Kept so a technician can see what was sent on the client's behalf."""

    __tablename__ = "external_integrations"
    __table_args__ = (
        one_of("integration_type", INTEGRATION_TYPES, nullable=False),
        one_of("action", INTEGRATION_ACTIONS, nullable=False),
        one_of("direction", DIRECTIONS, nullable=False),
        one_of("status", INTEGRATION_STATUSES, nullable=False),
    )

    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="SET NULL")
    work_item_id: Mapped[uuid.UUID | None] = fk("work_items.id", ondelete="SET NULL")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="SET NULL")
    user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL")
    integration_type: Mapped[str] = mapped_column(String(20), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    external_url: Mapped[str | None] = mapped_column(String(1000))
    action: Mapped[str] = mapped_column(String(20), index=True)
    direction: Mapped[str] = mapped_column(String(10), default="outbound", server_default="outbound")
    # Pending until the other side answers: a row nobody completed must not claim success.
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending", index=True)
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    request_data: Mapped[dict[str, Any] | None] = mapped_column()
    response_data: Mapped[dict[str, Any] | None] = mapped_column()
    error_message: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column()


class IntegrationCredential(HasSecrets, UUIDPrimaryKey, Timestamps, Base):
    """The MSP's own account on an outside system (its Syncro API key, its ConnectWise OAuth
    app), kept encrypted like client credentials and tested before use."""

    __tablename__ = "integration_credentials"
    __table_args__ = (
        one_of("integration_type", INTEGRATION_TYPES, nullable=False),
        one_of("credential_type", INTEGRATION_CREDENTIAL_TYPES, nullable=False),
        one_of("last_test_status", TEST_STATUSES),
    )

    integration_name: Mapped[str] = mapped_column(String(100), unique=True)
    integration_type: Mapped[str] = mapped_column(String(20), index=True)
    credential_type: Mapped[str] = mapped_column(String(20))
    api_base_url: Mapped[str | None] = mapped_column(String(500))
    # An OAuth client id identifies the app and is shown in the provider's UI: not a secret.
    oauth_client_id: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(255))
    api_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    client_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None] = mapped_column()
    scopes: Mapped[list[Any] | None] = mapped_column()
    is_active: Mapped[bool] = flag(True, index=True)
    last_tested_at: Mapped[datetime | None] = mapped_column()
    last_test_status: Mapped[str | None] = mapped_column(String(20))
    last_test_error: Mapped[str | None] = mapped_column(Text)
    # What the API needs besides secrets: a HaloPSA tenant, the PSA user time is posted as,
    # an Autotask zone found by its zone lookup. Never a secret.
    settings: Mapped[dict[str, Any] | None] = mapped_column()


class TicketLink(UUIDPrimaryKey, Timestamps, Base):
    """A ticket in the client's PSA that a session's work relates to, resolves or documents."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        # Inbound webhooks name a ticket only by system and id; this finds its sessions.
        Index(None, "integration_type", "ticket_id"),
        one_of("integration_type", TICKET_SYSTEMS, nullable=False),
        one_of("link_type", LINK_TYPES, nullable=False),
    )

    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="CASCADE")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    # Which of the MSP's PSA accounts the ticket lives in (two Autotask instances are possible).
    integration_credential_id: Mapped[uuid.UUID | None] = fk(
        "integration_credentials.id", ondelete="SET NULL"
    )
    integration_type: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[str] = mapped_column(String(100))
    ticket_number: Mapped[str | None] = mapped_column(String(50))
    ticket_subject: Mapped[str | None] = mapped_column(String(500))
    ticket_url: Mapped[str | None] = mapped_column(String(1000))
    ticket_status: Mapped[str | None] = mapped_column(String(50))
    link_type: Mapped[str] = mapped_column(String(20), default="related", server_default="related")


class PsaPost(UUIDPrimaryKey, Timestamps, Base):
    """A note or a time entry owed to a PSA ticket: posted exactly once, retried until it is.

    ``idempotency_key`` names the post (session or work item + integration + ticket + kind) and
    travels inside the posted text, so a retry after a crash finds the entry the PSA already
    has instead of posting it again.
    """

    __tablename__ = "psa_posts"
    __table_args__ = (
        one_of("integration_type", TICKET_SYSTEMS, nullable=False),
        one_of("kind", PSA_POST_KINDS, nullable=False),
        one_of("status", PSA_POST_STATUSES, nullable=False),
    )

    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    integration_credential_id: Mapped[uuid.UUID | None] = fk(
        "integration_credentials.id", ondelete="SET NULL"
    )
    ticket_link_id: Mapped[uuid.UUID | None] = fk("ticket_links.id", ondelete="SET NULL")
    session_id: Mapped[uuid.UUID | None] = fk("sessions.id", ondelete="CASCADE")
    work_item_id: Mapped[uuid.UUID | None] = fk("work_items.id", ondelete="SET NULL")
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    integration_type: Mapped[str] = mapped_column(String(20))
    ticket_number: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued", index=True)
    minutes: Mapped[int | None] = mapped_column(Integer)
    is_billable: Mapped[bool] = flag(True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the next try is due; also the lease a delivering process takes, so two syncs at once
    # never post the same row.
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(255))
    posted_at: Mapped[datetime | None] = mapped_column()
