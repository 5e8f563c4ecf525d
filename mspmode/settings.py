"""Configuration: the one place that reads the environment (prefix ``MSP_``).

Defaults give a solo technician a working setup with nothing to configure: everything lives
under ``MSP_HOME`` (the user data dir, ``~/.local/share/mspmode`` on Linux), the database is an
SQLite file there, and the generated secrets sit beside it as 0600 files, never in the
database. A team points ``MSP_DATABASE_URL`` at PostgreSQL or MariaDB and shares the key files.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from mspmode.errors import ConfigError

# The drivers we ship and test. A bare "postgresql://" or "mysql://" would make SQLAlchemy
# pick a driver we do not install (psycopg2, mysqlclient), so those are mapped to ours.
_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "mariadb+pymysql": "mariadb+pymysql",
}
# How long a write waits for another writer before it fails as busy: long enough for another
# process's ordinary work (a command recorded, an import of a day's history) to finish.
DEFAULT_BUSY_TIMEOUT_MS = 30_000
SUPPORTED_SCHEMES = (
    "sqlite:///PATH, postgresql+psycopg://USER:PASS@HOST/DB, mysql+pymysql://… or mariadb+pymysql://…"
)


def _default_home() -> Path:
    return platformdirs.user_data_path("mspmode", appauthor=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MSP_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Config and data directory.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in home.")
    vault_key_file: Path | None = Field(default=None, description="Vault keyring; default: home/vault.key.")
    jwt_key_file: Path | None = Field(default=None, description="JWT signing key; default: home/jwt.key.")
    audit_key_file: Path | None = Field(default=None, description="Audit HMAC key; default: home/audit.key.")
    pepper_key_file: Path | None = Field(
        default=None, description="API-key pepper; default: home/pepper.key."
    )
    host: str = Field(default="127.0.0.1", description="Address `msp serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `msp serve` listens on.")
    allowed_hosts: str | None = Field(
        default=None,
        description="Host names the API answers to, comma-separated (`*.example.com`, `*` for any); "
        "default: any, except that a request arriving on loopback must name a loopback host.",
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest request body an ordinary API route reads; batch routes declare more.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=DEFAULT_BUSY_TIMEOUT_MS,
        ge=0,
        description="How long a write waits for another writer's lock, in ms: SQLite's busy "
        "timeout, and PostgreSQL's lock_timeout / MariaDB's innodb_lock_wait_timeout.",
    )
    log_level: str = Field(default="info")
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Addresses or networks (comma-separated) of the reverse proxies whose X-Forwarded-For "
            "or Forwarded header names the client; from anyone else those headers are ignored."
        ),
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        proxies = tuple(str(item).strip() for item in items if str(item).strip())
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network") from None
        return proxies

    @cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)

    @property
    def default_database_path(self) -> Path:
        return self.home / "msp.db"

    @cached_property
    def db_url(self) -> URL:
        """The database URL, validated and with our driver for its backend."""
        return parse_database_url(self.database_url or f"sqlite:///{self.default_database_path}")

    def key_path(self, name: str) -> Path:
        """Where the named secret lives: ``vault``, ``jwt``, ``audit`` or ``pepper``."""
        explicit = {
            "vault": self.vault_key_file,
            "jwt": self.jwt_key_file,
            "audit": self.audit_key_file,
            "pepper": self.pepper_key_file,
        }[name]
        return explicit or self.home / f"{name}.key"


def parse_database_url(raw: str) -> URL:
    """Validate a database URL and pin its driver; raise ConfigError with one clear line."""
    raw = raw.strip()
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        # The raw text may hold a password: show only the scheme part.
        scheme = raw.split("://", 1)[0] if "://" in raw else "?"
        raise ConfigError(
            f"MSP_DATABASE_URL is not a database URL (scheme {scheme!r}); expected {SUPPORTED_SCHEMES}"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError(
            f"MSP_DATABASE_URL scheme {url.drivername!r} is not supported; expected {SUPPORTED_SCHEMES}"
        )
    url = url.set(drivername=driver)
    if driver == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError("MSP_DATABASE_URL must name an SQLite file (sqlite:///PATH), not memory")
    elif not url.host or not url.database:
        raise ConfigError(
            f"MSP_DATABASE_URL {url.render_as_string(hide_password=True)} needs a host and a database name"
        )
    return url


def display_url(url: URL) -> str:
    """A URL safe to print or log: the password is never shown."""
    return url.render_as_string(hide_password=True)
