"""The hooks end to end, as Claude Code runs them: a new ``python -m mspmode.hooks EVENT``
process per event with the event's JSON on stdin (the documented shapes), answered by the real
local service (started as ``msp hooks install`` starts it), against a real database on every
backend.

A command fails on a host (PostToolUseFailure) → the same mistake is denied by PreToolUse with
what failed, where and when; once the fix has run (PostToolUse) the deny names the fix; the
session ends (Stop, SessionEnd) → a new SessionStart injects it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from mspmode.cli.hooks import hook_argv
from tests.cli.test_setup import msp

SESSION = "5f1b2c7e-claude-session"


def hook(
    env: dict[str, str], event: str, payload: dict[str, Any], timeout: float = 60
) -> dict[str, Any] | None:
    """Run one hook like Claude Code: a new process, JSON on stdin; its JSON answer or None."""
    proc = subprocess.run(
        hook_argv(event),
        input=json.dumps(payload),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    log = Path(env["MSP_HOME"]) / "hook.log"
    assert not log.exists(), log.read_text()  # no internal error was swallowed
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def base(event: str, cwd: Path, transcript: Path, session: str = SESSION) -> dict[str, Any]:
    return {
        "session_id": session,
        "transcript_path": str(transcript),
        "cwd": str(cwd),
        "permission_mode": "default",
        "hook_event_name": event,
    }


def bash(event: str, cwd: Path, transcript: Path, command: str, **extra: Any) -> dict[str, Any]:
    return {
        **base(event, cwd, transcript),
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "run it"},
        "tool_use_id": f"toolu_{abs(hash(command)) % 10**8}",
        **extra,
    }


FAILED = 'ssh admin@10.9.8.7 "Get-LocalUser -Name jdoe"'
ERROR = (
    "Exit code 1\nGet-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet, "
    "function, script file, or operable program."
)
FIX = 'ssh admin@10.9.8.7 "net user jdoe"'
RESPONSE = {"stdout": "User name jdoe\nAccount active Yes", "stderr": "", "interrupted": False}
REPEAT = 'ssh admin@10.9.8.7 "Get-LocalUser -Name asmith"'


def write_transcript(path: Path) -> None:
    lines = [
        {"type": "user", "sessionId": SESSION,
         "message": {"role": "user", "content": "Is jdoe enabled on DC2?"}},
        {"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": FAILED}}]}},
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "is_error": True, "content": ERROR}]}},
        {"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "text", "text": "Decision: use net user on DC2, it has no Get-LocalUser."},
            {"type": "tool_use", "id": "t2", "name": "Bash", "input": {"command": FIX}}]}},
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t2", "content": "User name jdoe\nAccount active Yes"}]}},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def service_pids(home: Path) -> list[int]:
    """Processes (of this user) running the local service of ``home``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"mspmode.localservice" in argv and str(home).encode() in argv:
                found.append(int(entry.name))
    return found


def wait_for(what: Any, timeout: float = 180.0, message: str = "") -> Any:
    """Poll ``what()`` until it is truthy (a deadline, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, message or f"{what} stayed false for {timeout}s"
        time.sleep(0.05)


def stop_service(env: dict[str, str]) -> None:
    home = Path(env["MSP_HOME"])
    msp(env, "local-service", "stop")
    for pid in service_pids(home):  # one that never got as far as answering
        os.kill(pid, 9)
    wait_for(lambda: not service_pids(home), 30, "the local service did not go")


@pytest.fixture
def service(msp_env: dict[str, str]) -> Iterator[None]:
    """Whatever local service a test starts in its MSP_HOME is stopped after it."""
    yield
    stop_service(msp_env)


@pytest.fixture
def env(msp_env: dict[str, str], empty_database_url: URL, service: None) -> dict[str, str]:
    out = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    assert msp(out, "init").returncode == 0
    history = Path(out["MSP_HOME"]) / "hosts.jsonl"
    history.write_text(
        json.dumps({"kind": "client", "name": "Contoso"})
        + "\n"
        + json.dumps(
            {
                "kind": "host",
                "client": "Contoso",
                "hostname": "DC2",
                "ip_address": "10.9.8.7",
                "os": "Windows Server",
                "os_version": "2008 R2",
                "shell_type": "powershell",
                "powershell_version": "2.0",
            }
        )
        + "\n"
    )
    assert msp(out, "import", str(history)).returncode == 0
    started = msp(out, "local-service", "start")
    assert started.returncode == 0, started.stderr
    return out


def test_a_failure_is_never_repeated_and_the_next_session_knows(env: dict[str, str], tmp_path: Path) -> None:
    cwd, transcript = tmp_path, tmp_path / "transcript.jsonl"
    write_transcript(transcript)

    assert hook(env, "SessionStart", {**base("SessionStart", cwd, transcript), "source": "startup"}) is None
    assert hook(env, "PreToolUse", bash("PreToolUse", cwd, transcript, FAILED)) is None  # nothing known yet
    first = hook(
        env,
        "PostToolUseFailure",
        bash("PostToolUseFailure", cwd, transcript, FAILED, error=ERROR, is_interrupt=False),
    )
    assert first is None  # a new failure: recorded, nothing to explain yet

    denied = hook(env, "PreToolUse", bash("PreToolUse", cwd, transcript, REPEAT))
    assert denied is not None
    out = denied["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse" and out["permissionDecision"] == "deny"
    reason = out["permissionDecisionReason"]
    assert "Get-LocalUser" in reason and "DC2" in reason and "UTC" in reason  # what, where, when

    fixed = hook(
        env,
        "PostToolUse",
        bash("PostToolUse", cwd, transcript, FIX, tool_response=RESPONSE),
    )
    assert fixed is None
    again = hook(env, "PreToolUse", bash("PreToolUse", cwd, transcript, REPEAT))
    assert again is not None
    reason = again["hookSpecificOutput"]["permissionDecisionReason"]
    assert again["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert 'ssh admin@10.9.8.7 "net user asmith"' in reason  # the fix, adapted to this command
    # The same command elsewhere, and routine commands, pass untouched.
    assert hook(env, "PreToolUse", bash("PreToolUse", cwd, transcript, "Get-LocalUser -Name jdoe")) is None
    assert hook(env, "PreToolUse", bash("PreToolUse", cwd, transcript, "ls -la /tmp")) is None

    # A repeat that fails anyway gets the recovery explanation.
    explained = hook(
        env, "PostToolUseFailure", bash("PostToolUseFailure", cwd, transcript, FAILED, error=ERROR)
    )
    assert explained is not None
    text = explained["hookSpecificOutput"]["additionalContext"]
    assert explained["hookSpecificOutput"]["hookEventName"] == "PostToolUseFailure"
    assert "net user jdoe" in text

    assert hook(env, "Stop", {**base("Stop", cwd, transcript), "stop_hook_active": False}) is None
    assert (
        hook(env, "SessionEnd", {**base("SessionEnd", cwd, transcript), "reason": "prompt_input_exit"})
        is None
    )

    started = hook(
        env, "SessionStart", {**base("SessionStart", cwd, transcript, "new-session"), "source": "startup"}
    )
    assert started is not None
    context = started["hookSpecificOutput"]
    assert context["hookEventName"] == "SessionStart"
    injected = context["additionalContext"]
    assert "Get-LocalUser" in injected and "DC2" in injected and "net user" in injected
    assert len(injected) <= 10_000
    assert "Is jdoe enabled on DC2?" in injected  # the saved session is recalled too
    assert not list((Path(env["MSP_HOME"]) / "hook-queue").glob("*-claude-session.json"))

    prompt = hook(
        env,
        "UserPromptSubmit",
        {
            **base("UserPromptSubmit", cwd, transcript, "new-session"),
            "prompt": "Now disable jdoe on dc2 please",
        },
    )
    assert prompt is not None
    assert "Get-LocalUser" in prompt["hookSpecificOutput"]["additionalContext"]


def test_internal_errors_fail_open_and_are_logged_redacted(
    msp_env: dict[str, str], tmp_path: Path, service: None
) -> None:
    """A database nothing can open: the service cannot start, the hook answers at once (the agent
    told MSP Mode is degraded), and no secret of the command reaches a log or the answer."""
    home = Path(msp_env["MSP_HOME"])
    home.mkdir(parents=True)
    (home / "msp.db").write_text("not a database")  # every read of it fails
    payload = bash("PreToolUse", tmp_path, tmp_path / "t.jsonl", "mysql -u root -pS3cretPassw0rd db")
    proc = subprocess.run(
        hook_argv("PreToolUse"),
        input=json.dumps(payload), env=msp_env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0
    told = json.loads(proc.stdout)["hookSpecificOutput"]
    assert "degraded" in told["additionalContext"] and "S3cretPassw0rd" not in proc.stdout
    wait_for(lambda: (home / "service.failed").exists(), message="the service did not fail")
    log = (home / "hook.log").read_text() + (home / "service.log").read_text()
    assert "PreToolUse" in log and "S3cretPassw0rd" not in log


def test_one_service_outlives_the_hooks_and_stops_when_asked(env: dict[str, str], tmp_path: Path) -> None:
    home = Path(env["MSP_HOME"])
    transcript = tmp_path / "t.jsonl"
    write_transcript(transcript)
    hook(env, "PostToolUseFailure", bash("PostToolUseFailure", tmp_path, transcript, FAILED, error=ERROR))
    hook(env, "Stop", {**base("Stop", tmp_path, transcript), "stop_hook_active": False})
    hook(env, "SessionStart", {**base("SessionStart", tmp_path, transcript), "source": "compact"})
    assert len(service_pids(home)) == 1
    assert msp(env, "local-service", "stop").returncode == 0  # returns once the lock is free
    assert not (home / "service.json").exists()
    wait_for(lambda: not service_pids(home), 30, "the service process did not exit")


def test_commands_recorded_elsewhere_are_known_at_once(env: dict[str, str], tmp_path: Path) -> None:
    """A command recorded outside the hooks (msp import in another terminal) is known to the
    running service at the next pre-check: it catches up with the database, nothing to sync."""
    payload = {**bash("PreToolUse", tmp_path, tmp_path / "t", "x"), "tool_name": "mcp__ssh__run_command"}
    payload["tool_input"] = {"host": "nas1", "command": "systemctl restart nmbd"}
    lines = [
        {"kind": "host", "hostname": "NAS1", "shell_type": "sh", "os": "ReadyNAS OS"},
        {"kind": "command", "host": "NAS1", "command": "systemctl status nmbd", "exit_code": 127,
         "output": "-ash: systemctl: not found"},
    ]  # fmt: skip
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps(lines[0]) + "\n")
    assert msp(env, "import", str(first)).returncode == 0
    assert hook(env, "PreToolUse", payload) is None
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps(lines[1]) + "\n")
    assert msp(env, "import", str(second)).returncode == 0
    denied = hook(env, "PreToolUse", payload)
    assert denied is not None and denied["hookSpecificOutput"]["permissionDecision"] == "deny"
