"""Retention on every backend (``msp maintenance cleanup``): single-occurrence inactive patterns
and successful attempts older than the cut-off go; frequent, confirmed, fixed, recent and
verified-solution patterns and failed attempts stay; a dry run lists the same and removes
nothing; the removal is audited and forgotten by the learning state and the one store."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mspmode.db.base import utcnow
from mspmode.db.session import Database
from mspmode.errors import PermissionDeniedError, ValidationError
from mspmode.models.learning import FailurePattern
from mspmode.models.operations import AuditLog
from mspmode.models.recovery import RecoveryAttempt
from mspmode.services import crud, learning, maintenance, operations
from mspmode.services.actor import Actor, local_actor
from mspmode.services.learning import cache
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from tests.integration.test_learning import cmd, make_rt

ADMIN = local_actor()
PATTERNS = next(s for s in RESOURCES if s.name == "failure-patterns")
SOLUTIONS = next(s for s in RESOURCES if s.name == "problem-solutions")


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("home"))


def pattern(rt: Runtime, name: str, days_ago: int, **values: Any) -> uuid.UUID:
    seen = utcnow() - timedelta(days=days_ago)
    base = {
        "pattern_type": "command_not_found",
        "pattern_signature": name,
        "failure_description": name,
        "root_cause": "test",
        "recommended_solution": "test",
        "occurrence_count": 1,
        "is_active": False,
        "confidence_level": "suspected",
        "first_seen": seen,
        "last_seen": seen,
    }
    return crud.create_row(rt, ADMIN, PATTERNS, {**base, **values}).id


def attempt(rt: Runtime, failure: uuid.UUID, number: int, outcome: str, days_ago: int) -> uuid.UUID:
    at = utcnow() - timedelta(days=days_ago)
    row = RecoveryAttempt(
        id=uuid.uuid4(),
        operation_failure_id=failure,
        recovery_strategy="retry_with_backoff",
        attempt_number=number,
        started_at=at,
        completed_at=at,
        success=outcome == "succeeded",
        outcome=outcome,
    )
    with rt.db.write() as s:
        s.add(row)
    return row.id


def existing(rt: Runtime, model: Any, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    with rt.db.read() as s:
        return set(s.scalars(select(model.id).where(model.id.in_(ids))))


def test_cleanup_removes_stale_single_patterns_and_old_successes_only(rt: Runtime) -> None:
    stale = pattern(rt, "stale once", 120)
    stale2 = pattern(rt, "stale once too", 400)
    kept = {
        "frequent": pattern(rt, "frequent", 120, occurrence_count=5),
        "confirmed": pattern(rt, "confirmed", 120, confidence_level="confirmed"),
        "active": pattern(rt, "still active", 120, is_active=True),
        "fixed": pattern(rt, "fix observed", 120, fix_observed=True),
        "recent": pattern(rt, "recent", 10),
        "solution": pattern(rt, "source of a verified solution", 120),
    }
    crud.create_row(
        rt,
        ADMIN,
        SOLUTIONS,
        {
            "failure_pattern_id": kept["solution"],
            "problem_title": "kept",
            "problem_description": "kept",
            "root_cause": "kept",
            "solution_applied": "kept",
            "status": "verified",
        },
    )
    failure = operations.record_failure(
        rt, ADMIN, operations.OperationIn("backup_operation", "old backup", "Connection timed out")
    )["id"]
    old_success = attempt(rt, failure, 1, "succeeded", 100)
    old_failed = attempt(rt, failure, 2, "failed", 100)
    new_success = attempt(rt, failure, 3, "succeeded", 5)
    patterns = [stale, stale2, *kept.values()]
    attempts = [old_success, old_failed, new_success]

    preview = maintenance.cleanup(rt, ADMIN, days=90, dry_run=True)
    assert preview["dry_run"] and preview["patterns_removed"] == 2 and preview["attempts_removed"] == 1
    assert [p["signature"] for p in preview["patterns"]] == ["stale once too", "stale once"]  # oldest first
    assert preview["old_patterns_kept"] == 5
    assert existing(rt, FailurePattern, patterns) == set(patterns)  # nothing removed
    assert existing(rt, RecoveryAttempt, attempts) == set(attempts)

    done = maintenance.cleanup(rt, ADMIN, days=90)
    assert not done["dry_run"] and done["patterns_removed"] == 2 and done["attempts_removed"] == 1
    assert done["patterns"] == preview["patterns"]
    assert existing(rt, FailurePattern, patterns) == set(kept.values())
    assert existing(rt, RecoveryAttempt, attempts) == {old_failed, new_success}
    with rt.db.read() as s:
        last = s.scalars(select(AuditLog).order_by(AuditLog.sequence.desc()).limit(1)).one()
    assert last.action == "delete" and last.entity_type == "failure_patterns"
    assert last.changes and last.changes["patterns_removed"] == 2 and last.changes["attempts_removed"] == 1

    # Nothing left to remove at 90 days; a shorter retention reaches the younger ones.
    again = maintenance.cleanup(rt, ADMIN, days=90)
    assert again["patterns_removed"] == 0 and again["attempts_removed"] == 0
    shorter = maintenance.cleanup(rt, ADMIN, days=7, dry_run=True)
    assert [p["signature"] for p in shorter["patterns"]] == ["recent"]


def test_only_an_unscoped_admin_runs_retention(rt: Runtime) -> None:
    for actor in (
        Actor(type="api_key", role="technician", name="tech"),
        Actor(type="api_key", role="admin", name="scoped", client_scope=frozenset({uuid.uuid4()})),
    ):
        with pytest.raises(PermissionDeniedError):
            maintenance.cleanup(rt, actor, dry_run=True)
    with pytest.raises(ValidationError):
        maintenance.cleanup(rt, ADMIN, days=0)


def test_cleanup_forgets_the_stored_state(rt: Runtime, tmp_path: Path) -> None:
    """The stored state remembers which patterns have a row: after a removal it is dropped
    from the one store (the index beside it stays), so the next process rebuilds it."""
    cli = make_rt(rt.db, tmp_path / "cli")
    learning.use_store(cli)
    tag = uuid.uuid4().hex[:8]
    learning.record_commands(cli, ADMIN, [cmd(f"ret-{tag}", f"nope{tag}", 127, f"sh: nope{tag}: not found")])
    with rt.db.read() as s:
        assert cache.load_state(cli, s) is not None  # control: the CLI left its state
    pattern(cli, f"stale {tag}", 200)
    assert maintenance.cleanup(cli, ADMIN, days=90)["patterns_removed"] >= 1
    assert learning.store_path(cli).exists()
    with rt.db.read() as s:
        assert cache.load_state(make_rt(rt.db, tmp_path / "cli"), s) is None
