"""Key rotation, in three steps a caller can stop and resume at any point:

1. ``add_key`` writes a new random key into the keyring file and makes it active, keeping every
   old key. From then on new secrets are encrypted under it; old blobs still decrypt.
2. ``reencrypt`` each stored blob. A blob already under the active key is returned as it is, so
   running the pass again after an interruption only does what is left, and a blob is never
   encrypted twice. A blob whose key is missing or that fails authentication raises
   DecryptionError before anything is written.
3. ``retire_old`` drops the old keys, and refuses while ``keys_in_use`` (over every stored blob)
   names any key but the active one.

The keyring file is rewritten atomically (0600, fsync-ed, renamed over the old one) under a lock
file, so two rotations cannot each add a key and lose the other's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mspmode.errors import VaultError
from mspmode.vault.crypto import KEY_SIZE, Keyring, RowId, key_id_of
from mspmode.vault.keyfiles import read_vault_keyring, write_vault_keyring

_NUMBERED = re.compile(r"k(\d+)")


def add_key(path: Path) -> str:
    """Add a fresh random key to the keyring at ``path``, make it active, keep the old ones;
    return its id (``k<n+1>``)."""
    with _locked(path):
        _, keys = read_vault_keyring(path)
        numbers = [int(m.group(1)) for kid in keys if (m := _NUMBERED.fullmatch(kid))]
        n = max(numbers, default=len(keys)) + 1
        while f"k{n}" in keys:
            n += 1
        new_id = f"k{n}"
        write_vault_keyring(path, new_id, {**keys, new_id: os.urandom(KEY_SIZE)})
    return new_id


def reencrypt(blob: bytes, keyring: Keyring, *, table: str, row_id: RowId, field: str) -> bytes:
    """``blob`` under the keyring's active key: the same bytes if it already is, otherwise
    decrypted with its own key and encrypted afresh (checked to decrypt before it is returned)."""
    if not keyring.needs_rotation(blob):
        return blob
    plaintext = keyring.decrypt(blob, table=table, row_id=row_id, field=field)
    fresh = keyring.encrypt(plaintext, table=table, row_id=row_id, field=field)
    if keyring.decrypt(fresh, table=table, row_id=row_id, field=field) != plaintext:
        raise VaultError(f"re-encrypting {table}.{field} did not round-trip; the old blob is kept")
    return fresh


def keys_in_use(blobs: Iterable[bytes | None]) -> set[str]:
    """The key ids the given blobs are encrypted under (None, an empty column, is skipped).
    A value that is not a vault blob raises DecryptionError: we cannot tell what it needs."""
    return {key_id_of(blob) for blob in blobs if blob is not None}


def retire_old(path: Path, in_use_key_ids: Iterable[str]) -> list[str]:
    """Remove every key but the active one from the keyring at ``path``; return the retired ids.

    ``in_use_key_ids`` is ``keys_in_use`` over every stored blob. While it names a key other
    than the active one, nothing is changed and VaultError says which keys and what to do.
    """
    in_use = set(in_use_key_ids)
    with _locked(path):
        active, keys = read_vault_keyring(path)
        stale = sorted(in_use - {active})
        if stale:
            unknown = [kid for kid in stale if kid not in keys]
            missing = f" ({', '.join(unknown)} not even in the keyring)" if unknown else ""
            raise VaultError(
                f"cannot retire old vault keys: stored secrets still use {', '.join(stale)}{missing}; "
                f"finish the rotation to {active} first"
            )
        retired = sorted(kid for kid in keys if kid != active)
        if retired:
            write_vault_keyring(path, active, {active: keys[active]})
    return retired


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # A lock file rather than flock: it works on every platform a technician runs, and a stale
    # one (a crash in the milliseconds a rewrite takes) is removed by hand, as the error says.
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise VaultError(
            f"another vault key change holds the lock {lock}; if none is running, delete that file"
        ) from None
    os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
