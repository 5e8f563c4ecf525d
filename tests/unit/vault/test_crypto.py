"""Vault encryption: AES-256-GCM blobs bound to their table, row and field."""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path

import pytest

from mspmode.errors import DecryptionError, VaultError
from mspmode.vault import crypto
from mspmode.vault.crypto import MAGIC, NONCE_SIZE, Keyring, key_id_of
from mspmode.vault.keyfiles import ensure_key_file, write_vault_keyring

ROW = uuid.UUID("0b4f6c3e-6a52-4d0e-9a57-2f2d1c9b7e11")
WHERE = {"table": "credentials", "row_id": ROW, "field": "password_encrypted"}
SECRET = "Sup3r-S3cret!"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


def test_round_trip_of_text_and_bytes(keyring: Keyring) -> None:
    assert keyring.decrypt(keyring.encrypt(SECRET, **WHERE), **WHERE) == SECRET.encode()
    raw = os.urandom(100)
    assert keyring.decrypt(keyring.encrypt(raw, **WHERE), **WHERE) == raw
    assert keyring.decrypt(keyring.encrypt("", **WHERE), **WHERE) == b""
    assert keyring.decrypt(keyring.encrypt("pässwörd ✓", **WHERE), **WHERE).decode() == "pässwörd ✓"


def test_blob_is_self_describing(keyring: Keyring) -> None:
    blob = keyring.encrypt(SECRET, **WHERE)
    assert isinstance(blob, bytes)
    assert blob.startswith(MAGIC + bytes([1, 2]) + b"k1")
    assert key_id_of(blob) == "k1"
    # header, nonce, ciphertext of the same length as the plaintext, 16-byte tag
    assert len(blob) == len(MAGIC) + 2 + 2 + NONCE_SIZE + len(SECRET) + 16
    assert SECRET.encode() not in blob


def test_every_encryption_gets_a_fresh_nonce(keyring: Keyring) -> None:
    header = len(MAGIC) + 2 + 2
    blobs = [keyring.encrypt(SECRET, **WHERE) for _ in range(5000)]
    nonces = {blob[header : header + NONCE_SIZE] for blob in blobs}
    assert len(nonces) == len(blobs)
    assert len(set(blobs)) == len(blobs)


@pytest.mark.parametrize(
    "moved",
    [
        {"row_id": uuid.UUID("5d2b3c34-7a6f-4a1c-8d1e-0c5e3b9e2f10")},
        {"field": "api_key_encrypted"},
        {"table": "integration_credentials"},
        {"row_id": str(ROW)[:-1] + "2"},
    ],
    ids=["other row", "other field", "other table", "row id differing in one digit"],
)
def test_a_blob_moved_elsewhere_does_not_decrypt(keyring: Keyring, moved: dict[str, object]) -> None:
    blob = keyring.encrypt(SECRET, **WHERE)
    with pytest.raises(DecryptionError) as info:
        keyring.decrypt(blob, **{**WHERE, **moved})  # type: ignore[arg-type]
    assert info.value.key_id == "k1"
    assert "'k1'" in str(info.value)
    assert SECRET not in str(info.value)


def test_one_row_spelled_in_different_ways_binds_alike(keyring: Keyring) -> None:
    blob = keyring.encrypt(SECRET, **WHERE)
    for spelling in (str(ROW), str(ROW).upper(), ROW.hex):
        assert keyring.decrypt(blob, table="credentials", row_id=spelling, field="password_encrypted")
    numbered = keyring.encrypt(SECRET, table="t", row_id=42, field="f")
    assert keyring.decrypt(numbered, table="t", row_id="42", field="f") == SECRET.encode()


def test_context_parts_cannot_be_shifted_between_each_other(keyring: Keyring) -> None:
    blob = keyring.encrypt(SECRET, table="ab", row_id="c", field="d")
    with pytest.raises(DecryptionError):
        keyring.decrypt(blob, table="a", row_id="bc", field="d")


def test_flipping_any_bit_is_detected_and_never_reveals_the_plaintext(keyring: Keyring) -> None:
    blob = keyring.encrypt(SECRET, **WHERE)
    body_start = len(MAGIC) + 2 + 2
    for index in range(len(blob)):
        for bit in range(8):
            damaged = bytearray(blob)
            damaged[index] ^= 1 << bit
            with pytest.raises(DecryptionError) as info:
                keyring.decrypt(bytes(damaged), **WHERE)
            message = str(info.value)
            assert SECRET not in message
            if index >= body_start:  # nonce, ciphertext or tag: the key id is intact and named
                assert info.value.key_id == "k1" and "'k1'" in message
            elif info.value.key_id is not None:
                assert repr(info.value.key_id) in message


def test_truncation_at_any_length_is_detected(keyring: Keyring) -> None:
    blob = keyring.encrypt(SECRET, **WHERE)
    for length in range(len(blob)):
        with pytest.raises(DecryptionError):
            keyring.decrypt(blob[:length], **WHERE)
    with pytest.raises(DecryptionError):
        keyring.decrypt(blob + b"\x00", **WHERE)


def test_a_wrong_key_under_the_same_id_is_named(keyring: Keyring) -> None:
    blob = keyring.encrypt(SECRET, **WHERE)
    with pytest.raises(DecryptionError, match=r"under vault key 'k1'") as info:
        Keyring.generate("k1").decrypt(blob, **WHERE)
    assert info.value.key_id == "k1"


def test_a_missing_key_is_named_with_the_fix() -> None:
    blob = Keyring.generate("k7").encrypt(SECRET, **WHERE)
    with pytest.raises(
        DecryptionError, match=r"vault key 'k7' is not in the keyring \(it holds k1\)"
    ) as info:
        Keyring.generate("k1").decrypt(blob, **WHERE)
    assert info.value.key_id == "k7"
    assert "backup" in str(info.value)


def test_values_that_are_not_blobs_are_refused(keyring: Keyring) -> None:
    for junk in (b"", b"hunter2", b"MSV", b"MSV\x02\x02k1" + bytes(40), b"MSV\x01\x00" + bytes(40)):
        with pytest.raises(DecryptionError):
            keyring.decrypt(junk, **WHERE)
        with pytest.raises(DecryptionError):
            key_id_of(junk)


def test_encrypting_a_blob_again_is_refused(keyring: Keyring) -> None:
    blob = keyring.encrypt(SECRET, **WHERE)
    with pytest.raises(VaultError, match="already a vault blob"):
        keyring.encrypt(blob, **WHERE)


def test_table_and_field_are_required(keyring: Keyring) -> None:
    with pytest.raises(ValueError):
        keyring.encrypt(SECRET, table="", row_id=ROW, field="password_encrypted")
    with pytest.raises(TypeError):
        keyring.encrypt(SECRET, table="credentials", row_id=1.5, field="x")  # type: ignore[arg-type]


def test_needs_rotation_follows_the_active_key() -> None:
    old = Keyring.generate("k1")
    blob = old.encrypt(SECRET, **WHERE)
    both = Keyring({"k1": old._state.keys["k1"], "k2": os.urandom(32)}, "k2")
    assert not old.needs_rotation(blob)
    assert both.needs_rotation(blob)
    assert not both.needs_rotation(both.encrypt(SECRET, **WHERE))


def test_bad_keyrings_are_refused() -> None:
    with pytest.raises(VaultError, match="not 32 bytes"):
        Keyring({"k1": b"short"}, "k1")
    with pytest.raises(VaultError, match="active vault key 'k2'"):
        Keyring({"k1": os.urandom(32)}, "k2")
    with pytest.raises(VaultError, match="key id"):
        Keyring({"k 1": os.urandom(32)}, "k 1")


def test_loaded_from_the_key_file_without_showing_key_material(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    ensure_key_file("vault", path)
    keyring = Keyring.load(path)
    assert keyring.active_key_id == "k1" and keyring.key_ids == ("k1",)
    material = json.loads(path.read_text())["keys"]["k1"]
    assert material not in repr(keyring)
    blob = keyring.encrypt(SECRET, **WHERE)
    assert Keyring.load(path).decrypt(blob, **WHERE) == SECRET.encode()


def test_a_loaded_keyring_follows_a_rotation_made_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    ensure_key_file("vault", path)
    ours = Keyring.load(path)
    old_blob = ours.encrypt(SECRET, **WHERE)
    # Another process rotates: a new active key k2, k1 kept.
    k1 = base64.urlsafe_b64decode(json.loads(path.read_text())["keys"]["k1"])
    write_vault_keyring(path, "k2", {"k1": k1, "k2": os.urandom(32)})
    theirs = Keyring.load(path)
    new_blob = theirs.encrypt(SECRET, **WHERE)
    assert ours.decrypt(new_blob, **WHERE) == SECRET.encode()
    assert key_id_of(ours.encrypt(SECRET, **WHERE)) == "k2"
    assert ours.needs_rotation(old_blob)


def test_derived_keys_are_stable_per_purpose_and_key(keyring: Keyring) -> None:
    a = keyring.derive_key("known-secrets-v1")
    assert len(a) == 32
    assert a == keyring.derive_key("known-secrets-v1")
    assert a != keyring.derive_key("something-else")
    assert a != Keyring.generate().derive_key("known-secrets-v1")


def test_hkdf_matches_rfc_5869() -> None:
    # RFC 5869 appendix A.1, test case 1.
    okm = crypto._hkdf_sha256(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
