"""The tamper-evident audit log: one HMAC-chained row per mutation, and its verification.

Each row's MAC covers its own content, its sequence number and the previous row's MAC, under
the installation's audit key (``audit.key``, outside the database). Whoever can write to the
database but does not hold the key cannot edit, delete, insert or reorder rows without
breaking the chain where they did it; ``verify`` walks it and names the first broken row.
Writers take turns by locking the single ``audit_chain_head`` row, which also remembers the
last sequence and MAC, so deleting the newest rows is caught too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mspmode.db import redaction
from mspmode.db.base import utcnow
from mspmode.errors import PermissionDeniedError
from mspmode.models.operations import AuditChainHead, AuditLog
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime, Signer

# Field names whose values never enter the audit log, whatever table they come from.
SECRET_FIELD_MARKERS = ("password", "secret", "token", "_encrypted", "key_hash", "private_key", "api_key")
MASK = "***"


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_FIELD_MARKERS)


def jsonable(value: Any) -> Any:
    """A value as it will be stored in the ``changes`` JSON (and hashed into the MAC)."""
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): MASK if is_secret_field(str(k)) else jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def masked(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` ready to store: secret-named fields masked, values made JSON."""
    return {k: MASK if is_secret_field(k) else jsonable(v) for k, v in changes.items()}


def _payload(row: AuditLog, sequence: int | None = None) -> bytes:
    doc = {
        "sequence": row.sequence if sequence is None else sequence,
        "occurred_at": row.occurred_at.isoformat(),
        "actor_type": row.actor_type,
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "actor_name": row.actor_name,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "changes": row.changes,
        "client_address": row.client_address,
        "request_id": row.request_id,
        "mac_key_id": row.mac_key_id,
        "prev_mac": row.prev_mac,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record(
    session: Session,
    signer: Signer,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    changes: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row in the caller's transaction (it commits or rolls back with the
    change it describes)."""
    # The UPDATE takes the head row's lock until commit: audit writers queue here.
    session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(sequence=AuditChainHead.sequence + 1)
    )
    head = session.get(AuditChainHead, 1, populate_existing=True)
    assert head is not None, "audit_chain_head row missing: run `msp db upgrade`"
    row = AuditLog(
        id=uuid.uuid4(),
        sequence=head.sequence,
        occurred_at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.api_key_id if actor.type == "api_key" else actor.id,
        actor_name=actor.name,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes=masked(changes) if changes is not None else None,
        client_address=actor.client_address,
        request_id=actor.request_id,
        mac_key_id=signer.key_id,
        prev_mac=head.mac,
        mac="",
    )
    # The write path leaves a signed row alone: its text is redacted here, before it is signed.
    redaction.redact_object(session, row, signing=True)
    row.mac = signer.sign(_payload(row))
    head.mac = row.mac
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: ``ok``, or the first broken row and what broke."""

    rows: int
    ok: bool
    problem: str | None = None
    sequence: int | None = None
    row_id: uuid.UUID | None = None


def verify(session: Session, signer: Signer) -> ChainReport:
    """Walk the whole chain in sequence order and report the first row that does not hold."""
    head = session.execute(select(AuditChainHead).where(AuditChainHead.id == 1)).scalar_one()
    expected_seq, prev_mac, count = 1, None, 0
    for row in session.scalars(select(AuditLog).order_by(AuditLog.sequence)).yield_per(1000):
        count += 1
        if row.mac_key_id != signer.key_id:
            return _broken(
                count, row, f"was signed with key {row.mac_key_id}, not the current audit key {signer.key_id}"
            )
        own_mac_valid = signer.sign(_payload(row)) == row.mac
        if row.sequence > expected_seq:
            missing = (
                f"{expected_seq}"
                if row.sequence == expected_seq + 1
                else f"{expected_seq}–{row.sequence - 1}"
            )
            return _broken(count, row, f"follows a gap: row(s) {missing} were deleted")
        if not own_mac_valid:
            if any(
                signer.sign(_payload(row, seq)) == row.mac
                for seq in range(max(1, row.sequence - 50), row.sequence + 51)
            ):
                return _broken(count, row, "was moved: its sequence number was changed (rows reordered)")
            return _broken(
                count, row, "was edited, or inserted without the audit key: its MAC does not match"
            )
        if row.prev_mac != prev_mac:
            return _broken(
                count, row, "does not follow the row before it: rows were inserted, deleted or reordered"
            )
        expected_seq, prev_mac = row.sequence + 1, row.mac
    if head.sequence != expected_seq - 1 or head.mac != prev_mac:
        return ChainReport(
            rows=count,
            ok=False,
            sequence=head.sequence,
            problem=f"the chain ends at sequence {expected_seq - 1} but its head records {head.sequence}: "
            "the newest rows were deleted",
        )
    return ChainReport(rows=count, ok=True)


def _broken(count: int, row: AuditLog, what: str) -> ChainReport:
    return ChainReport(
        rows=count,
        ok=False,
        problem=f"row {row.sequence} (id {row.id}) {what}",
        sequence=row.sequence,
        row_id=row.id,
    )


def verify_chain(rt: Runtime, actor: Actor) -> ChainReport:
    """``verify`` for an admin, in its own read transaction."""
    if not actor.has_role("admin"):
        raise PermissionDeniedError("only an admin may verify the audit log")
    with rt.db.read() as session:
        return verify(session, rt.audit_signer)
