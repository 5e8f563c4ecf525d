"""Writing what the engine learned back to the database: ``failure_patterns`` rows and the
``problem_solutions`` drafts a failure followed by its fix leaves behind.

Every value is computed from the engine's state, never incremented in place, so a replay of
the history (``msp learn``) writes the same rows again instead of counting twice. Pattern ids
come from the engine (a UUID derived from the pattern's group key); a draft's id is derived from
its pattern and host, so one problem on one host is one draft whose ``recurrence_count`` grows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mspmode.db import bulk
from mspmode.db.base import utcnow
from mspmode.engine import FailurePattern
from mspmode.engine.classify import CAPABILITY_CLASSES, TRANSIENT_CLASSES
from mspmode.engine.memory import LOCAL
from mspmode.models.learning import FailurePattern as PatternRow
from mspmode.models.learning import ProblemSolution
from mspmode.services.learning.state import LearningState
from mspmode.services.scoping import table_of

_DRAFT_NAMESPACE = uuid.UUID("0b9c5d52-8f7e-4f57-b0a4-5c2f61a3c7d9")
_CHUNK = 500
_PATTERNS = table_of(PatternRow)
_SOLUTIONS = table_of(ProblemSolution)
_ROOT_CAUSE_CATEGORY = {
    "permission_denied": "permissions",
    "authentication_failure": "permissions",
    "configuration_error": "configuration",
    "not_found": "configuration",
}


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def pattern_values(st: LearningState, pattern: FailurePattern) -> dict[str, Any]:
    """The ``failure_patterns`` row of ``pattern``; on one host (client), it names it."""
    row = pattern.row()
    row["id"] = uuid.UUID(pattern.id)
    row["culprit"] = row["culprit"][:255] if row["culprit"] else None
    refs = [st.hosts.get(key) for key in pattern.hosts]
    known = [r for r in refs if r is not None]
    row["infrastructure_id"] = known[0].id if len(refs) == 1 and known else None
    clients = {r.client_id for r in known}
    row["client_id"] = next(iter(clients)) if len(known) == len(refs) and len(clients) == 1 else None
    now = utcnow()
    row["first_seen"] = row["first_seen"] or now
    row["last_seen"] = row["last_seen"] or now
    row["last_fix_at"] = row["last_fix_at"]
    row["updated_at"] = now
    return row


def existing_patterns(session: Session, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` have a ``failure_patterns`` row."""
    found: set[uuid.UUID] = set()
    for chunk in _chunks(list(ids)):
        found.update(session.scalars(select(PatternRow.id).where(PatternRow.id.in_(list(chunk)))))
    return found


def upsert_patterns(session: Session, st: LearningState, patterns: Sequence[FailurePattern]) -> int:
    """Insert or update the rows of ``patterns``; the number inserted."""
    rows = [pattern_values(st, p) for p in patterns]
    existing = existing_patterns(session, [r["id"] for r in rows])
    st.stored.update(str(r["id"]) for r in rows)
    new = [r for r in rows if r["id"] not in existing]
    old = [r for r in rows if r["id"] in existing]
    connection = session.connection()
    bulk.insert_many(connection, _PATTERNS, new)
    bulk.update_many(connection, _PATTERNS, old)
    return len(new)


def draft_id(pattern_id: str, infrastructure_id: uuid.UUID | None) -> uuid.UUID:
    return uuid.uuid5(_DRAFT_NAMESPACE, f"{pattern_id}|{infrastructure_id or 'local'}")


def _draft_values(st: LearningState, pattern: FailurePattern, host: str) -> dict[str, Any] | None:
    fixes = [f for f in pattern.fixes if f.host == host]
    if not fixes:
        return None
    fix = fixes[-1]
    ref = st.hosts.get(host)
    name = ref.hostname if ref else "this machine"
    commands = st.memory.commands
    failed = commands[fix.failed_index] if 0 <= fix.failed_index < len(commands) else None
    evidence = pattern.hosts.get(host)
    minutes = None
    if failed is not None and failed.at is not None and fix.at is not None:
        minutes = max(0, round((fix.at - failed.at).total_seconds() / 60))
    if pattern.failure_class in CAPABILITY_CLASSES:
        category = "compatibility"
    elif pattern.failure_class in TRANSIENT_CLASSES:
        category = "network"
    else:
        category = _ROOT_CAUSE_CATEGORY.get(pattern.failure_class, "other")
    message = pattern.typical_error_messages[-1] if pattern.typical_error_messages else None
    session_id = _uuid(fix.session)
    return {
        "id": draft_id(pattern.id, ref.id if ref else None),
        "failure_pattern_id": uuid.UUID(pattern.id),
        "infrastructure_id": ref.id if ref else None,
        "client_id": ref.client_id if ref else None,
        "session_id": session_id,
        "problem_title": f"{pattern.pattern_signature} on {name}"[:500],
        "problem_description": pattern.failure_description,
        "symptom": f"`{fix.failed_command}` failed on {name} ({pattern.failure_class})",
        "error_message": message,
        "investigation_steps": [
            f"ran `{fix.failed_command}`: {pattern.failure_class}" + (f" ({message})" if message else ""),
            f"ran `{fix.fix_command}`: it worked",
        ],
        "root_cause": pattern.root_cause,
        "root_cause_category": category,
        "solution_applied": f"Use `{fix.fix_command}` instead of `{fix.failed_command}`.",
        "solution_category": "alternative_approach",
        "commands_run": [fix.failed_command, fix.fix_command],
        "verification_method": "the replacement command exited 0 on the same host",
        "verification_successful": True,
        "recurrence_count": max(1, evidence.count if evidence else len(fixes)),
        "tags": [t for t in (pattern.failure_class, pattern.culprit.key if pattern.culprit else None) if t],
        "resolved_at": fix.at,
        "time_to_resolution_minutes": minutes,
        "updated_at": utcnow(),
    }


def upsert_drafts(session: Session, st: LearningState, pairs: Iterable[tuple[str, str]]) -> int:
    """Write the draft of each (pattern id, host key) whose fix was seen; the number written.
    A draft a technician verified or archived keeps its text: only its count moves."""
    values = []
    for pattern_id, host in sorted(set(pairs)):
        pattern = st.memory.patterns.get(pattern_id)
        if pattern is not None and (host == LOCAL or host in st.hosts):
            v = _draft_values(st, pattern, host)
            if v is not None:
                values.append(v)
    if not values:
        return 0
    status: dict[uuid.UUID, str] = {}
    for chunk in _chunks([v["id"] for v in values]):
        stmt = select(ProblemSolution.id, ProblemSolution.status).where(ProblemSolution.id.in_(list(chunk)))
        status.update({row_id: s for row_id, s in session.execute(stmt)})
    new = [dict(v, status="draft") for v in values if v["id"] not in status]
    drafts = [v for v in values if status.get(v["id"]) == "draft"]
    kept = [
        {"id": v["id"], "recurrence_count": v["recurrence_count"], "updated_at": v["updated_at"]}
        for v in values
        if v["id"] in status and status[v["id"]] != "draft"
    ]
    connection = session.connection()
    bulk.insert_many(connection, _SOLUTIONS, new)
    bulk.update_many(connection, _SOLUTIONS, drafts)
    bulk.update_many(connection, _SOLUTIONS, kept)
    return len(values)


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None
