"""Credentials through the API on every backend: secrets are sealed, write-only, revealed one
field at a time with an audit row, refused to readonly users, and a moved or tampered
ciphertext fails loudly without exposing anything."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from mspmode.models.credentials import Credential, CredentialAuditLog
from mspmode.vault import totp
from tests.api.conftest import Api

PASSWORD = "Sup3r-Secret-Pa55!"
SEED = "JBSWY3DPEHPK3PXP"


def make(api: Api, **extra: Any) -> dict[str, Any]:
    body = {
        "service_name": f"AD1 domain admin {uuid.uuid4().hex[:6]}",
        "credential_type": "password",
        "username": "administrator",
        "client_id": str(api.client_a),
        "password": PASSWORD,
        "totp_secret": SEED,
        **extra,
    }
    response = api.as_("tech").post("/api/credentials", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def audit_rows(api: Api, credential_id: str) -> list[CredentialAuditLog]:
    with api.db.read() as s:
        return list(
            s.scalars(
                select(CredentialAuditLog)
                .where(CredentialAuditLog.credential_id == uuid.UUID(credential_id))
                .order_by(CredentialAuditLog.created_at)
            )
        )


def stored(api: Api, credential_id: str) -> Credential:
    with api.db.read() as s:
        row = s.get(Credential, uuid.UUID(credential_id))
    assert row is not None
    return row


def test_secrets_are_sealed_and_never_returned(api: Api) -> None:
    cred = make(api)
    assert cred["secret_fields_set"] == ["password", "totp_secret"]
    assert PASSWORD not in str(cred) and SEED not in str(cred)
    assert not any(key.endswith("_encrypted") for key in cred)
    row = stored(api, cred["id"])
    assert row.password_encrypted is not None and row.password_encrypted.startswith(b"MSV")
    assert PASSWORD.encode() not in row.password_encrypted
    listed = api.as_("readonly").get("/api/credentials", params={"limit": 500}).text
    assert PASSWORD not in listed and SEED not in listed


def test_reveal_decrypts_one_field_and_is_audited(api: Api) -> None:
    cred = make(api)
    revealed = api.as_("tech").post(f"/api/credentials/{cred['id']}/reveal", json={"field": "password"})
    assert revealed.status_code == 200
    assert revealed.json() == {"field": "password", "value": PASSWORD}
    actions = [(r.action, r.field, r.success) for r in audit_rows(api, cred["id"])]
    assert actions == [("create", "password,totp_secret", True), ("reveal", "password", True)]
    log = audit_rows(api, cred["id"])[-1]
    assert log.actor_name == "tech/tech key" and log.client_address == "127.0.0.1"
    assert PASSWORD not in str(vars(log))


def test_readonly_cannot_reveal_and_the_attempt_is_recorded(api: Api) -> None:
    cred = make(api)
    denied = api.as_("readonly").post(f"/api/credentials/{cred['id']}/reveal", json={"field": "password"})
    assert denied.status_code == 403
    assert PASSWORD not in denied.text
    last = audit_rows(api, cred["id"])[-1]
    assert (last.action, last.field, last.success) == ("failed_reveal", "password", False)


def test_bad_reveals(api: Api) -> None:
    cred = make(api, totp_secret=None)
    client = api.as_("tech")
    assert client.post(f"/api/credentials/{cred['id']}/reveal", json={"field": "pin"}).status_code == 422
    missing = client.post(f"/api/credentials/{cred['id']}/reveal", json={"field": "api_key"})
    assert missing.status_code == 404
    assert (
        client.post(f"/api/credentials/{uuid.uuid4()}/reveal", json={"field": "password"}).status_code == 404
    )
    foreign = make(api, client_id=str(api.client_b))
    scoped = api.as_("scoped").post(f"/api/credentials/{foreign['id']}/reveal", json={"field": "password"})
    assert scoped.status_code == 404


def test_totp_code_without_the_seed(api: Api) -> None:
    cred = make(api)
    response = api.as_("tech").get(f"/api/credentials/{cred['id']}/totp")
    assert response.status_code == 200
    body = response.json()
    assert SEED not in response.text
    assert body["code"] in {totp.totp(SEED), totp.totp(SEED, at=__import__("time").time() - 30)}
    assert 0 < body["seconds_left"] <= 30
    assert audit_rows(api, cred["id"])[-1].action == "totp"


def test_changing_and_removing_secrets(api: Api) -> None:
    cred = make(api)
    client = api.as_("tech")
    changed = client.patch(
        f"/api/credentials/{cred['id']}", json={"password": "N3w-Pa55word!!", "notes": "rotated"}
    )
    assert changed.status_code == 200 and changed.json()["notes"] == "rotated"
    value = client.post(f"/api/credentials/{cred['id']}/reveal", json={"field": "password"}).json()["value"]
    assert value == "N3w-Pa55word!!"
    removed = client.patch(f"/api/credentials/{cred['id']}", json={"totp_secret": None})
    assert removed.json()["secret_fields_set"] == ["password"]
    assert [r.action for r in audit_rows(api, cred["id"])][-3:] == ["update", "reveal", "update"]

    gone = client.delete(f"/api/credentials/{cred['id']}")
    assert gone.status_code == 204
    with api.db.read() as s:
        kept = list(
            s.scalars(
                select(CredentialAuditLog)
                .where(CredentialAuditLog.credential_name == cred["service_name"])
                .order_by(CredentialAuditLog.created_at)
            )
        )
    assert kept[-1].action == "delete" and kept[-1].credential_id is None  # the log outlives the row


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(api: Api) -> None:
    source, target = make(api), make(api, password="Other-Pa55word!")
    with api.db.writer.begin() as conn:
        blob = conn.execute(
            select(Credential.password_encrypted).where(Credential.id == uuid.UUID(source["id"]))
        ).scalar_one()
        conn.execute(
            update(Credential.__table__)
            .where(Credential.id == uuid.UUID(target["id"]))
            .values(password_encrypted=blob)
        )
    response = api.as_("tech").post(f"/api/credentials/{target['id']}/reveal", json={"field": "password"})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "DecryptionError"
    assert "'k1'" in response.json()["error"]["message"]
    assert PASSWORD not in response.text
    last = audit_rows(api, target["id"])[-1]
    assert (last.action, last.success) == ("failed_reveal", False)


def test_a_tampered_ciphertext_does_not_decrypt(api: Api) -> None:
    cred = make(api)
    row = stored(api, cred["id"])
    assert row.password_encrypted is not None
    flipped = bytearray(row.password_encrypted)
    flipped[-3] ^= 0x01
    with api.db.writer.begin() as conn:
        conn.execute(
            update(Credential.__table__)
            .where(Credential.id == row.id)
            .values(password_encrypted=bytes(flipped))
        )
    response = api.as_("tech").post(f"/api/credentials/{cred['id']}/reveal", json={"field": "password"})
    assert response.status_code == 500 and "fails authentication" in response.json()["error"]["message"]


def test_text_containing_a_stored_secret_is_redacted(api: Api) -> None:
    secret = f"Zx9-{uuid.uuid4().hex[:10]}-Qq"
    make(api, password=secret)
    client = api.as_("tech")
    failure = client.post(
        "/api/operation-failures",
        json={
            "operation_type": "api_call",
            "operation_description": f"login to portal with {secret} failed",
            "error_message": f"401 for user admin password {secret}",
            "client_id": str(api.client_a),
        },
    )
    assert failure.status_code == 201, failure.text
    assert secret not in failure.text
    assert "[REDACTED" in failure.json()["operation_description"]
