"""The learning services on every backend: importing history, recording commands, pre-checks,
patterns and drafts written back, re-learning, host resolution, what is kept of odd input,
and what a client-scoped actor may see.

The database is shared by the tests of this module (one per backend); each test names its own
hosts and clients (``uid``) except those reading the dev scenario, imported once.
"""

from __future__ import annotations

import json
import pickle
import shutil
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.errors import NotFoundError, PermissionDeniedError, ValidationError
from mspmode.hooks import index
from mspmode.models.core import Client
from mspmode.models.core import Session as WorkSession
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import CheckVerdict, FailurePattern, ProblemSolution
from mspmode.models.operations import AuditLog
from mspmode.models.work import CommandRun
from mspmode.services import audit, learning
from mspmode.services import hooks as hook_service
from mspmode.services.actor import Actor, local_actor
from mspmode.services.learning import cache, verdicts
from mspmode.services.learning.state import LearningState
from mspmode.services.learning.text import COMMAND_LIMIT
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from tests.conftest import create_scratch_database

ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the checkout, or beside a folder above it (a worktree under wt/)
SHARED = next(
    (p / "shared" for p in ROOT.parents if (p / "shared" / "scenarios").is_dir()), ROOT.parent / "shared"
)
DEV_SET = SHARED / "scenarios" / "dev-learning.jsonl"
ADMIN = local_actor()


def make_rt(db: Database, home: Path) -> Runtime:
    home.mkdir(parents=True, exist_ok=True)
    for name in KEY_NAMES:
        ensure_key_file(name, home / f"{name}.key")
    settings = Settings(home=home, database_url=db.url.render_as_string(hide_password=False))
    return Runtime(settings, db)


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def dev(rt: Runtime) -> learning.ImportReport:
    if not DEV_SET.exists():
        pytest.skip(f"dev set not found at {DEV_SET}")
    return learning.import_file(rt, ADMIN, DEV_SET)


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def address_of(uid: str, block: int) -> str:
    """An IPv4 address in 198.<block>.0.0/16 (RFC 2544, 18 or 19) made of 16 bits of the uid.

    No other test nor corpus uses that range, so the address can only meet a host an earlier
    run of the same test left in a database kept between runs: one chance in 65,536.
    """
    return f"198.{block}.{int(uid[:2], 16)}.{int(uid[2:4], 16)}"


def jsonl(path: Path, *events: dict[str, Any] | str) -> Path:
    path.write_text("\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) + "\n")
    return path


def cmd(
    host: str | None, command: str, exit_code: int | None, output: str = "", **kw: Any
) -> learning.CommandIn:
    return learning.CommandIn(command=command, exit_code=exit_code, output=output, host=host, **kw)


def rows(rt: Runtime, model: Any, *where: Any) -> list[Any]:
    with rt.db.read() as s:
        return list(s.scalars(select(model).where(*where)))


# --------------------------------------------------------------------------------------------
# The dev scenario


def test_dev_scenario_is_imported_and_every_check_holds(rt: Runtime, dev: learning.ImportReport) -> None:
    assert (dev.clients, dev.hosts, dev.commands, dev.checks_skipped) == (3, 10, 68, 20)
    assert dev.bad_lines == [] and dev.unknown_kinds == {}
    assert dev.failures == 11 and dev.patterns_new >= 9 and dev.fixes >= 9
    checks = [json.loads(line) for line in DEV_SET.read_text().splitlines() if '"check"' in line]
    misses = []
    for c in checks:
        result = learning.check(rt, ADMIN, c["host"], c["command"])
        assert list(result) == [
            "host",
            "command",
            "verdict",
            "confidence",
            "reason",
            "suggestions",
            "pattern_ids",
        ]
        assert result["command"] == c["command"]
        wanted = {"block": {"block"}, "warn_or_block": {"warn", "block"}, "allow": {"allow"}}[c["expect"]]
        first = result["suggestions"][0] if result["suggestions"] else ""
        if result["verdict"] not in wanted:
            misses.append((c["command"], c["host"], result["verdict"], result["reason"]))
        elif c.get("expect_suggestion") and c["expect_suggestion"].lower() not in first.lower():
            misses.append((c["command"], "suggestion", first))
    assert misses == []


def test_patterns_and_classifications_are_stored(rt: Runtime, dev: learning.ImportReport) -> None:
    patterns = rows(rt, FailurePattern, FailurePattern.culprit == "systemctl")
    assert len(patterns) == 1
    p = patterns[0]
    assert p.failure_class == "command_not_found" and p.culprit_kind == "command" and p.fix_observed
    assert p.workaround_commands == ["service nmbd status"] and p.affected_systems == ["D2TESTNAS"]
    nas = rows(rt, Infrastructure, Infrastructure.hostname == "D2TESTNAS")[0]
    dataforth = rows(rt, Client, Client.name == "Dataforth")[0]
    assert p.infrastructure_id == nas.id and p.client_id == dataforth.id
    failed = rows(rt, CommandRun, CommandRun.command_text == "systemctl status nmbd")
    assert len(failed) == 1
    f = failed[0]
    assert (f.success, f.exit_code, f.failure_category, f.culprit) == (
        False,
        127,
        "command_not_found",
        "systemctl",
    )
    assert f.failure_pattern_id == p.id and f.infrastructure_id == nas.id and len(f.fingerprint) == 64
    assert (
        f.error_message == "-ash: systemctl: not found"
        and f.resolved
        and "service nmbd status" in f.resolution
    )
    session = rows(rt, WorkSession, WorkSession.id == f.session_id)[0]
    assert session.external_session_id == "D2TESTNAS-s0" and session.client_id == dataforth.id
    ok = rows(rt, CommandRun, CommandRun.command_text == "service nmbd status")[0]
    assert ok.success is True and ok.failure_category is None and ok.failure_pattern_id is None


def test_a_fix_leaves_a_problem_solution_draft(rt: Runtime, dev: learning.ImportReport) -> None:
    ad1 = rows(rt, Infrastructure, Infrastructure.hostname == "AD1")[0]
    drafts = rows(rt, ProblemSolution, ProblemSolution.infrastructure_id == ad1.id)
    assert drafts, "the Get-LocalUser fix on AD1 should leave a draft"
    d = next(d for d in drafts if "Get-LocalUser" in d.symptom)
    assert d.status == "draft" and d.client_id == ad1.client_id and d.failure_pattern_id is not None
    assert d.commands_run[0] == "Get-LocalUser" and d.commands_run[1].startswith("Get-WmiObject")
    assert "Get-WmiObject" in d.solution_applied and d.root_cause and d.investigation_steps
    assert d.recurrence_count >= 1 and d.resolved_at is not None and d.time_to_resolution_minutes is not None


def test_the_import_writes_one_audit_row(rt: Runtime, dev: learning.ImportReport) -> None:
    entries = rows(rt, AuditLog, AuditLog.entity_type == "commands_run")
    mine = [e for e in entries if e.changes == {"count": 68, "source": "dev-learning.jsonl"}]
    assert len(mine) == 1 and mine[0].action == "create" and mine[0].actor_type == "cli"


def test_relearn_keeps_pattern_ids_and_changes_nothing(rt: Runtime, dev: learning.ImportReport) -> None:
    def snapshot() -> dict[str, Any]:
        with rt.db.read() as s:
            return {
                "patterns": {
                    (p.id, p.occurrence_count, p.confidence_level) for p in s.scalars(select(FailurePattern))
                },
                "commands": {
                    (c.id, c.failure_pattern_id, c.fingerprint, c.resolved)
                    for c in s.scalars(select(CommandRun))
                },
                "drafts": {(d.id, d.recurrence_count) for d in s.scalars(select(ProblemSolution))},
            }

    before = snapshot()
    report = learning.relearn(rt, ADMIN)
    assert report.patterns_new == 0 and report.commands_changed == 0
    assert report.commands == len(before["commands"])
    assert snapshot() == before
    # A process that never saw the import rebuilds the same ids.
    fresh = make_rt(rt.db, rt.settings.home / "other")
    again = learning.check(fresh, ADMIN, "AD1", "Get-LocalUser")
    assert again == learning.check(rt, ADMIN, "AD1", "Get-LocalUser")


# --------------------------------------------------------------------------------------------
# Hosts


def test_hosts_are_found_by_ip_alias_and_fqdn_in_any_case(rt: Runtime, uid: str, tmp_path: Path) -> None:
    name = f"web-{uid}"
    ip = address_of(uid, 19)
    learning.import_file(
        rt,
        ADMIN,
        jsonl(
            tmp_path / "hosts.jsonl",
            {"kind": "client", "name": f"Client {uid}"},
            {
                "kind": "host",
                "client": f"Client {uid}",
                "hostname": name,
                "ip_address": ip,
                "fqdn": f"{name}.corp.example",
                "aliases": [f"www-{uid}"],
                "shell_type": "bash",
                "busybox": True,
            },
        ),
    )
    spellings = [name.upper(), ip, f"WWW-{uid}", f"{name}.CORP.example", f"root@{ip}"]
    recorded = learning.record_commands(rt, ADMIN, [cmd(s, "uptime", 0, "up") for s in spellings])
    host = rows(rt, Infrastructure, Infrastructure.hostname == name)[0]
    assert {r.row["infrastructure_id"] for r in recorded} == {host.id}
    assert host.traits == {"busybox": True} and host.shell_type == "bash" and not host.is_auto_created
    assert len(rows(rt, Infrastructure, func.lower(Infrastructure.hostname) == name.lower())) == 1


def test_an_unknown_host_is_created_not_dropped(rt: Runtime, uid: str) -> None:
    ip = address_of(uid, 18)
    learning.record_commands(
        rt,
        ADMIN,
        [
            cmd(f"newbox-{uid}", "uptime", 0, "up 1 day"),
            cmd(None, f"ssh admin@{ip} 'uname -a'", 0, "Linux"),
        ],
    )
    newbox = rows(rt, Infrastructure, Infrastructure.hostname == f"newbox-{uid}")
    assert len(newbox) == 1 and newbox[0].is_auto_created and newbox[0].client_id is None
    target = rows(rt, Infrastructure, Infrastructure.ip_address == ip)
    assert len(target) == 1 and target[0].is_auto_created
    ran = rows(rt, CommandRun, CommandRun.infrastructure_id == target[0].id)
    assert [r.host for r in ran] == [ip]


# --------------------------------------------------------------------------------------------
# Odd input


def test_huge_and_binary_outputs_are_kept_as_head_and_tail(rt: Runtime, uid: str) -> None:
    huge = f"HEAD-{uid}\n" + ("x" * 99 + "\n") * 50_000 + f"TAIL-{uid} error: disk full\n"
    binary = bytes(range(256)) * 20_000
    recorded = learning.record_commands(
        rt,
        ADMIN,
        [cmd(f"big-{uid}", "cat /var/log/huge.log", 1, huge), cmd(f"big-{uid}", "cat /bin/ls", 0, binary)],
    )
    kept = rows(rt, CommandRun, CommandRun.id == recorded[0].row["id"])[0].output_summary
    assert len(huge) > 4_000_000 and len(kept) < 17_000
    assert kept.startswith(f"HEAD-{uid}") and kept.rstrip().endswith("error: disk full") and "omitted" in kept
    blob = rows(rt, CommandRun, CommandRun.id == recorded[1].row["id"])[0].output_summary
    assert blob.startswith("<binary output, 5120000 bytes>") and "\x00" not in blob and len(blob) < 17_000


def test_a_command_the_tokeniser_cannot_parse_is_stored_and_matched(rt: Runtime, uid: str) -> None:
    host = f"odd-{uid}"
    broken = f"frob{uid} --x \"unterminated $(echo 'deeper"
    learning.record_commands(rt, ADMIN, [cmd(host, broken, 127, f"bash: frob{uid}: command not found")])
    assert rows(rt, CommandRun, CommandRun.command_text == broken)
    result = learning.check(rt, ADMIN, host, broken)
    assert result["verdict"] == "block", result
    long = "echo " + "y" * (COMMAND_LIMIT * 3)
    learning.record_commands(rt, ADMIN, [cmd(host, long, 0, "")])
    stored = rows(rt, CommandRun, CommandRun.host == host, CommandRun.exit_code == 0)[0].command_text
    assert len(stored) <= COMMAND_LIMIT and stored.startswith("echo yyy")


def test_secrets_are_redacted_before_they_are_stored_or_learned(rt: Runtime, uid: str) -> None:
    host = f"db-{uid}"
    secret = f"Tr0ub4dor-{uid}-x9"
    learning.record_commands(
        rt,
        ADMIN,
        [
            cmd(
                host,
                f"mysql -u root -p{secret} app",
                1,
                f"ERROR 1045 (28000): Access denied; tried password={secret}",
            )
        ],
    )
    with rt.db.read() as s:
        stored = s.execute(select(CommandRun).where(CommandRun.host == host)).scalar_one()
        patterns = " ".join(str(p.row()) for p in cache.cached(rt).memory.patterns.values())  # type: ignore[union-attr]
    assert secret not in stored.command_text and "-p[REDACTED:" in stored.command_text
    assert secret not in (stored.output_summary or "") and secret not in (stored.error_message or "")
    assert secret not in patterns
    again = learning.check(rt, ADMIN, host, f"mysql -u root -p{secret} app")
    assert again["verdict"] == "block" and secret not in json.dumps(again["suggestions"]) + again["reason"]
    # The answer repeats the command redacted: check results end up in transcripts and logs.
    assert again["command"].startswith("mysql -u root -p[REDACTED:") and secret not in again["command"]


def test_bad_lines_are_reported_by_number_and_the_rest_is_imported(
    rt: Runtime, uid: str, tmp_path: Path
) -> None:
    host = f"lines-{uid}"
    path = jsonl(
        tmp_path / "mixed.jsonl",
        {"kind": "host", "hostname": host, "shell_type": "bash"},
        "this is not json",
        "[1, 2, 3]",
        {"kind": "command", "host": host, "exit_code": 0},
        {"host": host, "command": "uptime", "exit_code": 0},
        {"kind": "telemetry", "cpu": 3},
        {"kind": "check", "host": host, "command": "uptime", "expect": "allow"},
        "",
        {
            "kind": "command",
            "host": host,
            "command": "uptime",
            "exit_code": 0,
            "output": "up",
            "at": "2026-01-02T03:04:05Z",
        },
        {"kind": "command", "host": host, "command": "df -h", "exit_code": "nope"},
        {"kind": "command", "host": host, "command": "df -h", "exit_code": 0, "at": "yesterday"},
        {"kind": "command", "host": host, "command": "free -m", "output": "ok"},
        {"kind": "host", "hostname": "", "os": "x"},
        {
            "kind": "command",
            "host": host,
            "command": f"zork{uid}",
            "exit_code": 127,
            "output": f"bash: zork{uid}: command not found",
        },
    )
    report = learning.import_file(rt, ADMIN, path)
    assert [n for n, _ in report.bad_lines] == [2, 3, 4, 5, 10, 11, 12, 13]
    reasons = dict(report.bad_lines)
    assert "not JSON" in reasons[2] and "not a JSON object" in reasons[3] and "'command'" in reasons[4]
    assert "'kind'" in reasons[5] and "exit_code" in reasons[10] and "ISO 8601" in reasons[11]
    assert "'exit_code'" in reasons[12] and "'hostname'" in reasons[13]
    assert report.commands == 2 and report.unknown_kinds == {"telemetry": 1} and report.checks_skipped == 1
    assert report.hosts == 1 and report.failures == 1
    stored = rows(rt, CommandRun, CommandRun.host == host)
    assert sorted(r.command_text for r in stored) == sorted(["uptime", f"zork{uid}"])
    assert learning.check(rt, ADMIN, host, f"zork{uid} --help")["verdict"] == "block"


def test_a_file_that_cannot_be_read_is_one_error(rt: Runtime, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        learning.import_file(rt, ADMIN, tmp_path / "missing.jsonl")


# --------------------------------------------------------------------------------------------
# Recording


def test_recording_refuses_what_it_cannot_store_and_learns_nothing(rt: Runtime, uid: str) -> None:
    with pytest.raises(NotFoundError):
        learning.record_commands(rt, ADMIN, [cmd(None, "uptime", 0, infrastructure_id=uuid.uuid4())])
    with pytest.raises(ValidationError):
        learning.record_commands(rt, ADMIN, [cmd(f"h-{uid}", "uptime", 2**40)])
    with pytest.raises(ValidationError):
        learning.record_commands(rt, ADMIN, [])
    readonly = Actor(type="user", role="readonly", name="auditor")
    with pytest.raises(PermissionDeniedError):
        learning.record_commands(rt, readonly, [cmd(f"h-{uid}", "uptime", 0)])
    assert not rows(rt, Infrastructure, Infrastructure.hostname == f"h-{uid}")
    # Windows reports an HRESULT as an unsigned exit code: stored as the signed value.
    done = learning.record_commands(
        rt, ADMIN, [cmd(f"win-{uid}", "dism /online", 0x80070005, "Access is denied.")]
    )
    assert done[0].row["exit_code"] == 0x80070005 - 2**32


def test_a_check_in_one_process_sees_an_import_in_another(rt: Runtime, uid: str, tmp_path: Path) -> None:
    host = f"late-{uid}"
    learning.record_commands(rt, ADMIN, [cmd(host, "uptime", 0, "up")])
    assert learning.check(rt, ADMIN, host, f"gizmo{uid} status")["verdict"] == "allow"
    other = make_rt(rt.db, tmp_path / "other-home")
    learning.import_file(
        other,
        ADMIN,
        jsonl(
            tmp_path / "one.jsonl",
            {"kind": "command", "host": host, "command": f"gizmo{uid} start", "exit_code": 127,
             "output": f"bash: gizmo{uid}: command not found"},
        ),
    )  # fmt: skip
    assert learning.check(rt, ADMIN, host, f"gizmo{uid} status")["verdict"] == "block"


def test_a_row_committed_late_is_still_learned(rt: Runtime, uid: str) -> None:
    """A command stamped before the state's mark (a long transaction elsewhere) is found by
    the catch-up's look-back, once, and in order."""
    host = f"lag-{uid}"
    learning.record_commands(rt, ADMIN, [cmd(host, "uptime", 0, "up")])
    st = cache.cached(rt)
    assert st is not None and st.mark_at is not None
    infra = rows(rt, Infrastructure, Infrastructure.hostname == host)[0]
    with rt.db.write() as s:
        session_id = s.execute(select(CommandRun.session_id).where(CommandRun.host == host)).scalar_one()
        s.execute(
            insert(CommandRun),
            [
                {
                    "id": uuid.uuid4(),
                    "session_id": session_id,
                    "infrastructure_id": infra.id,
                    "command_text": f"blorp{uid} -v",
                    "host": host,
                    "exit_code": 127,
                    "output_summary": f"bash: blorp{uid}: command not found",
                    "executed_at": datetime.now(UTC),
                    "created_at": st.mark_at - timedelta(minutes=2),
                }
            ],
        )
        audit.record(
            s, rt.audit_signer, ADMIN, "create", "commands_run", None, {"count": 1, "source": "test"}
        )
    assert learning.check(rt, ADMIN, host, f"blorp{uid} -h")["verdict"] == "block"
    before = len(st.row_ids)
    learning.check(rt, ADMIN, host, "uptime")
    assert len(st.row_ids) == before  # applied once


# --------------------------------------------------------------------------------------------
# Scope


@pytest.fixture
def two_clients(rt: Runtime, uid: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Client A and client B, each with a PowerShell 2.0 host; Get-Thing failed on B's host
    and Get-Other worked instead."""
    a, b = f"A {uid}", f"B {uid}"
    learning.import_file(
        rt,
        ADMIN,
        jsonl(
            tmp_path / "clients.jsonl",
            {"kind": "client", "name": a},
            {"kind": "client", "name": b},
            {"kind": "host", "client": a, "hostname": f"a-dc-{uid}", "os": "Windows Server",
             "os_version": "2008 R2", "shell_type": "powershell", "powershell_version": "2.0"},
            {"kind": "host", "client": b, "hostname": f"b-dc-{uid}", "os": "Windows Server",
             "os_version": "2008 R2", "shell_type": "powershell", "powershell_version": "2.0"},
            {"kind": "command", "host": f"b-dc-{uid}", "command": f"Get-Thing{uid}", "exit_code": 1,
             "output": f"Get-Thing{uid} : The term 'Get-Thing{uid}' is not recognized as the name of a cmdlet"
             ,
             "at": "2026-03-01T10:00:00Z", "session": f"b-{uid}"},
            {"kind": "command", "host": f"b-dc-{uid}", "command": f"Get-Other{uid} -Name b-only",
             "exit_code": 0, "output": "ok", "at": "2026-03-01T10:01:00Z", "session": f"b-{uid}"},
        ),
    )  # fmt: skip
    ids = {c.name: c.id for c in rows(rt, Client, Client.name.in_([a, b]))}
    yield {"a": ids[a], "b": ids[b], "a_host": f"a-dc-{uid}", "b_host": f"b-dc-{uid}", "uid": uid}


def test_a_scoped_actor_sees_only_its_clients_learning(rt: Runtime, two_clients: dict[str, Any]) -> None:
    uid = two_clients["uid"]
    everyone = learning.check(rt, ADMIN, two_clients["a_host"], f"Get-Thing{uid}")
    assert everyone["verdict"] == "warn" and "b-only" in everyone["suggestions"][0]
    pattern_id = uuid.UUID(everyone["pattern_ids"][0])

    scoped = Actor(
        type="api_key", role="technician", name="a-tech", client_scope=frozenset({two_clients["a"]})
    )
    mine = learning.check(rt, scoped, two_clients["a_host"], f"Get-Thing{uid}")
    assert mine["verdict"] == "allow" and mine["pattern_ids"] == [] and "b-only" not in json.dumps(mine)
    # B's host is to it a host nobody recorded (issue 15): answered like one, not with an error.
    invisible = learning.check(rt, scoped, two_clients["b_host"], f"Get-Thing{uid}")
    assert invisible == {
        **learning.check(rt, scoped, f"nosuch-{uid}", f"Get-Thing{uid}"),
        "host": two_clients["b_host"],
    }
    assert invisible["verdict"] == "allow"
    with pytest.raises(NotFoundError):
        learning.explain(rt, scoped, pattern_id)
    listed = learning.list_patterns(rt, scoped, limit=500)
    assert pattern_id not in {p.id for p in listed.items}
    assert learning.explain(rt, ADMIN, pattern_id)["id"] == str(pattern_id)
    # What the scoped actor records is learned for it, and a B host stays invisible: a command
    # naming it lands on a host of A's own.
    not_found = f"The term 'Get-Mine{uid}' is not recognized as the name of a cmdlet"
    learning.record_commands(rt, scoped, [cmd(two_clients["a_host"], f"Get-Mine{uid}", 1, not_found)])
    assert learning.check(rt, scoped, two_clients["a_host"], f"Get-Mine{uid} -x")["verdict"] == "block"
    (recorded,) = learning.record_commands(rt, scoped, [cmd(two_clients["b_host"], "hostname", 0)])
    (mine_now,) = rows(rt, Infrastructure, Infrastructure.id == recorded.row["infrastructure_id"])
    assert mine_now.client_id == two_clients["a"] and mine_now.hostname == two_clients["b_host"]


# --------------------------------------------------------------------------------------------
# The one store on disk: the state the local service and the CLI start from


def stored(rt: Runtime) -> LearningState | None:
    """What a new process of ``rt``'s home would start from: the stored state, if trusted."""
    with rt.db.read() as s:
        return cache.load_state(rt, s)


def stored_failure(db: Database, home: Path, uid: str) -> tuple[Runtime, str]:
    """A CLI-like runtime (the store on) that recorded a failure; the failing command's host."""
    host = f"store-{uid}"
    writer = make_rt(db, home)
    learning.use_store(writer)
    learning.record_commands(writer, ADMIN, [cmd(host, f"qux{uid} go", 127, f"sh: qux{uid}: not found")])
    learning.record_commands(writer, ADMIN, [cmd(host, f"echo {uid}", 0, uid)])
    return writer, host


def store_runtime(db: Database, home: Path) -> Runtime:
    """A new process's runtime on ``home`` that starts from the store."""
    made = make_rt(db, home)
    learning.use_store(made)
    return made


def test_the_store_is_private_and_what_a_new_process_starts_from(
    rt: Runtime, uid: str, tmp_path: Path
) -> None:
    writer, host = stored_failure(rt.db, tmp_path / "cli", uid)
    path = learning.store_path(writer)
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    # One file: the index and the state together, no second persisted form beside it.
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    # The CLI wrote only the state: a hook must not take the store for an (empty) index.
    assert not index.usable_at(str(path))

    loaded = stored(store_runtime(rt.db, tmp_path / "cli"))
    before = cache.cached(writer)
    assert loaded is not None and before is not None
    assert list(loaded.row_ids) == list(before.row_ids)
    reader = store_runtime(rt.db, tmp_path / "cli")
    assert learning.check(reader, ADMIN, host, f"qux{uid} stop")["verdict"] == "block"


def test_a_tampered_store_is_never_unpickled(rt: Runtime, uid: str, tmp_path: Path) -> None:
    """A state changed by anyone without this installation's key (here: a well-formed one that
    forgets every pattern) is not loaded; the next process rebuilds it from the database."""
    writer, host = stored_failure(rt.db, tmp_path / "cli", uid)
    path = learning.store_path(writer)
    with sqlite3.connect(path) as conn:
        (blob,) = conn.execute("SELECT blob FROM state WHERE name = ?", (cache.STATE_NAME,)).fetchone()
        forged = pickle.loads(blob)
        forged.memory.patterns.clear()
        forged.memory.by_culprit.clear()
        forged.memory.exact.clear()
        conn.execute("UPDATE state SET blob = ? WHERE name = ?", (pickle.dumps(forged), cache.STATE_NAME))
    assert stored(store_runtime(rt.db, tmp_path / "cli")) is None
    # Rebuilt from the database, and stored again.
    again = store_runtime(rt.db, tmp_path / "cli")
    assert learning.check(again, ADMIN, host, f"qux{uid} go")["verdict"] == "block"
    assert stored(store_runtime(rt.db, tmp_path / "cli")) is not None


def test_a_store_of_other_engine_code_is_rebuilt(rt: Runtime, uid: str, tmp_path: Path) -> None:
    """A store an older version wrote (same key, another engine): neither its state nor its
    index is used; the next process rebuilds both."""
    writer, host = stored_failure(rt.db, tmp_path / "cli", uid)
    path = learning.store_path(writer)
    hook_service.sync_index(writer, force=True)
    old = "0ld0c0de"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'code'", (old,))
        fresh, blob = conn.execute("SELECT freshness, blob FROM state").fetchone()
        conn.execute("UPDATE state SET mac = ?", (cache.seal(writer, old, fresh, blob),))
    assert stored(store_runtime(rt.db, tmp_path / "cli")) is None
    assert not index.usable_at(str(path))
    again = store_runtime(rt.db, tmp_path / "cli")
    assert learning.check(again, ADMIN, host, f"qux{uid} stop")["verdict"] == "block"
    assert stored(store_runtime(rt.db, tmp_path / "cli")) is not None


def test_rewriting_the_index_keeps_the_stored_state(rt: Runtime, uid: str, tmp_path: Path) -> None:
    writer, _ = stored_failure(rt.db, tmp_path / "cli", uid)
    hook_service.sync_index(writer, force=True)  # the whole index, in a new file
    assert index.usable_at(str(learning.store_path(writer)))
    assert stored(store_runtime(rt.db, tmp_path / "cli")) is not None


def test_a_deleted_store_is_rebuilt(rt: Runtime, uid: str, tmp_path: Path) -> None:
    writer, host = stored_failure(rt.db, tmp_path / "cli", uid)
    path = learning.store_path(writer)
    path.unlink()
    gone = store_runtime(rt.db, tmp_path / "cli")
    assert stored(gone) is None
    assert learning.check(gone, ADMIN, host, f"qux{uid} stop")["verdict"] == "block"
    assert path.exists() and stored(store_runtime(rt.db, tmp_path / "cli")) is not None


def test_a_store_behind_the_database_is_loaded_and_caught_up(rt: Runtime, uid: str, tmp_path: Path) -> None:
    _, host = stored_failure(rt.db, tmp_path / "cli", uid)
    api = make_rt(rt.db, tmp_path / "api")  # another process recording: the store does not follow
    learning.record_commands(api, ADMIN, [cmd(host, f"zap{uid} go", 127, f"sh: zap{uid}: not found")])
    reader = store_runtime(rt.db, tmp_path / "cli")
    loaded = stored(reader)
    assert loaded is not None  # the same database, with newer commands only
    cache.replace(reader, loaded)
    assert learning.check(reader, ADMIN, host, f"zap{uid} stop")["verdict"] == "block"
    assert learning.check(reader, ADMIN, host, f"qux{uid} stop")["verdict"] == "block"


def test_a_store_missing_commands_it_read_is_rebuilt(rt: Runtime, uid: str, tmp_path: Path) -> None:
    stored_failure(rt.db, tmp_path / "cli", uid)
    with rt.db.write() as s:
        s.execute(delete(CommandRun).where(CommandRun.command_text == f"echo {uid}"))
    assert stored(store_runtime(rt.db, tmp_path / "cli")) is None


def test_a_store_of_another_database_is_not_loaded(backend: str, uid: str, tmp_path: Path) -> None:
    """The store of one database put where another's belongs (a restored home, a URL now
    naming another database): not loaded, even with as many commands read."""
    made: list[tuple[Database, Any]] = []
    try:
        for name in ("other", "mine"):
            (tmp_path / name).mkdir()
            url, drop = create_scratch_database(backend, tmp_path / name)
            db = Database(url)
            made.append((db, drop))
            schema.upgrade(db)
        (other_db, _), (mine_db, _) = made
        home = tmp_path / "home"
        other = make_rt(other_db, home)
        learning.record_commands(other, ADMIN, [cmd(f"o-{uid}", "hostname", 0, "o")])
        mine, host = make_rt(mine_db, home), f"m-{uid}"
        learning.use_store(mine)
        learning.record_commands(mine, ADMIN, [cmd(host, f"qux{uid} go", 127, f"sh: qux{uid}: not found")])
        assert learning.store_path(mine).exists()
        shutil.copyfile(learning.store_path(mine), learning.store_path(other))
        assert stored(store_runtime(other_db, home)) is None
        reader = store_runtime(other_db, home)
        assert learning.check(reader, ADMIN, host, f"qux{uid} go")["verdict"] == "allow"
    finally:
        for db, drop in made:
            db.dispose()
            drop()


# --------------------------------------------------------------------------------------------
# Verdicts kept after a check


def test_disposing_the_database_first_writes_the_verdicts_handed_over(
    migrated_db: Database, uid: str, tmp_path: Path
) -> None:
    """Whoever disposes a database (a runtime, or a caller that owns it) waits for the verdict
    thread: no row is lost and no connection outlives the pool, on a database maybe dropped next."""
    host, command = f"verdict-{uid}", f"blorp{uid} --now"
    db = Database(migrated_db.url)
    rt = make_rt(db, tmp_path / "home")
    try:
        learning.record_commands(rt, ADMIN, [cmd(host, command, 127, f"sh: blorp{uid}: not found")])
        assert learning.check(rt, ADMIN, host, command)["verdict"] == "block"
    finally:
        db.dispose()  # the database's own dispose, not the runtime's
    assert verdicts.flush(rt, 0)  # nothing left to write, nothing being written
    assert db.writer.pool.checkedout() == 0 and db.reader.pool.checkedout() == 0
    with migrated_db.read() as s:
        kept = s.scalars(select(CheckVerdict).where(CheckVerdict.command == command)).all()
    assert [v.verdict for v in kept] == ["block"]
