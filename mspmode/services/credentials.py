"""Client credentials and integration credentials: secrets are write-only.

A secret field (password, API key, client secret, token, connection string, TOTP seed,
private key) is encrypted by the vault the moment it arrives, bound to its table, row and
field, and stored only as that blob. Reading a credential returns its metadata and which
secret fields are set; the plaintext of one field comes back only through ``reveal``, which —
like every create, update, delete, TOTP code and key rotation — writes a
``credential_audit_log`` row (who, when, from where, which field; never the value).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mspmode.errors import DecryptionError, NotFoundError, PermissionDeniedError, ValidationError
from mspmode.models.credentials import Credential, CredentialAuditLog
from mspmode.models.integrations import IntegrationCredential
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.crud import ResourceSpec, create_row, delete_row, update_row, visible_to
from mspmode.services.runtime import Runtime
from mspmode.vault import rotation, totp

# table -> the secret fields a caller may write and reveal (stored as <field>_encrypted)
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "credentials": (
        "password",
        "api_key",
        "client_secret",
        "token",
        "connection_string",
        "totp_secret",
        "private_key",
    ),
    "integration_credentials": ("api_key", "client_secret", "access_token", "refresh_token", "password"),
}
MAX_SECRET_LENGTH = 65536

# The two resources with sealed secrets, declared here so the API and the CLI share them:
# reads are generic, writes go through this module.
CREDENTIALS = ResourceSpec(
    "credentials", Credential, generic_create=False, generic_update=False, generic_delete=False
)
INTEGRATION_CREDENTIALS = ResourceSpec(
    "integration-credentials",
    IntegrationCredential,
    read_role="admin",
    write_role="admin",
    generic_create=False,
    generic_update=False,
    generic_delete=False,
)


def secret_fields(spec: ResourceSpec) -> tuple[str, ...]:
    return SECRET_FIELDS[spec.table.name]


def _split(spec: ResourceSpec, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str | None]]:
    fields = secret_fields(spec)
    plain = {k: v for k, v in values.items() if k not in fields}
    secrets = {k: v for k, v in values.items() if k in fields}
    for name, value in secrets.items():
        if value is not None and (not isinstance(value, str) or not value or len(value) > MAX_SECRET_LENGTH):
            raise ValidationError(
                f"{name} must be a non-empty string of at most {MAX_SECRET_LENGTH} characters"
            )
    return plain, secrets


def _log(
    session: Session,
    actor: Actor,
    action: str,
    credential: Any,
    field: str | None = None,
    *,
    success: bool = True,
    details: str | None = None,
) -> None:
    if not isinstance(credential, Credential):
        return  # integration credentials are audited in audit_log only (admin-only, no client)
    session.add(
        CredentialAuditLog(
            credential_id=credential.id,
            credential_name=credential.service_name,
            action=action,
            field=field,
            user_id=actor.id if actor.type == "user" else None,
            api_key_id=actor.api_key_id,
            actor_name=actor.name,
            client_address=actor.client_address,
            success=success,
            details=details,
        )
    )


def _seal(rt: Runtime, spec: ResourceSpec, row: Any, secrets: Mapping[str, str | None]) -> None:
    for name, value in secrets.items():
        blob = None
        if value is not None:
            blob = rt.keyring.encrypt(value, table=spec.table.name, row_id=row.id, field=name)
            rt.remember_secret(value)
        setattr(row, f"{name}_encrypted", blob)


def create(rt: Runtime, actor: Actor, spec: ResourceSpec, values: Mapping[str, Any]) -> Any:
    plain, secrets = _split(spec, values)

    def seal(session: Session, row: Any) -> None:
        _seal(rt, spec, row, secrets)
        _log(session, actor, "create", row, ",".join(sorted(k for k, v in secrets.items() if v)) or None)

    return create_row(rt, actor, spec, plain, before_audit=seal)


def update(rt: Runtime, actor: Actor, spec: ResourceSpec, id: uuid.UUID, values: Mapping[str, Any]) -> Any:
    plain, secrets = _split(spec, values)

    def seal(session: Session, row: Any) -> None:
        _seal(rt, spec, row, secrets)
        _log(session, actor, "update", row, ",".join(sorted(secrets)) or None)

    return update_row(rt, actor, spec, id, plain, before_audit=seal, changed_secrets=sorted(secrets))


def delete(rt: Runtime, actor: Actor, spec: ResourceSpec, id: uuid.UUID) -> None:
    def log(session: Session, row: Any) -> None:
        _log(session, actor, "delete", row)

    delete_row(rt, actor, spec, id, before_delete=log)


def secrets_set(row: Any, spec: ResourceSpec) -> list[str]:
    return [name for name in secret_fields(spec) if getattr(row, f"{name}_encrypted", None) is not None]


def _security_event(
    rt: Runtime, actor: Actor, spec: ResourceSpec, id: uuid.UUID, field: str, why: str
) -> None:
    """Record a refused or failed reveal in its own transaction: the caller's is rolled back."""
    with rt.db.write() as session:
        row = session.get(spec.model, id)
        _log(session, actor, "failed_reveal", row, field, success=False, details=why)
        audit.record(
            session, rt.audit_signer, actor, "reveal", spec.table.name, id, {"field": field, "refused": why}
        )


@dataclass(frozen=True)
class Revealed:
    field: str
    value: str


def reveal(rt: Runtime, actor: Actor, spec: ResourceSpec, id: uuid.UUID, field: str) -> Revealed:
    """Decrypt one secret field. Denied reveals and failures are audited as security events."""
    return _with_secret(rt, actor, spec, id, field, "reveal", lambda value: Revealed(field, value))


@dataclass(frozen=True)
class TotpCode:
    code: str
    seconds_left: int


def totp_code(rt: Runtime, actor: Actor, spec: ResourceSpec, id: uuid.UUID) -> TotpCode:
    """The current TOTP code of a credential's seed, without revealing the seed."""
    return _with_secret(
        rt,
        actor,
        spec,
        id,
        "totp_secret",
        "totp",
        lambda seed: TotpCode(totp.totp(seed), totp.seconds_left()),
    )


def _with_secret(
    rt: Runtime,
    actor: Actor,
    spec: ResourceSpec,
    id: uuid.UUID,
    field: str,
    action: str,
    use: Callable[[str], Any],
) -> Any:
    if field not in secret_fields(spec):
        raise ValidationError(
            f"{field!r} is not a secret field of {spec.name}; fields: {', '.join(secret_fields(spec))}"
        )
    with rt.db.read() as session:
        # Another client's credential answers exactly like a missing one.
        row = spec.repository.get(session, id, where=visible_to(actor, spec.table))
    if actor.must_change_password or not actor.has_role(spec.write_role or "admin"):
        _security_event(rt, actor, spec, id, field, f"role {actor.role} may not {action}")
        raise PermissionDeniedError(f"role {actor.role} may not {action} secrets")
    blob = getattr(row, f"{field}_encrypted")
    if blob is None:
        raise NotFoundError(f"{spec.name} {id} has no {field} set")
    try:
        value = rt.keyring.decrypt(blob, table=spec.table.name, row_id=row.id, field=field).decode("utf-8")
    except DecryptionError as exc:
        _security_event(rt, actor, spec, id, field, str(exc))
        raise
    result = use(value)
    with rt.db.write() as session:
        _log(session, actor, action, session.get(spec.model, id), field)
        audit.record(
            session, rt.audit_signer, actor, "reveal", spec.table.name, id, {"field": field, "action": action}
        )
    return result


# ---- key rotation -----------------------------------------------------------------------------


@dataclass
class RotationReport:
    new_key: str | None
    active_key: str
    reencrypted: int
    already_current: int
    retired: list[str]
    resumed: bool


def rotate(
    rt: Runtime,
    actor: Actor,
    *,
    retire_old: bool = False,
    batch_size: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> RotationReport:
    """Add a new vault key and re-encrypt every secret under it, in batches of one
    transaction each. Interrupted, it can be run again: when blobs under an older key remain,
    it resumes under the current key instead of adding another, and a blob already under the
    active key is never touched. With ``retire_old``, old keys are removed from the keyring once
    no blob uses them (refused otherwise)."""
    if not actor.has_role("admin"):
        raise PermissionDeniedError("only an admin may rotate vault keys")
    path = rt.settings.key_path("vault")
    pending = _blob_index(rt)
    resumed = any(rt.keyring.needs_rotation(blob) for _, _, _, blob in pending)
    new_key = None
    if not resumed and not retire_old:
        new_key = rotation.add_key(path)
        rt.reload_keyring()
    total, done, current = len(pending), 0, 0
    for start in range(0, total, batch_size):
        batch = pending[start : start + batch_size]
        with rt.db.write() as session:
            touched: dict[tuple[str, uuid.UUID], list[str]] = {}
            for table, row_id, field, _ in batch:
                model = _MODELS[table]
                row = session.get(model, row_id)
                blob = getattr(row, f"{field}_encrypted", None) if row is not None else None
                if blob is None:
                    continue
                fresh = rotation.reencrypt(blob, rt.keyring, table=table, row_id=row_id, field=field)
                if fresh is blob or fresh == blob:
                    current += 1
                    continue
                setattr(row, f"{field}_encrypted", fresh)
                touched.setdefault((table, row_id), []).append(field)
            for (table, row_id), fields in touched.items():
                row = session.get(_MODELS[table], row_id)
                _log(
                    session,
                    actor,
                    "rotate",
                    row,
                    ",".join(fields),
                    details=f"to key {rt.keyring.active_key_id}",
                )
            if touched:
                audit.record(
                    session,
                    rt.audit_signer,
                    actor,
                    "rotate",
                    "vault",
                    rt.keyring.active_key_id,
                    {"secrets": sum(len(f) for f in touched.values())},
                )
        done += len(batch)
        if progress:
            progress(done, total)
    retired: list[str] = []
    if retire_old:
        in_use = rotation.keys_in_use(blob for _, _, _, blob in _blob_index(rt))
        retired = rotation.retire_old(path, in_use)
        rt.reload_keyring()
        with rt.db.write() as session:
            audit.record(
                session,
                rt.audit_signer,
                actor,
                "rotate",
                "vault",
                rt.keyring.active_key_id,
                {"retired": retired},
            )
    return RotationReport(
        new_key=new_key,
        active_key=rt.keyring.active_key_id,
        reencrypted=total - current,
        already_current=current,
        retired=retired,
        resumed=resumed,
    )


_MODELS: dict[str, Any] = {"credentials": Credential, "integration_credentials": IntegrationCredential}


def _blob_index(rt: Runtime) -> list[tuple[str, uuid.UUID, str, bytes]]:
    """Every stored secret: (table, row id, field, blob)."""
    out = []
    with rt.db.read() as session:
        for table, fields in SECRET_FIELDS.items():
            model = _MODELS[table]
            columns = [getattr(model, f"{f}_encrypted") for f in fields]
            for row in session.execute(select(model.id, *columns)):
                for field, blob in zip(fields, row[1:], strict=True):
                    if blob is not None:
                        out.append((table, row[0], field, bytes(blob)))
    return out


def all_plaintexts(rt: Runtime) -> list[str]:
    """Every stored secret decrypted, for building the known-secrets redactor at start-up.
    The caller keeps only keyed hashes of them."""
    out = []
    for table, row_id, field, blob in _blob_index(rt):
        try:
            out.append(rt.keyring.decrypt(blob, table=table, row_id=row_id, field=field).decode("utf-8"))
        except (DecryptionError, UnicodeDecodeError):
            continue  # reported where it matters: reveal and rotation
    return out


def vault_stamp(rt: Runtime) -> tuple[object, ...]:
    """Changes whenever a secret is added, changed or removed in any process."""
    from sqlalchemy import func

    with rt.db.read() as session:
        return tuple(
            session.execute(select(func.count(), func.max(model.updated_at)).select_from(model)).one()
            for model in _MODELS.values()
        )
