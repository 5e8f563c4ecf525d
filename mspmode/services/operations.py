"""Failed operations that are not shell commands — API calls, file copies, network requests,
backups, queries — recorded, classified and grouped with the same engine as commands.

    record_failure(rt, actor, OperationIn(...))   POST /api/operation-failures/record
    classify_pending(session)                     rows written through the generic CRUD route

Each failure is classified by the engine's rules (``classify``) from its error message, then
fingerprinted (``fingerprint``: numbers, paths, hosts, ids masked) and grouped into a
``failure_patterns`` row keyed by operation type and fingerprint, so fifty "connection timed
out" backups are one pattern with fifty occurrences. Counts are computed from the rows, never
incremented, so classifying again writes the same values. A pattern's ``error_pattern`` is built
from escaped literals (``engine.error_pattern``) and is stored only if the regex guard passes.
Every failure also gets its recovery explanation (``services.recovery``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mspmode import engine
from mspmode.db import bulk
from mspmode.db.base import utcnow
from mspmode.engine.classify import PATTERN_TYPE, SEVERITY
from mspmode.engine.recovery import is_catastrophic
from mspmode.errors import NotFoundError, PermissionDeniedError, ValidationError
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import OPERATION_TYPES, OperationFailure
from mspmode.models.learning import FailurePattern as PatternRow
from mspmode.services import audit, capture
from mspmode.services.actor import Actor
from mspmode.services.learning.text import fit, storable
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import scope_clause, table_of

_NAMESPACE = uuid.UUID("6f1d2b8e-3c1a-4e7b-9a55-0d7c2e41b9aa")
_OPS = table_of(OperationFailure)
_PATTERNS = table_of(PatternRow)


@dataclass
class OperationIn:
    operation_type: str
    operation_description: str
    error_message: str
    target_system: str | None = None
    error_code: str | None = None
    client_id: uuid.UUID | None = None
    infrastructure_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    work_item_id: uuid.UUID | None = None
    request_data: dict[str, Any] | None = None
    response_data: dict[str, Any] | None = None


def pattern_id(operation_type: str, fingerprint_hash: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{operation_type}|{fingerprint_hash}")


def _classification(row: Any) -> tuple[str, bool, engine.Fingerprint]:
    message = row.error_message or ""
    if row.error_code:
        message = f"{message}\n{row.error_code}"
    found = engine.classify(1, message)
    assert found is not None  # a non-zero exit always classifies
    failure_class = found.failure_class
    return failure_class, found.is_transient, engine.fingerprint(failure_class, None, row.error_message or "")


def classify_pending(session: Session, ids: Sequence[uuid.UUID] | None = None) -> int:
    """Classify and group the operation failures not yet classified (``fingerprint`` null),
    or ``ids``; the number classified. Patterns are upserted in bulk."""
    stmt = select(
        _OPS.c.id,
        _OPS.c.operation_type,
        _OPS.c.operation_description,
        _OPS.c.error_message,
        _OPS.c.error_code,
        _OPS.c.target_system,
        _OPS.c.client_id,
        _OPS.c.infrastructure_id,
        _OPS.c.created_at,
    )
    stmt = (
        stmt.where(_OPS.c.id.in_(list(ids))) if ids is not None else stmt.where(_OPS.c.fingerprint.is_(None))
    )
    rows = list(session.execute(stmt))
    if not rows:
        return 0
    updates: list[dict[str, Any]] = []
    groups: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        failure_class, transient, fp = _classification(row)
        pid = pattern_id(row.operation_type, fp.hash)
        updates.append(
            {
                "id": row.id,
                "failure_category": failure_class,
                "is_transient": transient,
                "fingerprint": fp.hash,
                "related_pattern_id": pid,
            }
        )
        group = groups.setdefault(
            pid,
            {
                "failure_class": failure_class,
                "transient": transient,
                "fp": fp,
                "operation_type": row.operation_type,
                "messages": [],
                "operations": [],
                "clients": set(),
                "hosts": set(),
            },
        )
        group["messages"].append(row.error_message)
        group["operations"].append(row.operation_description)
        group["clients"].add(row.client_id)
        group["hosts"].add(row.infrastructure_id)
    # The patterns first: the rows point at them. Counts are taken after the rows point.
    _upsert_patterns(session, groups, pending=updates)
    bulk.update_many(session.connection(), _OPS, updates)
    _upsert_patterns(session, groups)
    return len(updates)


def _upsert_patterns(
    session: Session, groups: dict[uuid.UUID, dict[str, Any]], pending: list[dict[str, Any]] | None = None
) -> None:
    """Insert the patterns of ``groups`` not stored yet (``pending``: only those, before the
    rows point at them), else bring every one's counts up to date from its rows."""
    ids = list(groups)
    stats = {
        pid: (count, first, last, hosts, clients)
        for pid, count, first, last, hosts, clients in session.execute(
            select(
                _OPS.c.related_pattern_id,
                func.count(),
                func.min(_OPS.c.created_at),
                func.max(_OPS.c.created_at),
                func.count(func.distinct(_OPS.c.infrastructure_id)),
                func.count(func.distinct(_OPS.c.client_id)),
            )
            .where(_OPS.c.related_pattern_id.in_(ids))
            .group_by(_OPS.c.related_pattern_id)
        )
    }
    existing = set(session.scalars(select(PatternRow.id).where(PatternRow.id.in_(ids))))
    now = utcnow()
    new: list[dict[str, Any]] = []
    old: list[dict[str, Any]] = []
    for pid, g in groups.items():
        count, first, last, host_count, client_count = stats.get(pid, (1, now, now, 0, 0))
        fp: engine.Fingerprint = g["fp"]
        cls = g["failure_class"]
        regex = engine.error_pattern(fp.normalized_message)
        hosts = {h for h in g["hosts"] if h is not None}
        clients = {c for c in g["clients"] if c is not None}
        operations = list(dict.fromkeys(o for o in g["operations"] if o))[:10]
        values = {
            "id": pid,
            "occurrence_count": int(count),
            "host_count": max(1, int(host_count)),
            "first_seen": first or now,
            "last_seen": last or now,
            "updated_at": now,
            "triggering_operations": operations,
            "typical_error_messages": list(dict.fromkeys(m for m in g["messages"] if m))[-5:],
        }
        if pid in existing:
            if pending is None:
                old.append(values)
            continue
        label = g["operation_type"].replace("_", " ")
        first_line = fp.normalized_message.splitlines()[0] if fp.normalized_message else ""
        values.update(
            {
                "pattern_type": PATTERN_TYPE.get(cls, "environmental_limitation"),
                "pattern_signature": f"{label}: {first_line or cls}"[:500],
                # Built from escaped literals; refused anyway if it could backtrack badly.
                "error_pattern": None if is_catastrophic(regex) else regex,
                "error_message_hash": fp.message_hash,
                "failure_class": cls,
                "culprit": None,
                "culprit_kind": "none",
                "is_transient": bool(g["transient"]),
                "confidence_level": "suspected",
                "severity": SEVERITY.get(cls, "info"),
                "failure_description": f"{label} failed: {cls.replace('_', ' ')}",
                "root_cause": f"The {label} failed with {cls.replace('_', ' ')}.",
                "recommended_solution": "Retry with backoff."
                if g["transient"]
                else "See the recovery explanation.",
                "infrastructure_id": next(iter(hosts)) if len(hosts) == 1 and client_count <= 1 else None,
                "client_id": next(iter(clients)) if len(clients) == 1 else None,
                "created_at": now,
            }
        )
        new.append(values)
    connection = session.connection()
    if new:
        # Same keys in every row: the bulk insert takes the first row's columns.
        bulk.insert_many(connection, _PATTERNS, new)
    if old:
        bulk.update_many(connection, _PATTERNS, old)


def _check_refs(session: Session, actor: Actor, item: OperationIn) -> None:
    from mspmode.models.core import Client
    from mspmode.models.core import Session as WorkSession
    from mspmode.models.work import WorkItem

    for column, model in (
        ("client_id", Client),
        ("infrastructure_id", Infrastructure),
        ("session_id", WorkSession),
        ("work_item_id", WorkItem),
    ):
        value = getattr(item, column)
        if value is None:
            continue
        stmt = select(model.id).where(model.id == value)
        if actor.client_scope is not None:
            stmt = stmt.where(scope_clause(table_of(model), actor.client_scope))
        if session.execute(stmt).first() is None:
            raise NotFoundError(f"{column}: no {model.__tablename__} with id {value}")


def _text(rt: Runtime, value: str | None, limit: int | None = None) -> str | None:
    """Captured text as every backend stores it: redacted, without NUL or control
    characters, cut to the column (after redaction, which may lengthen it)."""
    if value is None:
        return None
    cleaned = fit(storable(capture.clean_text(rt, value) or ""))
    return (cleaned[:limit] if limit else cleaned) or None


def _json(rt: Runtime, value: Any) -> Any:
    """A captured JSON value redacted, its strings storable (PostgreSQL's JSON refuses NUL)."""

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return storable(v)
        if isinstance(v, dict):
            return {storable(str(k)): walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return None if value is None else walk(capture.clean_value(rt, value))


def record_failure(rt: Runtime, actor: Actor, item: OperationIn) -> dict[str, Any]:
    """Record one failed operation, classify and group it, explain it; its row with the
    pattern and the recovery decision."""
    from mspmode.services import recovery

    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")
    if not actor.has_role("technician"):
        raise PermissionDeniedError(f"role {actor.role} may not record failures (needs technician)")
    if item.operation_type not in OPERATION_TYPES:
        raise ValidationError(f"operation_type must be one of {', '.join(OPERATION_TYPES)}")
    if not item.error_message or not item.error_message.strip():
        raise ValidationError("error_message must not be empty")
    if actor.client_scope is not None and item.client_id is None and item.infrastructure_id is None:
        if len(actor.client_scope) != 1:
            raise ValidationError("name the client (client_id) this failure belongs to")
        item.client_id = next(iter(actor.client_scope))
    with rt.db.write() as s:
        _check_refs(s, actor, item)
        if item.client_id is None and item.infrastructure_id is not None:
            item.client_id = s.scalar(
                select(Infrastructure.client_id).where(Infrastructure.id == item.infrastructure_id)
            )
        row_id = uuid.uuid4()
        s.execute(
            _OPS.insert().values(
                id=row_id,
                created_at=utcnow(),
                operation_type=item.operation_type,
                operation_description=_text(rt, item.operation_description) or "",
                target_system=_text(rt, item.target_system, 255),
                error_message=_text(rt, item.error_message) or "",
                error_code=_text(rt, item.error_code, 50),
                client_id=item.client_id,
                infrastructure_id=item.infrastructure_id,
                session_id=item.session_id,
                work_item_id=item.work_item_id,
                request_data=_json(rt, item.request_data),
                response_data=_json(rt, item.response_data),
            )
        )
        classify_pending(s, [row_id])
        recovery.explain_operations(s, [row_id])
        audit.record(
            s,
            rt.audit_signer,
            actor,
            "create",
            "operation_failures",
            row_id,
            {"operation_type": item.operation_type, "source": "record"},
        )
        out = dict(s.execute(select(_OPS).where(_OPS.c.id == row_id)).mappings().one())
        out["recovery"] = recovery.explanation_of(s, operation_failure_id=row_id)
    return out
