"""Key rotation: add a key, re-encrypt resumably, retire old keys only when nothing uses them."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import pytest

from mspmode.errors import DecryptionError, SecretFileError, VaultError
from mspmode.vault.crypto import Keyring, key_id_of
from mspmode.vault.keyfiles import ensure_key_file, read_vault_keyring
from mspmode.vault.rotation import add_key, keys_in_use, reencrypt, retire_old

FIELDS = ("password_encrypted", "api_key_encrypted", "totp_secret_encrypted")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault.key"
    ensure_key_file("vault", path)
    return path


def make_vault(keyring: Keyring, rows: int = 20) -> dict[tuple[uuid.UUID, str], tuple[bytes, bytes]]:
    """(row id, field) -> (plaintext, blob): a stand-in for the credentials table."""
    vault = {}
    for n in range(rows):
        row = uuid.uuid4()
        field = FIELDS[n % len(FIELDS)]
        plaintext = f"secret-{n}-{row.hex[:6]}".encode()
        vault[row, field] = (
            plaintext,
            keyring.encrypt(plaintext, table="credentials", row_id=row, field=field),
        )
    return vault


def rotate(
    vault: dict[tuple[uuid.UUID, str], tuple[bytes, bytes]], keyring: Keyring, limit: int | None = None
) -> int:
    """Re-encrypt up to ``limit`` blobs in place; return how many changed."""
    changed = 0
    for n, ((row, field), (plaintext, blob)) in enumerate(list(vault.items())):
        if limit is not None and n >= limit:
            break
        fresh = reencrypt(blob, keyring, table="credentials", row_id=row, field=field)
        if fresh is not blob:
            vault[row, field] = (plaintext, fresh)
            changed += 1
    return changed


def test_add_key_keeps_old_keys_and_makes_the_new_one_active(key_file: Path) -> None:
    before = read_vault_keyring(key_file)
    assert add_key(key_file) == "k2"
    active, keys = read_vault_keyring(key_file)
    assert active == "k2"
    assert keys["k1"] == before[1]["k1"] and len(keys["k2"]) == 32 and keys["k2"] != keys["k1"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["vault.key"]  # no temp or lock file left
    assert json.loads(key_file.read_text())["format"] == 1
    assert add_key(key_file) == "k3"


def test_rotation_interrupted_and_resumed_loses_nothing_and_never_double_encrypts(key_file: Path) -> None:
    vault = make_vault(Keyring.load(key_file))
    assert keys_in_use(blob for _, blob in vault.values()) == {"k1"}

    add_key(key_file)
    assert rotate(vault, Keyring.load(key_file), limit=len(vault) // 2) == len(vault) // 2
    # The process stops here; a new one loads the keyring and runs the whole pass again.
    halfway = dict(vault)
    assert keys_in_use(blob for _, blob in vault.values()) == {"k1", "k2"}

    resumed = Keyring.load(key_file)
    assert rotate(vault, resumed) == len(vault) - len(vault) // 2
    for key, (_, blob) in halfway.items():
        if key_id_of(blob) == "k2":
            assert vault[key][1] is blob  # already rotated: left exactly as it was

    assert keys_in_use(blob for _, blob in vault.values()) == {"k2"}
    assert rotate(vault, resumed) == 0  # a third pass has nothing to do
    for (row, field), (plaintext, blob) in vault.items():
        # Decrypts in one step to the original: not a blob wrapped in another blob.
        assert resumed.decrypt(blob, table="credentials", row_id=row, field=field) == plaintext


def test_retire_is_refused_while_any_blob_uses_an_old_key(key_file: Path) -> None:
    vault = make_vault(Keyring.load(key_file))
    add_key(key_file)
    rotate(vault, Keyring.load(key_file), limit=5)
    before = key_file.read_bytes()
    with pytest.raises(VaultError, match=r"still use k1; finish the rotation to k2"):
        retire_old(key_file, keys_in_use(blob for _, blob in vault.values()))
    assert key_file.read_bytes() == before

    rotate(vault, Keyring.load(key_file))
    assert retire_old(key_file, keys_in_use(blob for _, blob in vault.values())) == ["k1"]
    active, keys = read_vault_keyring(key_file)
    assert active == "k2" and set(keys) == {"k2"}
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keyring = Keyring.load(key_file)
    for (row, field), (plaintext, blob) in vault.items():
        assert keyring.decrypt(blob, table="credentials", row_id=row, field=field) == plaintext
    assert retire_old(key_file, {"k2"}) == []  # nothing left to retire


def test_retire_is_refused_for_blobs_under_a_key_the_keyring_lacks(key_file: Path) -> None:
    add_key(key_file)
    before = key_file.read_bytes()
    with pytest.raises(VaultError, match=r"k9 not even in the keyring"):
        retire_old(key_file, {"k2", "k9"})
    assert key_file.read_bytes() == before


def test_reencrypt_with_a_missing_key_names_it_and_changes_nothing(key_file: Path) -> None:
    stranger = Keyring.generate("k5")
    row = uuid.uuid4()
    blob = stranger.encrypt("x" * 12, table="credentials", row_id=row, field="password_encrypted")
    add_key(key_file)
    with pytest.raises(DecryptionError, match="'k5'"):
        reencrypt(blob, Keyring.load(key_file), table="credentials", row_id=row, field="password_encrypted")


def test_reencrypt_checks_the_blob_belongs_where_it_is_said_to(key_file: Path) -> None:
    row = uuid.uuid4()
    blob = Keyring.load(key_file).encrypt(
        "x" * 12, table="credentials", row_id=row, field="password_encrypted"
    )
    add_key(key_file)
    with pytest.raises(DecryptionError, match="'k1'"):
        reencrypt(
            blob, Keyring.load(key_file), table="credentials", row_id=uuid.uuid4(), field="password_encrypted"
        )


def test_keys_in_use_skips_empty_columns_and_refuses_junk() -> None:
    keyring = Keyring.generate("k3")
    blob = keyring.encrypt("abc", table="t", row_id=1, field="f")
    assert keys_in_use([None, blob, None]) == {"k3"}
    assert keys_in_use([]) == set()
    with pytest.raises(DecryptionError):
        keys_in_use([blob, b"plaintext that slipped in"])


def test_a_held_lock_stops_a_second_key_change(key_file: Path) -> None:
    lock = key_file.with_name(".vault.key.lock")
    lock.write_text("")
    before = key_file.read_bytes()
    with pytest.raises(VaultError, match="holds the lock"):
        add_key(key_file)
    with pytest.raises(VaultError, match="holds the lock"):
        retire_old(key_file, set())
    assert key_file.read_bytes() == before
    assert lock.exists()  # not ours to remove


def test_a_broken_keyring_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    path.write_text('{"format": 1, "active": "k1", "keys": {"k1": "c2hvcnQ="}}')
    path.chmod(0o600)
    with pytest.raises(SecretFileError, match="malformed"):
        add_key(path)
    assert "c2hvcnQ=" in path.read_text()
    assert not path.with_name(".vault.key.lock").exists()
