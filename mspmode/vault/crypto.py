"""Encryption of secret fields: AES-256-GCM under a versioned keyring.

Every secret is stored as one self-describing blob, bytes for a LargeBinary column::

    b"MSV"      3   marks a vault blob (and lets ``encrypt`` refuse to encrypt one twice)
    version     1   blob format, 1
    id length   1   length of the key id, 1..64
    key id      n   ASCII id of the keyring key that encrypted it ("k1", "k2", ...)
    nonce      12   random per encryption, never reused with a key
    ciphertext      AES-GCM ciphertext followed by its 16-byte tag

The associated data is the header above plus the table, row id and field the blob belongs to,
so a blob copied to another row, field or table, or relabelled with another key id, fails
authentication instead of decrypting there. Random 96-bit nonces are safe for far more than
the 2**32 encryptions per key NIST allows before a rotation is due; an MSP's vault does not
come near that.

Errors name the key id, the table, field and row, never the plaintext or key material.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mspmode.errors import DecryptionError, VaultError
from mspmode.vault.keyfiles import read_vault_keyring

MAGIC = b"MSV"
FORMAT_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

RowId = uuid.UUID | str | int


def key_id_of(blob: bytes) -> str:
    """The id of the key that encrypted ``blob``; DecryptionError if it is not a vault blob."""
    return _parse(blob)[0]


class Keyring:
    """The vault keys: every key a stored secret may still use, and the active one new
    encryptions use. Loaded from the keyring file, it follows the file: after another process
    rotated the keys, the next encryption uses the new active key and blobs under it decrypt."""

    def __init__(self, keys: Mapping[str, bytes], active: str, *, path: Path | None = None) -> None:
        self._path = path
        self._stamp: tuple[int, int, int] | None = None
        self._state = _State.of(keys, active)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """The keyring of the vault key file at ``path`` (SecretFileError if unusable)."""
        stamp = _stamp(path)
        active, keys = read_vault_keyring(path)
        keyring = cls(keys, active, path=path)
        keyring._stamp = stamp
        return keyring

    @classmethod
    def generate(cls, key_id: str = "k1") -> Keyring:
        """A fresh in-memory keyring of one random key (tests, benchmarks, throwaway vaults)."""
        return cls({key_id: os.urandom(KEY_SIZE)}, key_id)

    @property
    def active_key_id(self) -> str:
        self._refresh()
        return self._state.active

    @property
    def key_ids(self) -> tuple[str, ...]:
        self._refresh()
        return tuple(self._state.ciphers)

    def __repr__(self) -> str:
        return f"Keyring(active={self._state.active!r}, keys={list(self._state.ciphers)!r})"

    def encrypt(self, plaintext: bytes | str, *, table: str, row_id: RowId, field: str) -> bytes:
        """A blob of ``plaintext`` under the active key, bound to ``table``/``row_id``/``field``."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else bytes(plaintext)
        if _looks_like_blob(data):
            # Re-encrypting a blob as if it were a secret would hide the secret under two layers
            # that no reader unwraps: refuse rather than store something undecryptable.
            raise VaultError(f"refusing to encrypt {table}.{field}: the value is already a vault blob")
        self._refresh()
        state = self._state
        key_id, cipher = state.active, state.ciphers[state.active]
        header = _header(key_id)
        nonce = os.urandom(NONCE_SIZE)
        sealed = cipher.encrypt(nonce, data, _associated_data(header, table, row_id, field))
        return header + nonce + sealed

    def decrypt(self, blob: bytes, *, table: str, row_id: RowId, field: str) -> bytes:
        """The plaintext of ``blob``, which must have been written for this table, row and field."""
        where = f"{table}.{field} of row {_row_key(row_id)}"
        key_id, header, nonce, sealed = _parse(blob, where)
        cipher = self._cipher(key_id, where)
        try:
            return cipher.decrypt(nonce, sealed, _associated_data(header, table, row_id, field))
        except InvalidTag:
            raise DecryptionError(
                f"cannot decrypt {where}: it fails authentication under vault key {key_id!r} "
                "(tampered with, truncated, copied from another row or field, or the keyring's "
                f"{key_id!r} is not the key it was written with)",
                key_id=key_id,
            ) from None

    def needs_rotation(self, blob: bytes) -> bool:
        """True unless ``blob`` is already under the active key (DecryptionError if not a blob)."""
        return key_id_of(blob) != self.active_key_id

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (HKDF-SHA256 of the active key), e.g. the HMAC key of
        the known-secrets redactor. It changes when the active key does; whatever was keyed
        with it is rebuilt then."""
        self._refresh()
        state = self._state
        return _hkdf_sha256(state.keys[state.active], salt=b"mspmode vault", info=purpose.encode("utf-8"))

    def _refresh(self) -> bool:
        if self._path is None:
            return False
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return False
        active, keys = read_vault_keyring(self._path)
        # One assignment, so a thread encrypting meanwhile sees the old keyring or the new one.
        self._state = _State.of(keys, active)
        self._stamp = stamp
        return True

    def _cipher(self, key_id: str, where: str) -> AESGCM:
        cipher = self._state.ciphers.get(key_id)
        if cipher is None and self._refresh():
            cipher = self._state.ciphers.get(key_id)
        if cipher is None:
            source = f"the keyring {self._path}" if self._path else "the keyring"
            raise DecryptionError(
                f"cannot decrypt {where}: vault key {key_id!r} is not in {source} "
                f"(it holds {', '.join(sorted(self._state.ciphers))}); restore the key file that has "
                f"{key_id!r} from a backup",
                key_id=key_id,
            )
        return cipher


class _State(NamedTuple):
    active: str
    keys: dict[str, bytes]
    ciphers: dict[str, AESGCM]

    @classmethod
    def of(cls, keys: Mapping[str, bytes], active: str) -> _State:
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise VaultError(f"vault key id {key_id!r} is not 1-64 letters, digits, '_', '.' or '-'")
            if len(key) != KEY_SIZE:
                raise VaultError(f"vault key {key_id!r} is not {KEY_SIZE} bytes")
        if active not in keys:
            raise VaultError(f"the active vault key {active!r} is not in the keyring")
        return cls(active, dict(keys), {key_id: AESGCM(key) for key_id, key in keys.items()})


def _header(key_id: str) -> bytes:
    raw = key_id.encode("ascii")
    return MAGIC + bytes([FORMAT_VERSION, len(raw)]) + raw


def _parse(blob: bytes, where: str = "the value") -> tuple[str, bytes, bytes, bytes]:
    """(key id, header, nonce, ciphertext+tag) of a blob, or DecryptionError."""
    data = bytes(blob) if isinstance(blob, bytes | bytearray | memoryview) else b""
    if len(data) < len(MAGIC) + 2 or not data.startswith(MAGIC):
        raise DecryptionError(f"cannot decrypt {where}: it is not a vault blob")
    if data[3] != FORMAT_VERSION:
        raise DecryptionError(f"cannot decrypt {where}: vault blob format {data[3]} is not supported")
    end = 5 + data[4]
    try:
        key_id = data[5:end].decode("ascii")
    except UnicodeDecodeError:
        key_id = ""
    if not _KEY_ID.fullmatch(key_id):
        raise DecryptionError(f"cannot decrypt {where}: the vault blob's key id is damaged")
    if len(data) < end + NONCE_SIZE + TAG_SIZE:
        raise DecryptionError(
            f"cannot decrypt {where}: the vault blob under key {key_id!r} is truncated", key_id=key_id
        )
    return key_id, data[:end], data[end : end + NONCE_SIZE], data[end + NONCE_SIZE :]


def _looks_like_blob(data: bytes) -> bool:
    try:
        _parse(data)
    except DecryptionError:
        return False
    return True


def _row_key(row_id: RowId) -> str:
    # One spelling per row: a UUID given as an object, in upper case or without dashes binds
    # the same as its canonical text, and 42 the same as "42".
    if isinstance(row_id, uuid.UUID):
        return str(row_id)
    if isinstance(row_id, bool) or not isinstance(row_id, str | int):
        raise TypeError(f"a row id is a UUID, str or int, not {type(row_id).__name__}")
    if isinstance(row_id, int):
        return str(row_id)
    try:
        return str(uuid.UUID(row_id))
    except ValueError:
        return row_id


def _associated_data(header: bytes, table: str, row_id: RowId, field: str) -> bytes:
    if not table or not field:
        raise ValueError("a vault secret needs its table and field")
    parts = [header]
    for part in (table, _row_key(row_id), field):
        raw = part.encode("utf-8")
        # Length-prefixed, so ("ab", "c") and ("a", "bc") can never bind alike.
        parts.append(len(raw).to_bytes(4, "big") + raw)
    return b"".join(parts)


def _stamp(path: Path) -> tuple[int, int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0, 0)  # read_vault_keyring reports the missing file with the fix
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    # RFC 5869 with the standard library, so deriving a key costs no heavy import.
    prk = hmac.digest(salt, ikm, hashlib.sha256)
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hashlib.sha256)
        out += block
        counter += 1
    return out[:length]
