"""Infrastructure: what the MSP looks after for each client — the sites, the hosts and what makes
each host different (the traits the learning engine generalises by), the services they run and
how those depend on each other, the networks and firewall rules, and the Microsoft 365 tenants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from mspmode.db.base import Base, Timestamps, UUIDPrimaryKey, between, fk, flag, one_of

SITE_TYPES = ("office", "datacenter", "colocation", "cloud", "home_office", "other")
ASSET_TYPES = (
    "physical_server",
    "virtual_machine",
    "container",
    "hypervisor",
    "cloud_instance",
    "network_device",
    "firewall",
    "router",
    "switch",
    "wireless_access_point",
    "nas",
    "workstation",
    "laptop",
    "printer",
    "appliance",
    "other",
)
INFRASTRUCTURE_STATUSES = (
    "active",
    "inactive",
    "maintenance",
    "migration_source",
    "migration_destination",
    "decommissioned",
)
SERVICE_TYPES = (
    "web",
    "database",
    "dns",
    "dhcp",
    "directory",
    "file_share",
    "email",
    "vpn",
    "proxy",
    "remote_access",
    "backup",
    "monitoring",
    "container_runtime",
    "virtualization",
    "print",
    "application",
    "other",
)
SERVICE_STATUSES = ("running", "stopped", "degraded", "error", "maintenance", "unknown")
SERVICE_RELATIONSHIP_TYPES = (
    "depends_on",
    "hosted_on",
    "proxied_by",
    "authenticates_via",
    "backend_for",
    "replicates_to",
    "backs_up_to",
    "monitored_by",
)
NETWORK_TYPES = (
    "lan",
    "wan",
    "vlan",
    "vpn",
    "dmz",
    "guest",
    "management",
    "storage",
    "wireless",
    "cloud",
    "isolated",
    "other",
)
FIREWALL_ACTIONS = ("allow", "deny", "drop", "reject", "nat")
FIREWALL_DIRECTIONS = ("inbound", "outbound", "both")
FIREWALL_PROTOCOLS = ("tcp", "udp", "tcp_udp", "icmp", "any", "other")


class Site(UUIDPrimaryKey, Timestamps, Base):
    """A place where a client has equipment: an office, a rack in a data centre, a cloud region."""

    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("client_id", "name"),
        one_of("site_type", SITE_TYPES),
    )

    client_id: Mapped[uuid.UUID] = fk("clients.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    site_type: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(Text)
    # IANA zone name: maintenance windows and "after hours" are the site's local time.
    timezone: Mapped[str | None] = mapped_column(String(64))
    network_subnet: Mapped[str | None] = mapped_column(String(100))
    vpn_required: Mapped[bool] = flag(False)
    vpn_subnet: Mapped[str | None] = mapped_column(String(100))
    gateway_ip: Mapped[str | None] = mapped_column(String(45))
    dns_servers: Mapped[list[Any] | None] = mapped_column()
    is_active: Mapped[bool] = flag(True, index=True)
    notes: Mapped[str | None] = mapped_column(Text)


class Infrastructure(UUIDPrimaryKey, Timestamps, Base):
    """A host the MSP works on: a server, VM, container, NAS, firewall, workstation or DOS box.

    The typed columns are the traits every pre-check consults (OS and version, shell, PowerShell
    version, init system, package manager); ``traits`` keeps whatever else an import or a
    technician recorded (``busybox``, ``database``…), so generalising by traits needs no
    migration for a new one. ``is_auto_created`` marks a host first met as a command's target
    (``ssh user@ip``) rather than entered by a person.
    """

    __tablename__ = "infrastructure"
    __table_args__ = (
        # Per client, not global: two clients can both have a "DC01".
        UniqueConstraint("client_id", "hostname"),
        one_of("asset_type", ASSET_TYPES),
        one_of("status", INFRASTRUCTURE_STATUSES, nullable=False),
        # "Every Server 2008 host": how traits are generalised, and how technicians list hosts.
        Index(None, "os", "os_version"),
    )

    # Nullable so a host seen only in a command can be recorded before anyone assigns it.
    client_id: Mapped[uuid.UUID | None] = fk("clients.id", ondelete="CASCADE")
    site_id: Mapped[uuid.UUID | None] = fk("sites.id", ondelete="SET NULL")
    # The hypervisor of a VM, the Docker host of a container.
    parent_host_id: Mapped[uuid.UUID | None] = fk("infrastructure.id", ondelete="SET NULL")
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    fqdn: Mapped[str | None] = mapped_column(String(255), index=True)
    # 45 characters hold the longest textual IPv6 address (IPv4-mapped form).
    ip_address: Mapped[str | None] = mapped_column(String(45), index=True)
    mac_address: Mapped[str | None] = mapped_column(String(17))
    aliases: Mapped[list[Any] | None] = mapped_column()
    asset_type: Mapped[str | None] = mapped_column(String(30), index=True)
    role: Mapped[str | None] = mapped_column(String(255))
    os: Mapped[str | None] = mapped_column(String(100))
    os_version: Mapped[str | None] = mapped_column(String(100))
    # Free text, not a CHECK: imports bring shells (ash, mysql, RouterOS…) no list foresees.
    shell_type: Mapped[str | None] = mapped_column(String(50))
    powershell_version: Mapped[str | None] = mapped_column(String(20))
    init_system: Mapped[str | None] = mapped_column(String(50))
    package_manager: Mapped[str | None] = mapped_column(String(50))
    traits: Mapped[dict[str, Any] | None] = mapped_column()
    limitations: Mapped[list[Any] | None] = mapped_column()
    environmental_notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30), default="active", server_default="active", index=True)
    is_auto_created: Mapped[bool] = flag(False)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    notes: Mapped[str | None] = mapped_column(Text)


class Service(UUIDPrimaryKey, Timestamps, Base):
    """Something a host serves: a website, a database, a file share, DNS, a VPN endpoint."""

    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("infrastructure_id", "name"),
        one_of("service_type", SERVICE_TYPES),
        one_of("status", SERVICE_STATUSES, nullable=False),
        between("port", 1, 65535),
    )

    infrastructure_id: Mapped[uuid.UUID] = fk("infrastructure.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    service_type: Mapped[str | None] = mapped_column(String(30), index=True)
    port: Mapped[int | None] = mapped_column(Integer)
    # Application protocol as people name it (https, smb, ldaps), so free text.
    protocol: Mapped[str | None] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(String(500))
    internal_url: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[str | None] = mapped_column(String(100))
    config_path: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20), default="running", server_default="running", index=True)
    notes: Mapped[str | None] = mapped_column(Text)


class ServiceRelationship(UUIDPrimaryKey, Timestamps, Base):
    """How one service leans on another: the web app behind a reverse proxy, an app on its
    database, a DC replicating to its partner — what else breaks when this one does."""

    __tablename__ = "service_relationships"
    __table_args__ = (
        UniqueConstraint("from_service_id", "to_service_id", "relationship_type"),
        one_of("relationship_type", SERVICE_RELATIONSHIP_TYPES, nullable=False),
        CheckConstraint("from_service_id <> to_service_id", name="not_self"),
    )

    from_service_id: Mapped[uuid.UUID] = fk("services.id", ondelete="CASCADE", nullable=False)
    to_service_id: Mapped[uuid.UUID] = fk("services.id", ondelete="CASCADE", nullable=False)
    relationship_type: Mapped[str] = mapped_column(String(30), index=True)
    notes: Mapped[str | None] = mapped_column(Text)


class Network(UUIDPrimaryKey, Timestamps, Base):
    """An IP network of a client: an office LAN, a VLAN, a site-to-site VPN, a DMZ."""

    __tablename__ = "networks"
    __table_args__ = (
        one_of("network_type", NETWORK_TYPES),
        between("vlan_id", 1, 4094),
    )

    client_id: Mapped[uuid.UUID] = fk("clients.id", ondelete="CASCADE", nullable=False)
    site_id: Mapped[uuid.UUID | None] = fk("sites.id", ondelete="SET NULL")
    name: Mapped[str] = mapped_column(String(255))
    network_type: Mapped[str | None] = mapped_column(String(20), index=True)
    # Not unique per client: unconnected sites often reuse the same private range.
    cidr: Mapped[str] = mapped_column(String(50), index=True)
    vlan_id: Mapped[int | None] = mapped_column(Integer)
    gateway: Mapped[str | None] = mapped_column(String(45))
    dns_servers: Mapped[list[Any] | None] = mapped_column()
    dns_suffix: Mapped[str | None] = mapped_column(String(255))
    dhcp_range: Mapped[str | None] = mapped_column(String(100))
    is_active: Mapped[bool] = flag(True)
    notes: Mapped[str | None] = mapped_column(Text)


class FirewallRule(UUIDPrimaryKey, Timestamps, Base):
    """A rule on a client's firewall: the documented reason a port is open (or closed)."""

    __tablename__ = "firewall_rules"
    __table_args__ = (
        one_of("action", FIREWALL_ACTIONS, nullable=False),
        one_of("direction", FIREWALL_DIRECTIONS),
        one_of("protocol", FIREWALL_PROTOCOLS),
    )

    infrastructure_id: Mapped[uuid.UUID] = fk("infrastructure.id", ondelete="CASCADE", nullable=False)
    rule_name: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(10), default="allow", server_default="allow")
    direction: Mapped[str | None] = mapped_column(String(10))
    interface: Mapped[str | None] = mapped_column(String(100))
    # Addresses, CIDRs or the firewall's own aliases ("LAN net", "any"), as the device shows them.
    source: Mapped[str | None] = mapped_column(String(255))
    destination: Mapped[str | None] = mapped_column(String(255))
    protocol: Mapped[str | None] = mapped_column(String(10))
    # Text, not an integer: rules name ranges and lists ("1000-2000", "80,443").
    ports: Mapped[str | None] = mapped_column(String(100))
    rule_order: Mapped[int | None] = mapped_column(Integer)
    is_enabled: Mapped[bool] = flag(True)
    description: Mapped[str | None] = mapped_column(Text)


class M365Tenant(UUIDPrimaryKey, Timestamps, Base):
    """A client's Microsoft 365 / Entra ID tenant.

    Identification and contacts only: app secrets and admin passwords live in credentials.
    """

    __tablename__ = "m365_tenants"

    client_id: Mapped[uuid.UUID] = fk("clients.id", ondelete="CASCADE", nullable=False)
    # Microsoft's directory id, a GUID, not a key of ours.
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    tenant_name: Mapped[str | None] = mapped_column(String(255))
    default_domain: Mapped[str | None] = mapped_column(String(255), index=True)
    # The *.onmicrosoft.com name never changes, unlike the default domain.
    initial_domain: Mapped[str | None] = mapped_column(String(255))
    verified_domains: Mapped[list[Any] | None] = mapped_column()
    admin_contact_name: Mapped[str | None] = mapped_column(String(255))
    admin_contact_email: Mapped[str | None] = mapped_column(String(255))
    cipp_name: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = flag(True)
    notes: Mapped[str | None] = mapped_column(Text)


class InfrastructureTag(Base):
    """A tag on a host."""

    __tablename__ = "infrastructure_tags"

    infrastructure_id: Mapped[uuid.UUID] = fk(
        "infrastructure.id", ondelete="CASCADE", nullable=False, primary_key=True, index=False
    )
    tag_id: Mapped[uuid.UUID] = fk("tags.id", ondelete="CASCADE", nullable=False, primary_key=True)
