"""Auto-recovery (seed 004) over the database: a ``recovery_explanations`` row for every
failure, the ``recovery_attempts`` that followed it, and the health figures they add up to.

    after_batch(rt, session, recorded)   learning.history, after an API batch is recorded
    catch_up(rt, actor)                  everything not yet explained or followed up (msp health)
    health(rt, actor)                    msp health, GET /api/health/recovery

Explanations are decided by ``engine.recovery.decide`` from the failure's class and its
pattern (root cause, learned workaround, how often it failed) and written in bulk, one INSERT
for a batch. Commands recorded through the API are explained in the same transaction; an
import (``msp import``, tens of thousands of commands a second) is explained lazily: the next
``catch_up`` — run by ``msp health``, ``msp insights``, ``msp maintenance`` and the recovery
route — finds every failure without an explanation with one anti-join and explains them all.

Attempts are read from the history, not guessed: after a failed command, the next commands in
the same session on the same host within ``WINDOW`` that retry it (same text), carry out the
learned fix (the failure's recorded resolution) or change it (same program) are its attempts,
numbered, timed from the failure, until one works. A failure less than ``WINDOW`` old without
a success yet is left for a later pass: more may come.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from mspmode.db import bulk
from mspmode.db.base import utcnow
from mspmode.engine import recovery as decisions
from mspmode.errors import PermissionDeniedError
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import FailurePattern, OperationFailure
from mspmode.models.recovery import RecoveryAttempt, RecoveryExplanation
from mspmode.models.work import CommandRun
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import scope_clause, table_of

WINDOW = timedelta(minutes=30)
LOOKAHEAD = 8  # commands after a failure that may be its attempts
_CHUNK = 500
_CMD = table_of(CommandRun)
_PAT = table_of(FailurePattern)
_HOST = table_of(Infrastructure)
_OPS = table_of(OperationFailure)
_EXP = table_of(RecoveryExplanation)
_ATT = table_of(RecoveryAttempt)
# commands_run.failure_category is the column's vocabulary; the engine's classes are finer.
_CATEGORY_CLASS = {"syntax_error": "usage_error"}


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _explanation_row(decision: decisions.Decision, **refs: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "created_at": utcnow(),
        "command_run_id": refs.get("command_run_id"),
        "operation_failure_id": refs.get("operation_failure_id"),
        "failure_pattern_id": refs.get("failure_pattern_id"),
        "failure_summary": decision.failure_summary,
        "root_cause": decision.root_cause,
        "retry_decision": decision.retry_decision,
        "retry_explanation": decision.retry_explanation,
        "user_action_required": decision.user_action_required,
        "severity_level": decision.severity_level,
        "suggested_commands": decision.suggested_commands,
    }


# --------------------------------------------------------------------------------------------
# Explanations


def explain_commands(session: Session, ids: Sequence[uuid.UUID] | None = None) -> int:
    """Explain the failed commands that have no explanation yet (only ``ids`` if given);
    the number written."""
    unexplained = ~exists().where(_EXP.c.command_run_id == _CMD.c.id)
    stmt = (
        select(
            _CMD.c.id,
            _CMD.c.command_text,
            _CMD.c.host,
            _CMD.c.error_message,
            _CMD.c.failure_category,
            _CMD.c.is_transient,
            _CMD.c.culprit,
            _CMD.c.failure_pattern_id,
            _PAT.c.failure_class,
            _PAT.c.root_cause,
            _PAT.c.workaround_commands,
            _PAT.c.occurrence_count,
            _PAT.c.severity,
            _HOST.c.hostname,
        )
        .select_from(_CMD)
        .outerjoin(_PAT, _PAT.c.id == _CMD.c.failure_pattern_id)
        .outerjoin(_HOST, _HOST.c.id == _CMD.c.infrastructure_id)
        .where(_CMD.c.success.is_(False), unexplained)
    )
    batches = [stmt.where(_CMD.c.id.in_(list(chunk))) for chunk in _chunks(list(ids))] if ids else [stmt]
    if ids is not None and not ids:
        return 0
    rows_out: list[dict[str, Any]] = []
    for query in batches:
        for r in session.execute(query):
            cls = r.failure_class or _CATEGORY_CLASS.get(
                r.failure_category or "", r.failure_category or "unknown"
            )
            failure = decisions.Failure(
                failure_class=cls,
                is_transient=bool(r.is_transient),
                what=r.command_text or "",
                host=r.hostname or r.host,
                message=r.error_message,
                culprit=r.culprit,
                root_cause=r.root_cause,
                workarounds=tuple(str(w) for w in (r.workaround_commands or [])),
                occurrences=int(r.occurrence_count or 1),
                pattern_severity=r.severity,
            )
            rows_out.append(
                _explanation_row(
                    decisions.decide(failure), command_run_id=r.id, failure_pattern_id=r.failure_pattern_id
                )
            )
    for chunk in _chunks(rows_out, 2_000):
        bulk.insert_many(session.connection(), _EXP, chunk)
    return len(rows_out)


def explain_operations(session: Session, ids: Sequence[uuid.UUID] | None = None) -> int:
    """Explain the classified operation failures that have no explanation yet."""
    unexplained = ~exists().where(_EXP.c.operation_failure_id == _OPS.c.id)
    stmt = (
        select(
            _OPS.c.id,
            _OPS.c.operation_description,
            _OPS.c.target_system,
            _OPS.c.error_message,
            _OPS.c.failure_category,
            _OPS.c.is_transient,
            _OPS.c.related_pattern_id,
            _PAT.c.root_cause,
            _PAT.c.workaround_commands,
            _PAT.c.occurrence_count,
            _PAT.c.severity,
        )
        .select_from(_OPS)
        .outerjoin(_PAT, _PAT.c.id == _OPS.c.related_pattern_id)
        .where(_OPS.c.fingerprint.is_not(None), unexplained)
    )
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(_OPS.c.id.in_(list(ids)))
    rows_out = []
    for r in session.execute(stmt):
        failure = decisions.Failure(
            failure_class=r.failure_category or "unknown",
            is_transient=bool(r.is_transient),
            what=r.operation_description or "",
            host=r.target_system,
            message=(r.error_message or "").splitlines()[0] if r.error_message else None,
            root_cause=r.root_cause,
            workarounds=tuple(str(w) for w in (r.workaround_commands or [])),
            occurrences=int(r.occurrence_count or 1),
            pattern_severity=r.severity,
            is_command=False,
        )
        rows_out.append(
            _explanation_row(
                decisions.decide(failure), operation_failure_id=r.id, failure_pattern_id=r.related_pattern_id
            )
        )
    for chunk in _chunks(rows_out, 2_000):
        bulk.insert_many(session.connection(), _EXP, chunk)
    return len(rows_out)


def explanation_of(
    session: Session,
    *,
    command_run_id: uuid.UUID | None = None,
    operation_failure_id: uuid.UUID | None = None,
) -> dict[str, Any] | None:
    """The newest explanation of one failure, as a plain dict."""
    stmt = select(_EXP)
    if command_run_id is not None:
        stmt = stmt.where(_EXP.c.command_run_id == command_run_id)
    else:
        stmt = stmt.where(_EXP.c.operation_failure_id == operation_failure_id)
    row = session.execute(stmt.order_by(_EXP.c.created_at.desc()).limit(1)).mappings().first()
    return dict(row) if row is not None else None


# --------------------------------------------------------------------------------------------
# Attempts


def _program(text: str) -> str:
    words = text.strip().split()
    while words and words[0].lower() in ("sudo", "doas", "env", "time", "nohup"):
        words = words[1:]
    return words[0].lower() if words else ""


def derive_attempts(
    session: Session, session_ids: Iterable[uuid.UUID] | None = None, since: datetime | None = None
) -> int:
    """Write the attempts that followed failed commands without attempts yet (in
    ``session_ids`` if given, run at or after ``since`` if given); the number written."""
    if session_ids is not None:
        sessions = list(set(session_ids))  # a batch just recorded: no search for them
    else:
        has_attempt = exists().where(_ATT.c.failed_command_id == _CMD.c.id)
        pending = select(_CMD.c.session_id).where(_CMD.c.success.is_(False), ~has_attempt).distinct()
        sessions = list(session.scalars(pending))
    if not sessions:
        return 0
    cols = (
        _CMD.c.id,
        _CMD.c.session_id,
        _CMD.c.infrastructure_id,
        _CMD.c.host,
        _CMD.c.command_text,
        _CMD.c.success,
        _CMD.c.resolution,
        _CMD.c.failure_pattern_id,
        _CMD.c.executed_at,
        _CMD.c.created_at,
        _CMD.c.duration_ms,
    )
    rows: list[Any] = []
    if since is not None:
        # Recent rows by the executed_at index, sessions picked here: a session's own index
        # would read all of a long session's history.
        wanted = set(sessions)
        rows = [
            r
            for r in session.execute(select(*cols).where(_CMD.c.executed_at >= since))
            if r.session_id in wanted
        ]
    else:
        for chunk in _chunks(sessions, 200):
            rows.extend(session.execute(select(*cols).where(_CMD.c.session_id.in_(list(chunk)))))
    failed_ids = [r.id for r in rows if r.success is False]
    attempted: set[uuid.UUID] = set()
    decided: dict[uuid.UUID, str] = {}
    for chunk in _chunks(failed_ids):
        ids = list(chunk)
        attempted.update(
            session.scalars(select(_ATT.c.failed_command_id).where(_ATT.c.failed_command_id.in_(ids)))
        )
        found = select(_EXP.c.command_run_id, _EXP.c.retry_decision).where(_EXP.c.command_run_id.in_(ids))
        decided.update(session.execute(found).all())
    groups: dict[tuple[Any, Any], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(r.session_id, r.infrastructure_id or (r.host or "").lower())].append(r)
    out: list[dict[str, Any]] = []
    for cmds in groups.values():
        cmds.sort(key=lambda r: (r.executed_at, r.created_at))
        now = utcnow()
        for i, failed in enumerate(cmds):
            if failed.success is not False or failed.id in attempted:
                continue
            out.extend(_attempts_for(failed, cmds[i + 1 : i + 1 + LOOKAHEAD], now, decided.get(failed.id)))
    for chunk in _chunks(out, 2_000):
        bulk.insert_many(session.connection(), _ATT, chunk)
    return len(out)


def _attempts_for(
    failed: Any, following: Sequence[Any], now: datetime, decision: str | None
) -> list[dict[str, Any]]:
    text = (failed.command_text or "").strip()
    program = _program(text)
    found: list[dict[str, Any]] = []
    succeeded = False
    for d in following:
        gap = d.executed_at - failed.executed_at
        if gap > WINDOW:
            break
        other = (d.command_text or "").strip()
        if other == text:
            strategy, why = "retry_with_backoff", "ran the same command again"
        elif failed.resolution and failed.resolution == f"fixed by `{other}`"[:2000]:
            learned = decision == "use_learned_alternative"
            strategy = "use_learned_alternative" if learned else "modify_command"
            why = (
                "ran the alternative learned for this failure"
                if learned
                else "ran a different command that did the job"
            )
        elif program and _program(other) == program:
            strategy, why = "modify_command", f"ran `{program}` again with other arguments"
        else:
            continue
        outcome = "succeeded" if d.success is True else "failed" if d.success is False else "pending"
        done = d.executed_at + timedelta(milliseconds=d.duration_ms) if d.duration_ms else d.executed_at
        now = utcnow()
        found.append(
            {
                "id": uuid.uuid4(),
                "created_at": now,
                "updated_at": now,
                "failed_command_id": failed.id,
                "operation_failure_id": None,
                "failure_pattern_id": failed.failure_pattern_id,
                "infrastructure_id": failed.infrastructure_id,
                "session_id": failed.session_id,
                "result_command_id": d.id,
                "recovery_strategy": strategy,
                "attempt_number": len(found) + 1,
                "started_at": d.executed_at,
                "completed_at": done if outcome != "pending" else None,
                "success": True if outcome == "succeeded" else False if outcome == "failed" else None,
                "outcome": outcome,
                "reasoning": why,
                "attempted_command": other[:100_000],
                "error_message": None,
                "resolution_seconds": max(0, int(gap.total_seconds())),
            }
        )
        if d.success is True:
            succeeded = True
            break
    if not succeeded and now - failed.executed_at <= WINDOW:
        return []  # its window is still open: decided on a later pass
    return found


# --------------------------------------------------------------------------------------------
# Entry points


def after_batch(rt: Runtime, session: Session, recorded: Sequence[Any]) -> None:
    """Explain the failures of a batch just recorded through the API and write the attempts
    it completes, in the recording's transaction (two bulk statements, no per-row trips)."""
    failed = [r.row["id"] for r in recorded if r.row.get("success") is False]
    if failed:
        explain_commands(session, failed)
    touched = {r.row["session_id"] for r in recorded if r.row.get("session_id")}
    # Only failures whose window this batch can close: a long session is not read again and
    # again (older failures without attempts are left to the catch-up).
    since = min((r.row["executed_at"] for r in recorded), default=None)
    derive_attempts(session, touched, since - WINDOW if since is not None else None)


def catch_up_in(session: Session) -> dict[str, int]:
    """Every pass over what is not done yet, in the caller's transaction."""
    from mspmode.services import operations

    classified = operations.classify_pending(session)
    return {
        "operations_classified": classified,
        "command_explanations": explain_commands(session),
        "operation_explanations": explain_operations(session),
        "attempts": derive_attempts(session),
    }


def catch_up(rt: Runtime, actor: Actor) -> dict[str, int]:
    """Explain and follow up every failure not done yet (imports are explained lazily)."""
    if not actor.has_role("technician"):
        raise PermissionDeniedError(f"role {actor.role} may not update recovery data (needs technician)")
    with rt.db.write() as s:
        done = catch_up_in(s)
        if any(done.values()):
            audit.record(
                s,
                rt.audit_signer,
                actor,
                "create",
                "recovery_explanations",
                None,
                {**done, "source": "catch-up"},
            )
    return done


def _scoped(table: Any, actor: Actor) -> list[ColumnElement[bool]]:
    return [] if actor.client_scope is None else [scope_clause(table, actor.client_scope)]


def health(rt: Runtime, actor: Actor, *, refresh: bool = True) -> dict[str, Any]:
    """Recovery success rate, mean time to recovery, patterns by severity, unresolved failures,
    decisions taken, per strategy success — over what ``actor`` may see. With ``refresh`` and a
    technician, what is not explained yet is explained first."""
    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")
    refreshed = catch_up(rt, actor) if refresh and actor.has_role("technician") else None
    with rt.db.read() as s:
        cmd_scope = _scoped(_CMD, actor)
        op_scope = _scoped(_OPS, actor)
        att_scope = _scoped(_ATT, actor)
        failed_commands = s.scalar(select(func.count()).where(_CMD.c.success.is_(False), *cmd_scope)) or 0
        unresolved_commands = (
            s.scalar(
                select(func.count()).where(_CMD.c.success.is_(False), _CMD.c.resolved.is_(False), *cmd_scope)
            )
            or 0
        )
        failed_ops = s.scalar(select(func.count()).select_from(_OPS).where(*op_scope)) or 0
        unresolved_ops = s.scalar(select(func.count()).where(_OPS.c.resolved.is_(False), *op_scope)) or 0
        pending_explanations = (
            s.scalar(
                select(func.count()).where(
                    _CMD.c.success.is_(False), ~exists().where(_EXP.c.command_run_id == _CMD.c.id), *cmd_scope
                )
            )
            or 0
        )
        attempts = list(
            s.execute(
                select(
                    _ATT.c.failed_command_id,
                    _ATT.c.operation_failure_id,
                    _ATT.c.recovery_strategy,
                    _ATT.c.outcome,
                    _ATT.c.resolution_seconds,
                ).where(*att_scope)
            )
        )
        by_severity: dict[Any, int] = dict(
            s.execute(
                select(_PAT.c.severity, func.count())
                .where(_PAT.c.is_active.is_(True), *_scoped(_PAT, actor))
                .group_by(_PAT.c.severity)
            ).all()
        )
        by_decision: dict[Any, int] = dict(
            s.execute(
                select(_EXP.c.retry_decision, func.count())
                .where(*_scoped(_EXP, actor))
                .group_by(_EXP.c.retry_decision)
            ).all()
        )
        escalations = list(
            s.execute(
                select(_EXP.c.failure_summary, _EXP.c.user_action_required, _EXP.c.severity_level)
                .select_from(_EXP.join(_CMD, _CMD.c.id == _EXP.c.command_run_id))
                .where(
                    _EXP.c.retry_decision == "escalate_to_user",
                    _CMD.c.resolved.is_(False),
                    *_scoped(_EXP, actor),
                )
                .order_by(_EXP.c.created_at.desc())
                .limit(10)
            )
        )
    failures: dict[Any, list[Any]] = defaultdict(list)
    per_strategy: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in attempts:
        failures[a.failed_command_id or a.operation_failure_id].append(a)
        if a.outcome in ("succeeded", "failed"):
            per_strategy[a.recovery_strategy][0] += 1
            per_strategy[a.recovery_strategy][1] += a.outcome == "succeeded"
    recovered = [
        min(x.resolution_seconds or 0 for x in v if x.outcome == "succeeded")
        for v in failures.values()
        if any(x.outcome == "succeeded" for x in v)
    ]
    with_attempts = len(failures)
    return {
        "failures": failed_commands + failed_ops,
        "unresolved_failures": unresolved_commands + unresolved_ops,
        "unresolved_commands": unresolved_commands,
        "unresolved_operations": unresolved_ops,
        "failures_with_attempts": with_attempts,
        "recovered": len(recovered),
        "recovery_success_rate": round(len(recovered) / with_attempts, 4) if with_attempts else None,
        "mean_time_to_recovery_seconds": round(sum(recovered) / len(recovered), 1) if recovered else None,
        "attempts": len(attempts),
        "by_strategy": {
            k: {"attempts": v[0], "succeeded": v[1], "success_rate": round(v[1] / v[0], 4) if v[0] else None}
            for k, v in sorted(per_strategy.items())
        },
        "patterns_by_severity": {
            str(k or "unknown"): int(v) for k, v in sorted(by_severity.items(), key=lambda kv: str(kv[0]))
        },
        "explanations_by_decision": {str(k): int(v) for k, v in sorted(by_decision.items())},
        "pending_explanations": int(pending_explanations),
        "open_escalations": [
            {"summary": e.failure_summary, "action": e.user_action_required, "severity": e.severity_level}
            for e in escalations
        ],
        "refreshed": refreshed,
    }


__all__ = [
    "after_batch",
    "catch_up",
    "catch_up_in",
    "derive_attempts",
    "explain_commands",
    "explain_operations",
    "explanation_of",
    "health",
]
