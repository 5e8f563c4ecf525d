"""Vault key rotation over stored credentials on every backend: every secret moves to the new
key, an interrupted run resumes without loss or double encryption, old keys are retired only
once unused, and a missing key stops everything before anything changes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.errors import DecryptionError
from mspmode.models.credentials import Credential, CredentialAuditLog
from mspmode.services import credentials
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.vault.crypto import key_id_of
from mspmode.vault.keyfiles import read_vault_keyring
from tests.api.conftest import make_runtime


class Interrupted(Exception):
    pass


@pytest.fixture
def rt(empty_database_url: URL, tmp_path: Path) -> Iterator[Runtime]:
    # A database of its own: rotation walks every stored secret, and they must all be this
    # test's, under this test's keyring.
    db = Database(empty_database_url)
    schema.upgrade(db)
    yield make_runtime(tmp_path, db)
    db.dispose()


def seed(rt: Runtime, n: int) -> dict[uuid.UUID, str]:
    made = {}
    for i in range(n):
        secret = f"secret-{i}-{uuid.uuid4().hex[:8]}"
        row = credentials.create(
            rt,
            local_actor(),
            credentials.CREDENTIALS,
            {"service_name": f"svc {i}", "credential_type": "password", "password": secret},
        )
        made[row.id] = secret
    return made


def key_ids(rt: Runtime, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    with rt.db.read() as s:
        rows = s.execute(select(Credential.id, Credential.password_encrypted).where(Credential.id.in_(ids)))
        return {row_id: key_id_of(blob) for row_id, blob in rows}


def reveal_all(rt: Runtime, made: dict[uuid.UUID, str]) -> None:
    for row_id, secret in made.items():
        assert (
            credentials.reveal(rt, local_actor(), credentials.CREDENTIALS, row_id, "password").value == secret
        )


def test_rotation_moves_every_secret_to_a_new_key(rt: Runtime) -> None:
    made = seed(rt, 5)
    report = credentials.rotate(rt, local_actor(), batch_size=2)
    assert (report.new_key, report.active_key, report.reencrypted, report.resumed) == ("k2", "k2", 5, False)
    assert set(key_ids(rt, list(made)).values()) == {"k2"}
    reveal_all(rt, made)
    with rt.db.read() as s:
        rotated = s.scalars(select(CredentialAuditLog).where(CredentialAuditLog.action == "rotate")).all()
    assert {r.credential_id for r in rotated} >= set(made)
    assert all(secret not in str(vars(r)) for r in rotated for secret in made.values())


def test_an_interrupted_rotation_resumes_without_loss(rt: Runtime) -> None:
    made = seed(rt, 7)

    def stop_after_first_batch(done: int, total: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        credentials.rotate(rt, local_actor(), batch_size=3, progress=stop_after_first_batch)
    half = key_ids(rt, list(made))
    assert sorted(half.values()).count("k2") == 3 and sorted(half.values()).count("k1") == 4
    reveal_all(rt, made)  # nothing lost half-way

    assert "k1" in read_vault_keyring(rt.settings.key_path("vault"))[1]  # kept while in use

    again = credentials.rotate(rt, local_actor(), batch_size=3)
    assert again.resumed and again.new_key is None and again.active_key == "k2"
    assert (again.reencrypted, again.already_current) == (4, 3)  # the first 3 were not re-encrypted
    assert set(key_ids(rt, list(made)).values()) == {"k2"}
    reveal_all(rt, made)

    retired = credentials.rotate(rt, local_actor(), retire_old=True)
    assert retired.retired == ["k1"]
    assert list(read_vault_keyring(rt.settings.key_path("vault"))[1]) == ["k2"]
    reveal_all(rt, made)


def test_a_missing_key_stops_rotation_before_anything_changes(rt: Runtime) -> None:
    made = seed(rt, 3)
    path = rt.settings.key_path("vault")
    doc = json.loads(path.read_text())
    doc["keys"]["k9"] = doc["keys"].pop("k1")  # the k1 key is lost, another took its place
    doc["active"] = "k9"
    path.write_text(json.dumps(doc))
    rt.reload_keyring()
    before = key_ids(rt, list(made))
    with pytest.raises(DecryptionError, match="'k1'"):
        credentials.rotate(rt, local_actor())
    assert key_ids(rt, list(made)) == before
