"""Auto-recovery on every backend: an explanation for every failure with the decision its class
calls for, the attempts read from what ran next (numbered, timed, succeeded or not), the health
figures, operation failures classified and grouped by the same engine, and imports explained
lazily by the catch-up."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mspmode.db.session import Database
from mspmode.engine.recovery import is_catastrophic
from mspmode.errors import PermissionDeniedError, ValidationError
from mspmode.models.learning import FailurePattern, OperationFailure
from mspmode.models.recovery import RecoveryAttempt, RecoveryExplanation
from mspmode.models.work import CommandRun
from mspmode.services import crud, learning, operations, recovery
from mspmode.services.actor import Actor, local_actor
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from tests.integration.test_learning import make_rt

ADMIN = local_actor()
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("home"))


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def run(
    host: str, command: str, exit_code: int, output: str, minutes: float, session: str
) -> learning.CommandIn:
    return learning.CommandIn(
        command=command,
        exit_code=exit_code,
        output=output,
        host=host,
        at=T0 + timedelta(minutes=minutes),
        session=session,
    )


def explanation(rt: Runtime, command_id: uuid.UUID) -> RecoveryExplanation:
    with rt.db.read() as s:
        return s.scalars(
            select(RecoveryExplanation).where(RecoveryExplanation.command_run_id == command_id)
        ).one()


def attempts(rt: Runtime, command_id: uuid.UUID) -> list[RecoveryAttempt]:
    with rt.db.read() as s:
        stmt = select(RecoveryAttempt).where(RecoveryAttempt.failed_command_id == command_id)
        return list(s.scalars(stmt.order_by(RecoveryAttempt.attempt_number)))


NOT_RECOGNIZED = (
    "{w} : The term '{w}' is not recognized as the name of a cmdlet, function, script file, "
    "or operable program.\n    + CategoryInfo          : ObjectNotFound: ({w}:String) [], "
    "CommandNotFoundException"
)


def test_every_recorded_failure_is_explained_by_its_class(rt: Runtime, uid: str) -> None:
    host, s = f"web-{uid}", f"s-{uid}"
    cmdlet = f"Get-Thing{uid}"
    recorded = learning.record_commands(
        rt,
        ADMIN,
        [
            run(
                host,
                f"curl https://api-{uid}.example/x",
                28,
                "curl: (28) Connection timed out after 30001 ms",
                0,
                s,
            ),
            run(
                host,
                f"rm /etc/{uid}.conf",
                1,
                f"rm: cannot remove '/etc/{uid}.conf': Permission denied",
                1,
                s,
            ),
            run(
                host,
                f"sqlcmd -S db -U sa{uid}",
                1,
                f"Msg 18456, Level 14: Login failed for user 'sa{uid}'.",
                2,
                s,
            ),
            run(host, cmdlet, 1, NOT_RECOGNIZED.format(w=cmdlet), 3, s),
        ],
    )
    # One at a time, as the agent hooks record them: the fix is learned in between.
    recorded += learning.record_commands(rt, ADMIN, [run(host, f"Get-WmiObject Win32_{uid}", 0, "ok", 4, s)])
    recorded += learning.record_commands(
        rt,
        ADMIN,
        [
            run(host, f"{cmdlet} -Name x", 1, NOT_RECOGNIZED.format(w=cmdlet), 5, s),
            run(
                host,
                f"cat /srv/{uid}/missing",
                1,
                f"cat: /srv/{uid}/missing: No such file or directory",
                6,
                s,
            ),
        ],
    )
    recorded += learning.record_commands(rt, ADMIN, [run(host, f"echo {uid}", 0, uid, 7, s)])
    rows = [r.row for r in recorded]
    decided = {r["command_text"]: explanation(rt, r["id"]) for r in rows if r["success"] is False}
    assert len(decided) == 6  # every failure, none of the successes

    timeout = decided[f"curl https://api-{uid}.example/x"]
    assert timeout.retry_decision == "retry_with_backoff" and timeout.severity_level == "low"
    assert "5, 15, 45 s" in (timeout.retry_explanation or "")
    assert timeout.suggested_commands == [f"curl https://api-{uid}.example/x"]

    denied = decided[f"rm /etc/{uid}.conf"]
    assert denied.retry_decision == "escalate_to_user" and denied.severity_level == "high"
    assert denied.user_action_required and "rights" in denied.user_action_required

    auth = decided[f"sqlcmd -S db -U sa{uid}"]
    assert auth.retry_decision == "escalate_to_user"
    assert auth.user_action_required and "credentials" in auth.user_action_required

    first = decided[cmdlet]
    assert first.retry_decision == "do_not_retry"  # nothing known to work instead, yet
    assert first.user_action_required and cmdlet in first.user_action_required
    again = decided[f"{cmdlet} -Name x"]
    assert again.retry_decision == "use_learned_alternative"  # the fix seen in between
    assert again.suggested_commands and again.suggested_commands[0] == f"Get-WmiObject Win32_{uid}"
    assert again.failure_pattern_id is not None

    missing = decided[f"cat /srv/{uid}/missing"]
    assert missing.retry_decision == "do_not_retry" and missing.severity_level == "medium"
    assert all(e.failure_summary and e.root_cause for e in decided.values())


def test_attempts_are_read_from_what_ran_next(rt: Runtime, uid: str) -> None:
    host, s = f"nas-{uid}", f"s-{uid}"
    timeout = "ssh: connect to host nas port 22: Connection timed out"
    recorded = learning.record_commands(
        rt,
        ADMIN,
        [
            run(host, f"rsync -a /data/{uid} nas:/backup", 255, timeout, 0, s),
            run(host, f"rsync -a /data/{uid} nas:/backup", 255, timeout, 1, s),
            run(host, f"rsync -a /data/{uid} nas:/backup", 0, "sent 10 bytes", 3, s),
            run(host, f"ls /backup/{uid}", 0, "ok", 60, s),  # not an attempt: another program
        ],
    )
    failed = recorded[0].row["id"]
    tries = attempts(rt, failed)
    assert [t.attempt_number for t in tries] == [1, 2]
    assert [t.recovery_strategy for t in tries] == ["retry_with_backoff", "retry_with_backoff"]
    assert [t.outcome for t in tries] == ["failed", "succeeded"]
    assert [t.success for t in tries] == [False, True]
    assert tries[1].resolution_seconds == 180 and tries[0].resolution_seconds == 60
    assert tries[1].result_command_id == recorded[2].row["id"]
    assert tries[1].infrastructure_id is not None and tries[1].session_id == recorded[0].row["session_id"]
    # The second failure has its own attempt: the success after it.
    (second,) = attempts(rt, recorded[1].row["id"])
    assert second.outcome == "succeeded" and second.resolution_seconds == 120
    # Recording again changes nothing: the attempts are written once.
    assert recovery.catch_up(rt, ADMIN)["attempts"] == 0


def test_a_fix_is_an_attempt_with_the_learned_alternative(rt: Runtime, uid: str) -> None:
    host = f"dc-{uid}"
    cmdlet = f"Get-Local{uid}"
    fix = f"Get-WmiObject Win32_UserAccount -Filter Name={uid}"
    learning.record_commands(
        rt,
        ADMIN,
        [
            run(host, cmdlet, 1, NOT_RECOGNIZED.format(w=cmdlet), 0, f"a-{uid}"),
            run(host, fix, 0, "ok", 2, f"a-{uid}"),
        ],
    )
    later = learning.record_commands(
        rt,
        ADMIN,
        [
            run(host, f"{cmdlet} -Name y", 1, NOT_RECOGNIZED.format(w=cmdlet), 100, f"b-{uid}"),
            run(host, fix, 0, "ok", 101, f"b-{uid}"),
            run(host, "hostname", 0, host, 200, f"b-{uid}"),
        ],
    )
    (attempt,) = attempts(rt, later[0].row["id"])
    assert attempt.recovery_strategy == "use_learned_alternative"
    assert attempt.outcome == "succeeded" and attempt.attempted_command == fix
    assert attempt.reasoning and "alternative" in attempt.reasoning


def test_health_figures(rt: Runtime, uid: str) -> None:
    host, s = f"srv-{uid}", f"s-{uid}"
    learning.record_commands(
        rt,
        ADMIN,
        [
            run(host, f"ping -c1 gw-{uid}", 1, f"ping: gw-{uid}: Temporary failure in name resolution", 0, s),
            run(host, f"ping -c1 gw-{uid}", 0, "1 received", 2, s),
            run(
                host,
                f"sudo -u x{uid} ls /root",
                1,
                "ls: cannot open directory '/root': Permission denied",
                3,
                s,
            ),
            run(host, "uptime", 0, "up", 90, s),
        ],
    )
    figures = recovery.health(rt, ADMIN)
    assert figures["failures"] >= 2 and figures["unresolved_failures"] >= 1
    assert figures["failures_with_attempts"] >= 1 and figures["recovered"] >= 1
    assert 0 < figures["recovery_success_rate"] <= 1
    assert figures["mean_time_to_recovery_seconds"] > 0
    assert figures["by_strategy"]["retry_with_backoff"]["succeeded"] >= 1
    assert figures["explanations_by_decision"]["escalate_to_user"] >= 1
    assert sum(figures["patterns_by_severity"].values()) >= 1
    assert figures["pending_explanations"] == 0
    assert any(
        "Permission denied" in e["summary"] or "permission" in e["summary"]
        for e in figures["open_escalations"]
    )
    # A reader sees the same figures without writing anything.
    reader = Actor(type="api_key", role="readonly", name="reader")
    assert recovery.health(rt, reader)["refreshed"] is None
    with pytest.raises(PermissionDeniedError):
        recovery.catch_up(rt, reader)


def test_an_import_is_explained_lazily_by_the_catch_up(rt: Runtime, uid: str) -> None:
    host = f"imp-{uid}"
    lines = [
        json.dumps(
            {
                "kind": "command",
                "host": host,
                "command": f"wget http://mirror-{uid}/file",
                "exit_code": 4,
                "output": "Connection timed out.",
                "at": (T0 + timedelta(minutes=i)).isoformat(),
                "session": f"i-{uid}",
            }
        ).encode()
        for i in range(5)
    ]
    learning.import_lines(rt, ADMIN, lines, source="lazy")
    with rt.db.read() as s:
        ids = list(s.scalars(select(CommandRun.id).where(CommandRun.host == host)))
        explained = s.scalar(select(func.count()).where(RecoveryExplanation.command_run_id.in_(ids)))
    assert len(ids) == 5 and explained == 0
    assert recovery.health(rt, Actor(type="api_key", role="readonly", name="r"))["pending_explanations"] >= 5
    done = recovery.catch_up(rt, ADMIN)
    assert done["command_explanations"] >= 5
    with rt.db.read() as s:
        decisions = list(
            s.scalars(
                select(RecoveryExplanation.retry_decision).where(RecoveryExplanation.command_run_id.in_(ids))
            )
        )
    assert decisions == ["retry_with_backoff"] * 5
    assert recovery.catch_up(rt, ADMIN)["command_explanations"] == 0


def test_operation_failures_are_classified_grouped_and_explained(rt: Runtime, uid: str) -> None:
    first = operations.record_failure(
        rt,
        ADMIN,
        operations.OperationIn(
            "backup_operation",
            f"nightly backup {uid}",
            f"Connection to 10.1.2.3:445 timed out after 30 seconds ({uid})",
            target_system=f"nas-{uid}",
        ),
    )
    second = operations.record_failure(
        rt,
        ADMIN,
        operations.OperationIn(
            "backup_operation",
            f"nightly backup {uid}",
            f"Connection to 10.1.2.4:445 timed out after 45 seconds ({uid})",
            target_system=f"nas-{uid}",
        ),
    )
    assert first["failure_category"] == "timeout" and first["is_transient"] is True
    assert first["related_pattern_id"] == second["related_pattern_id"]  # numbers and addresses masked
    assert first["recovery"]["retry_decision"] == "retry_with_backoff"
    assert first["recovery"]["suggested_commands"] == []
    with rt.db.read() as s:
        pattern = s.get(FailurePattern, first["related_pattern_id"])
        assert pattern is not None
        assert pattern.occurrence_count == 2 and pattern.is_transient
        assert pattern.triggering_operations == [f"nightly backup {uid}"]
        assert pattern.error_pattern and not is_catastrophic(pattern.error_pattern)
        assert re.search(pattern.error_pattern, first["error_message"])
    denied = operations.record_failure(
        rt,
        ADMIN,
        operations.OperationIn("api_call", f"GET /tickets {uid}", "HTTP 401 Unauthorized: token expired"),
    )
    assert denied["recovery"]["retry_decision"] == "escalate_to_user"
    assert "credentials" in denied["recovery"]["user_action_required"]
    with pytest.raises(ValidationError):
        operations.record_failure(rt, ADMIN, operations.OperationIn("teleport", "x", "y"))


def test_an_operation_failure_written_through_the_generic_route_is_classified_later(
    rt: Runtime, uid: str
) -> None:
    spec = next(s for s in RESOURCES if s.name == "operation-failures")
    row = crud.create_row(
        rt,
        ADMIN,
        spec,
        {
            "operation_type": "file_operation",
            "operation_description": f"copy {uid}",
            "error_message": "Access is denied.",
        },
    )
    assert row.fingerprint is None
    recovery.catch_up(rt, ADMIN)
    with rt.db.read() as s:
        done = s.get(OperationFailure, row.id)
        assert done is not None and done.failure_category == "permission_denied" and done.fingerprint
        e = s.scalars(
            select(RecoveryExplanation).where(RecoveryExplanation.operation_failure_id == row.id)
        ).one()
    assert e.retry_decision == "escalate_to_user"


def test_a_secret_in_an_operation_failure_is_never_stored(rt: Runtime, uid: str) -> None:
    secret = "hunter2-" + uid
    out = operations.record_failure(
        rt,
        ADMIN,
        operations.OperationIn(
            "api_call",
            f"POST https://admin:{secret}@psa.example/api",
            f"401 Unauthorized for https://admin:{secret}@psa.example/api",
            request_data={"password": secret},
        ),
    )
    assert secret not in json.dumps(out, default=str)
    assert secret not in json.dumps(out["recovery"], default=str)
