"""The composition root: settings, the database and the key material, built once per process
and handed to services by each entry point (API app state, CLI command, MCP server)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mspmode.db.session import Database
from mspmode.settings import Settings, display_url
from mspmode.vault.crypto import Keyring
from mspmode.vault.keyfiles import read_key_bytes
from mspmode.vault.known import KNOWN_SECRETS_PURPOSE, KnownSecrets

if TYPE_CHECKING:
    from mspmode.services.learning.state import LearningState

# In MSP_HOME: the newest audit chain head this machine saw of each database (services/audit.py).
ANCHOR_FILE = "audit-anchor.json"


@dataclass(frozen=True)
class Signer:
    """An HMAC-SHA256 key with a short public id (a hash of the key, not the key)."""

    key: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"msp-key-id:" + self.key).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """Where this machine keeps the newest audit head it has seen of one database."""

    path: Path
    database: str


@dataclass(frozen=True)
class AuditKey(Signer):
    """The audit key, and this machine's anchor for the database it writes to."""

    anchor: Anchor | None = None


KNOWN_SECRETS_RECHECK_S = 5.0


class LearningStore:
    """What one runtime learned, in memory: one ``LearningState`` per client scope (``None``:
    everything), and the lock every use of them holds (the engine's memory is not
    thread-safe). Owned by its :class:`Runtime`, so two runtimes in one process (tests, a
    server and its CLI) never share a state. ``persist``: the unscoped state is loaded from and
    saved to the one store on disk (``services/learning/cache.py``)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.states: dict[frozenset[uuid.UUID] | None, LearningState] = {}
        self.persist = False


class Runtime:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database.from_settings(settings)
        self._known_stamp: tuple[object, ...] = ()
        self._known_checked = 0.0
        # Every text written to the database is redacted with the vault's secrets too.
        self.db.redactor.known = lambda: self.known_secrets
        # Set by the local service (mspmode/localservice.py): its token file's secret, taken
        # as this machine's own user.
        self.local_token: str | None = None
        # Made here, not on first use: two threads' first uses must find the same lock.
        self.learning = LearningStore()

    def _key(self, name: str) -> bytes:
        return read_key_bytes(name, self.settings.key_path(name))

    @cached_property
    def audit_signer(self) -> AuditKey:
        """The audit key, with this machine's anchor of the database's chain."""
        return AuditKey(self._key("audit"), anchor=self.audit_anchor)

    @cached_property
    def audit_anchor(self) -> Anchor:
        """Where this machine keeps the newest audit head it saw of this database (MSP_HOME)."""
        return Anchor(self.settings.home / ANCHOR_FILE, display_url(self.db.url))

    @cached_property
    def jwt_key(self) -> bytes:
        return self._key("jwt")

    @cached_property
    def pepper(self) -> Signer:
        """Keys API-key hashes and throttle keys: a database leak alone cannot test guesses."""
        return Signer(self._key("pepper"))

    @cached_property
    def keyring(self) -> Keyring:
        """The vault keyring; follows the key file when another process rotates it."""
        return Keyring.load(self.settings.key_path("vault"))

    def reload_keyring(self) -> None:
        self.__dict__.pop("keyring", None)
        self.__dict__.pop("_known", None)

    @cached_property
    def _known(self) -> KnownSecrets:
        from mspmode.services.credentials import all_plaintexts, vault_stamp

        self._known_stamp = vault_stamp(self)
        self._known_checked = time.monotonic()
        return KnownSecrets(self.keyring.derive_key(KNOWN_SECRETS_PURPOSE), all_plaintexts(self))

    @property
    def known_secrets(self) -> KnownSecrets | None:
        """Keyed hashes of every secret stored in the vault (no plaintext kept), so captured
        text that contains one verbatim is redacted even when no rule knows its shape. Built
        on first use by decrypting the vault, and rebuilt when another process changed the
        vault (checked at most every few seconds); None when there is no vault key yet."""
        if not self.settings.key_path("vault").exists():
            return None
        known = self._known
        if time.monotonic() - self._known_checked > KNOWN_SECRETS_RECHECK_S:
            from mspmode.services.credentials import vault_stamp

            self._known_checked = time.monotonic()
            if vault_stamp(self) != self._known_stamp:
                self.__dict__.pop("_known", None)
                known = self._known
        return known

    def remember_secret(self, plaintext: str) -> None:
        """Add a secret just written to the vault to this process's redactor."""
        if "_known" in self.__dict__:
            self._known.add(plaintext)

    def dispose(self) -> None:
        self.db.dispose()
