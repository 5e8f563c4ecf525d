"""The composition root: settings, the database and the key material, built once per process
and handed to services by each entry point (API app state, CLI command, MCP server)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from functools import cached_property

from mspmode.db.session import Database
from mspmode.settings import Settings
from mspmode.vault.keyfiles import read_key_bytes


@dataclass(frozen=True)
class Signer:
    """An HMAC-SHA256 key with a short public id (a hash of the key, not the key)."""

    key: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"msp-key-id:" + self.key).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


class Runtime:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database.from_settings(settings)

    def _key(self, name: str) -> bytes:
        return read_key_bytes(name, self.settings.key_path(name))

    @cached_property
    def audit_signer(self) -> Signer:
        return Signer(self._key("audit"))

    @cached_property
    def jwt_key(self) -> bytes:
        return self._key("jwt")

    @cached_property
    def pepper(self) -> Signer:
        """Keys API-key hashes and throttle keys: a database leak alone cannot test guesses."""
        return Signer(self._key("pepper"))

    def dispose(self) -> None:
        self.db.dispose()
