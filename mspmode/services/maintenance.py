"""Retention (seed 004): what learning leaves behind that is no longer worth keeping.

    cleanup(rt, actor, days=90, dry_run=False)   msp maintenance cleanup

Removed, when last seen or finished more than ``days`` ago:

- failure patterns seen **once** that are no longer active — unless confirmed, fixed (a fix was
  observed), or the source of a verified problem solution;
- **successful** recovery attempts (failed ones are kept longer: they are what the success rate
  and the next decision learn from).

Kept always: frequent patterns (more than one occurrence), confirmed ones, explanations (one
per failure, removed with the failure), insights. ``dry_run`` reports the same list and removes
nothing. A removed pattern is forgotten by this process's learning state and by the one store
on disk (``services/learning/cache.py``); if its failure happens again, the engine writes it anew.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select

from mspmode.db.base import utcnow
from mspmode.errors import PermissionDeniedError, ValidationError
from mspmode.models.learning import FailurePattern, ProblemSolution
from mspmode.models.recovery import RecoveryAttempt
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of

_PAT = table_of(FailurePattern)
_PS = table_of(ProblemSolution)
_ATT = table_of(RecoveryAttempt)
_CHUNK = 500
LISTED = 50  # patterns named in the report


def cleanup(rt: Runtime, actor: Actor, *, days: int = 90, dry_run: bool = False) -> dict[str, Any]:
    """Remove (or with ``dry_run`` only list) what retention allows; what it removed."""
    from mspmode.services.learning import cache

    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")
    if not actor.has_role("admin") or actor.client_scope is not None:
        raise PermissionDeniedError("only an unscoped admin may run retention")
    if days < 1:
        raise ValidationError("days must be at least 1")
    cutoff = utcnow() - timedelta(days=days)
    verified_source = exists().where(_PS.c.failure_pattern_id == _PAT.c.id, _PS.c.status == "verified")
    removable = and_(
        _PAT.c.occurrence_count <= 1,
        _PAT.c.is_active.is_(False),
        _PAT.c.last_seen < cutoff,
        _PAT.c.confidence_level != "confirmed",
        _PAT.c.fix_observed.is_(False),
        ~verified_source,
    )
    old_success = and_(
        _ATT.c.outcome == "succeeded",
        or_(_ATT.c.completed_at < cutoff, and_(_ATT.c.completed_at.is_(None), _ATT.c.started_at < cutoff)),
    )
    with cache.lock_for(rt):
        with rt.db.write() as s:
            patterns = list(
                s.execute(
                    select(_PAT.c.id, _PAT.c.pattern_signature, _PAT.c.last_seen)
                    .where(removable)
                    .order_by(_PAT.c.last_seen)
                )
            )
            attempt_ids = list(s.scalars(select(_ATT.c.id).where(old_success)))
            kept = s.execute(select(_PAT.c.id).where(_PAT.c.last_seen < cutoff, ~removable)).all()
            report = {
                "days": days,
                "cutoff": cutoff.isoformat(),
                "dry_run": dry_run,
                "patterns_removed": len(patterns),
                "attempts_removed": len(attempt_ids),
                "old_patterns_kept": len(kept),
                "patterns": [
                    {"id": str(p.id), "signature": p.pattern_signature, "last_seen": p.last_seen.isoformat()}
                    for p in patterns[:LISTED]
                ],
            }
            if dry_run or (not patterns and not attempt_ids):
                return report
            ids = [p.id for p in patterns]
            for i in range(0, len(ids), _CHUNK):
                s.execute(delete(_PAT).where(_PAT.c.id.in_(ids[i : i + _CHUNK])))
            for i in range(0, len(attempt_ids), _CHUNK):
                s.execute(delete(_ATT).where(_ATT.c.id.in_(attempt_ids[i : i + _CHUNK])))
            audit.record(
                s,
                rt.audit_signer,
                actor,
                "delete",
                "failure_patterns",
                None,
                {
                    "patterns_removed": len(ids),
                    "attempts_removed": len(attempt_ids),
                    "days": days,
                    "source": "maintenance cleanup",
                },
            )
        # The learning state remembers which patterns have a row: it must learn they are gone.
        cache.invalidate(rt)
        cache.forget_state(rt)
    return report


__all__ = ["cleanup"]
