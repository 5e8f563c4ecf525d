"""The local service as real processes: started by hooks and by ``msp service``, one per
MSP_HOME, its token file, kill -9 in a burst of PostToolUse, what the hooks do while it is
down (deny from the index, journal, tell the agent once), the journal's replay, the restart
when another version runs, warnings that deny once, and MSP Mode's own MCP tools."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mspmode.cli.hooks import hook_argv
from tests.cli.test_setup import msp
from tests.hooks.test_hooks_e2e import (
    ERROR,
    FAILED,
    REPEAT,
    bash,
    service_pids,
    stop_service,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
DC_TRAITS = {"os": "Windows Server", "os_version": "2008 R2", "shell_type": "powershell",
             "powershell_version": "2.0"}  # fmt: skip


def run_hook(env: dict[str, str], event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    proc = subprocess.run(
        hook_argv(event), input=json.dumps(payload), env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def commands(home: Path) -> list[str]:
    db = sqlite3.connect(home / "msp.db")
    try:
        return [r[0] for r in db.execute("SELECT command_text FROM commands_run ORDER BY created_at")]
    finally:
        db.close()


def verdicts(home: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(home / "msp.db")
    try:
        return list(db.execute("SELECT verdict, command FROM check_verdicts ORDER BY created_at"))
    finally:
        db.close()


def info(home: Path) -> dict[str, Any]:
    try:
        data = json.loads((home / "service.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@pytest.fixture
def home_env(msp_env: dict[str, str], tmp_path: Path) -> Any:
    """An initialised SQLite MSP_HOME with DC2 and DC3 (same traits); no service running; any
    service a test starts is stopped after it."""
    env = dict(msp_env)
    assert msp(env, "init").returncode == 0
    hosts = tmp_path / "hosts.jsonl"
    hosts.write_text(
        "\n".join(
            json.dumps(line)
            for line in (
                {"kind": "client", "name": "Contoso"},
                {
                    "kind": "host",
                    "client": "Contoso",
                    "hostname": "DC2",
                    "ip_address": "10.9.8.7",
                    **DC_TRAITS,
                },
                {
                    "kind": "host",
                    "client": "Contoso",
                    "hostname": "DC3",
                    "ip_address": "10.9.8.8",
                    **DC_TRAITS,
                },
            )
        )
        + "\n"
    )
    assert msp(env, "import", str(hosts)).returncode == 0
    yield env
    stop_service(env)


def start(env: dict[str, str]) -> dict[str, Any]:
    result = msp(env, "local-service", "start", "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def test_service_files_token_and_one_instance(home_env: dict[str, str]) -> None:
    home = Path(home_env["MSP_HOME"])
    status = start(home_env)
    data = info(home)
    assert data["pid"] == status["pid"] and data["port"] == status["port"]
    token = (home / "service.token").read_text().strip()
    assert {"version", "code", "started_at", "database"} <= set(data) and "token" not in data
    assert token not in json.dumps(data)
    assert stat.S_IMODE((home / "service.token").stat().st_mode) == 0o600
    assert len(token) >= 32 and token not in (home / "service.log").read_text()
    # A second service for the same MSP_HOME exits at once; the first keeps serving.
    second = subprocess.run(
        [sys.executable, "-m", "mspmode.localservice", "--home", str(home), "--foreground"],
        env=home_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert second.returncode == 0
    assert service_pids(home) == [status["pid"]]
    # The token is the local user's; anything else is refused.
    again = msp(home_env, "local-service", "status", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["pid"] == status["pid"]
    (home / "service.token").write_text("wrong\n")
    refused = msp(home_env, "local-service", "status")
    assert refused.returncode == 1 and "401" in refused.stdout
    (home / "service.token").write_text(token + "\n")


def test_two_hook_clients_at_once_start_one_service(home_env: dict[str, str], tmp_path: Path) -> None:
    home = Path(home_env["MSP_HOME"])
    start_event = {"session_id": "a", "cwd": str(tmp_path), "hook_event_name": "SessionStart"}
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda s: run_hook(home_env, "SessionStart", {**start_event, "session_id": s}), "ab")
        )
    assert len(answers) == 2
    wait_for(lambda: info(home), 600, "no service answered")
    assert len(service_pids(home)) == 1
    # Both sessions now share it.
    ran = bash("PostToolUse", tmp_path, tmp_path / "t", "hostname", tool_response={"stdout": "x"})
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: run_hook(home_env, "PostToolUse", {**ran, "session_id": s}), "ab"))
    assert commands(home).count("hostname") == 2 and len(service_pids(home)) == 1


def test_kill_9_in_a_burst_loses_nothing(home_env: dict[str, str], tmp_path: Path) -> None:
    home = Path(home_env["MSP_HOME"])
    pid = start(home_env)["pid"]
    burst = [f"echo burst-{i}" for i in range(24)]
    done: list[str] = []

    def post(command: str) -> None:
        payload = bash("PostToolUse", tmp_path, tmp_path / "t", command, tool_response={"stdout": "x"})
        run_hook(home_env, "PostToolUse", payload)
        done.append(command)
        if len(done) == 6:
            os.kill(pid, signal.SIGKILL)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, burst))
    assert sorted(done) == sorted(burst)  # every hook answered
    # The next hook brings the service back; it replays the journal; nothing is lost or doubled.
    run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", "ls"))
    wait_for(lambda: info(home).get("pid") not in (None, pid), 600, "the service did not come back")
    stored = wait_for(
        lambda: (c := [x for x in commands(home) if x.startswith("echo burst-")]) and len(c) >= 24 and c
    )
    assert sorted(stored) == sorted(burst)
    assert not (home / "journal.jsonl").exists()


def test_while_down_a_known_failure_is_denied_and_commands_are_journaled(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(home_env["MSP_HOME"])
    start(home_env)
    failed = bash("PostToolUseFailure", tmp_path, tmp_path / "t", FAILED, error=ERROR)
    assert run_hook(home_env, "PostToolUseFailure", failed) is None
    stop_service(home_env)  # it writes the index before it exits
    # Down, and kept down for this test (as if it had just failed to start).
    (home / "service.failed").touch()
    denied = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", REPEAT))
    assert denied is not None
    out = denied["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny" and "Get-LocalUser" in out["permissionDecisionReason"]
    assert "degraded" in out["permissionDecisionReason"]  # told, once
    again = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", REPEAT))
    assert again is not None and "degraded" not in again["hookSpecificOutput"]["permissionDecisionReason"]
    # A command that runs meanwhile is journaled, redacted.
    secret = bash(
        "PostToolUseFailure",
        tmp_path,
        tmp_path / "t",
        FAILED.replace("jdoe", "x") + " -Password S3cretPassw0rd!",
        error=ERROR,
    )
    assert run_hook(home_env, "PostToolUseFailure", secret) is None
    # So is the denial given from the index, with the secret of a denied command redacted.
    with_secret = REPEAT + " -Password S3cretPassw0rd!"
    denied_secret = run_hook(
        home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", with_secret)
    )
    assert denied_secret is not None and denied_secret["hookSpecificOutput"]["permissionDecision"] == "deny"
    journal = (home / "journal.jsonl").read_text()
    assert "Get-LocalUser" in journal and "S3cretPassw0rd" not in journal
    assert len(commands(home)) == 1
    assert verdicts(home) == []
    # The service, started again, replays it: the command recorded, the denials kept as verdicts.
    (home / "service.failed").unlink()
    start(home_env)
    assert not (home / "journal.jsonl").exists()
    stored = commands(home)
    assert len(stored) == 2 and not any("S3cretPassw0rd" in c for c in stored)
    kept = wait_for(lambda: len(verdicts(home)) >= 3 and verdicts(home), 60, "the denials were not kept")
    assert [v for v, _ in kept] == ["block"] * 3
    assert all("Get-LocalUser" in c for _, c in kept) and not any("S3cretPassw0rd" in c for _, c in kept)


def test_a_background_post_tool_use_leaves_the_degraded_notice_to_the_next_pre_tool_use(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    """PostToolUse is installed to run in the background: Claude Code does not read its answer,
    so while the service is down it journals without using up the session's one notice."""
    home = Path(home_env["MSP_HOME"])
    (home / "service.failed").touch()  # down, and kept down
    ran = bash("PostToolUse", tmp_path, tmp_path / "t", "hostname", tool_response={"stdout": "x"})
    assert run_hook(home_env, "PostToolUse", ran) is None
    assert "hostname" in (home / "journal.jsonl").read_text()
    told = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", "uptime"))
    assert told is not None and "degraded" in told["hookSpecificOutput"]["additionalContext"]


def test_a_client_of_other_code_restarts_the_service(home_env: dict[str, str], tmp_path: Path) -> None:
    home = Path(home_env["MSP_HOME"])
    old = start(home_env)["pid"]
    # What a client of another install sees: a service whose code stamp is not its own.
    data = info(home)
    (home / "service.json").write_text(json.dumps({**data, "code": "00000000"}))
    payload = bash("PostToolUse", tmp_path, tmp_path / "t", "whoami", tool_response={"stdout": "me"})
    # Journaled meanwhile. PostToolUse runs in the background (its answer is not read), so it
    # leaves telling the agent to the next PreToolUse.
    assert run_hook(home_env, "PostToolUse", payload) is None
    wait_for(lambda: info(home).get("pid") not in (None, old), 600, "no new service")
    assert old not in service_pids(home) and len(service_pids(home)) == 1
    wait_for(lambda: "whoami" in commands(home), 60, "the journaled command was not replayed")


def test_a_client_of_another_database_restarts_the_service_for_its_own(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    """Two installs sharing an MSP_HOME with different databases: a hook is never answered
    from, nor recorded into, the database the running service was started for."""
    home = Path(home_env["MSP_HOME"])
    old = start(home_env)["pid"]
    assert info(home)["database"] == f"sqlite:{home / 'msp.db'}"
    other_db = tmp_path / "other.db"
    other = {**home_env, "MSP_DATABASE_URL": f"sqlite:///{other_db}"}
    assert msp(other, "init").returncode == 0
    payload = bash("PostToolUse", tmp_path, tmp_path / "t", "whoami", tool_response={"stdout": "me"})
    run_hook(other, "PostToolUse", payload)
    wait_for(lambda: info(home).get("pid") not in (None, old), 600, "no service for the other database")
    assert info(home)["database"] == f"sqlite:{other_db}"
    assert len(service_pids(home)) == 1

    def stored(db: Path) -> list[str]:
        conn = sqlite3.connect(db)
        try:
            return [r[0] for r in conn.execute("SELECT command_text FROM commands_run")]
        finally:
            conn.close()

    wait_for(lambda: "whoami" in stored(other_db), 60, "the command was not stored in its database")
    assert "whoami" not in commands(home)


def test_an_import_while_the_service_is_down_is_not_answered_from_the_old_index(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    """The index the service left when it stopped knows nothing of a history imported after:
    the first pre-check waits for the service (which learns the import as it warms) instead of
    letting the imported failure through from the old index."""
    home = Path(home_env["MSP_HOME"])
    start(home_env)
    stop_service(home_env)
    assert list((home / "cache").glob("hook-index-*")), "control: the service left its index"
    history = tmp_path / "history.jsonl"
    history.write_text(
        json.dumps(
            {
                "kind": "command",
                "host": "DC2",
                "command": "Get-LocalUser -Name jdoe",
                "exit_code": 1,
                "output": ERROR.split("\n", 1)[1],
            }
        )
        + "\n"
    )
    assert msp(home_env, "import", str(history)).returncode == 0
    denied = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", REPEAT))
    assert denied is not None, "the imported failure ran: answered from the index of before"
    out = denied["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny" and "Get-LocalUser" in out["permissionDecisionReason"]
    assert "degraded" not in out["permissionDecisionReason"]  # the service answered


def test_with_no_index_other_code_is_replaced_once_and_the_check_waits_for_it(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    """A PreToolUse that finds a service of other code and no index to answer from asks for
    one replacement (not one per attempt) and waits for it: the known failure is denied by
    the new service, never let through unchecked."""
    home = Path(home_env["MSP_HOME"])
    old = start(home_env)["pid"]
    failed = bash("PostToolUseFailure", tmp_path, tmp_path / "t", FAILED, error=ERROR)
    assert run_hook(home_env, "PostToolUseFailure", failed) is None
    wait_for(lambda: list((home / "cache").glob("hook-index-*")), 120, "control: no index written")
    for path in (home / "cache").glob("hook-index-*"):
        path.unlink()  # (the running service writes it only when it learns something new)
    # Other code, whose file outlives it (not its pid: the old service leaves it in place) until
    # the new one starts: every attempt until then finds other code running.
    (home / "service.json").write_text(json.dumps({**info(home), "code": "00000000", "pid": 1}))
    denied = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", REPEAT))
    assert denied is not None, (home / "hook.log").read_text() if (home / "hook.log").exists() else ""
    out = denied["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny" and "Get-LocalUser" in out["permissionDecisionReason"]
    # Answered by the new service, or — when it took longer than the hook waits (a loaded
    # machine) — from the index that service wrote while it warmed: denied either way.
    wait_for(lambda: info(home).get("pid") not in (None, 1, old), 120, "the new service never started")
    new = info(home).get("pid")
    # One replacement: no second launcher left waiting for the lock the new service holds.
    assert service_pids(home) == [new]


def test_a_warning_denies_once_and_the_same_command_then_runs(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    start(home_env)
    run_hook(
        home_env,
        "PostToolUseFailure",
        bash("PostToolUseFailure", tmp_path, tmp_path / "t", FAILED, error=ERROR),
    )
    twin = 'ssh admin@10.9.8.8 "Get-LocalUser -Name bob"'  # DC3: same OS and PowerShell as DC2
    first = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", twin))
    assert first is not None
    out = first["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny"
    assert "warning" in out["permissionDecisionReason"] and "DC2" in out["permissionDecisionReason"]
    assert "identical command again" in out["permissionDecisionReason"]
    assert run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", twin)) is None
    other_session = {**bash("PreToolUse", tmp_path, tmp_path / "t", twin), "session_id": "another"}
    assert run_hook(home_env, "PreToolUse", other_session) is not None  # warned anew there
    # A known failure on its own host is denied however often it is sent.
    for _ in range(2):
        denied = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", REPEAT))
        assert denied is not None and "stopped" in denied["hookSpecificOutput"]["permissionDecisionReason"]


def test_msp_modes_own_mcp_tools_are_never_checked_or_recorded(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(home_env["MSP_HOME"])
    start(home_env)
    run_hook(
        home_env,
        "PostToolUseFailure",
        bash("PostToolUseFailure", tmp_path, tmp_path / "t", FAILED, error=ERROR),
    )
    for tool in (
        "mcp__msp__check_command",
        "mcp__plugin_msp-mode_msp__check_command",
        "mcp__msp__record_command",
    ):
        call = {**bash("PreToolUse", tmp_path, tmp_path / "t", "x"), "tool_name": tool,
                "tool_input": {"command": REPEAT, "host": "DC2"}}  # fmt: skip
        assert run_hook(home_env, "PreToolUse", call) is None
        done = {**call, "hook_event_name": "PostToolUse",
                "tool_response": [{"type": "text", "text": '{"verdict": "block"}'}]}  # fmt: skip
        assert run_hook(home_env, "PostToolUse", done) is None
    assert commands(home) == [FAILED]


def test_a_service_for_a_missing_database_creates_none_and_says_why(home_env: dict[str, str]) -> None:
    """The database moved after the service was asked to start (``msp hooks install`` starts it
    detached): it must not open the path, which would create an empty database whose silence
    lets every known failure through; service.log says why, and the hooks tell the agent."""
    home = Path(home_env["MSP_HOME"])
    db = home / "msp.db"
    db.rename(home / "moved.db")
    proc = subprocess.run(
        [sys.executable, "-m", "mspmode.localservice", "--home", str(home), "--foreground"],
        env=home_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert not db.exists(), "the service created an empty database"
    assert f"no database at {db}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (home / "service.json").exists()


def test_with_no_index_a_pre_check_waits_for_the_service_it_starts(
    home_env: dict[str, str], tmp_path: Path
) -> None:
    """The first tool call on a machine (or after an upgrade: an index of other code) has no
    index to answer from while the service starts: it waits for the service rather than let
    a known failure run unchecked."""
    home = Path(home_env["MSP_HOME"])
    start(home_env)
    failed = bash("PostToolUseFailure", tmp_path, tmp_path / "t", FAILED, error=ERROR)
    assert run_hook(home_env, "PostToolUseFailure", failed) is None
    stop_service(home_env)
    indexes = list((home / "cache").glob("hook-index-*"))
    assert indexes, "control: the service wrote its index"
    for path in indexes:
        path.unlink()
    denied = run_hook(home_env, "PreToolUse", bash("PreToolUse", tmp_path, tmp_path / "t", REPEAT))
    assert denied is not None, (home / "hook.log").read_text() if (home / "hook.log").exists() else ""
    out = denied["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny" and "Get-LocalUser" in out["permissionDecisionReason"]
    assert "degraded" not in out["permissionDecisionReason"]  # the service answered
