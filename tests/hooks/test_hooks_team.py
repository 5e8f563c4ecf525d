"""Team mode: the same hook processes talk to a real ``msp serve`` (uvicorn, every backend) with
an API key, never opening a database themselves."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mspmode.cli.hooks import hook_argv
from mspmode.server import create_app
from tests.api.conftest import Api, api  # noqa: F401 - the real server fixture
from tests.hooks.test_hooks_e2e import (
    ERROR,
    FAILED,
    FIX,
    REPEAT,
    RESPONSE,
    base,
    bash,
    hook,
    write_transcript,
)
from tests.servers import free_port, serve_in_thread


@contextmanager
def hook_meeting_a_socket(
    port: int, env: dict[str, str], event: str, payload: dict[str, Any]
) -> Iterator[tuple[subprocess.Popen[str], socket.socket]]:
    """A hook process started with ``payload``, and the connection of its first request to a
    bare socket on ``port`` (closed once accepted: the port is then free for a real server)."""
    with (
        socket.create_server(("127.0.0.1", port)) as listener,
        subprocess.Popen(
            hook_argv(event),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        ) as proc,
    ):
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(payload))
        proc.stdin.close()  # read to its end by the hook before it asks
        listener.settimeout(60)
        conn, _ = listener.accept()
        listener.close()
        with conn:
            yield proc, conn


def finished(proc: subprocess.Popen[str]) -> str:
    """The hook's stdout once it ended well (stdin is closed: no communicate())."""
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    return out


def test_team_hooks_record_check_and_recall_through_the_server(
    api: Api,  # noqa: F811
    msp_env: dict[str, str],
    tmp_path: Path,
) -> None:
    home = Path(msp_env["MSP_HOME"])
    home.mkdir(parents=True)
    key = tmp_path / "tech.key"
    key.write_text(api.keys["tech"] + "\n")
    (home / "hooks.json").write_text(
        json.dumps({"server": api.base, "api_key_file": str(key), "timeout": 10})
    )
    env = {**msp_env, "MSP_DATABASE_URL": "sqlite:////nonexistent/never-opened.db"}
    cwd, transcript = tmp_path, tmp_path / "transcript.jsonl"
    write_transcript(transcript)
    # Each backend's server is shared by the module: a command of its own keeps runs apart.
    failed = FAILED.replace("jdoe", f"jdoe-{api.backend}")
    fix = FIX.replace("jdoe", f"jdoe-{api.backend}")

    assert (
        hook(env, "PostToolUseFailure", bash("PostToolUseFailure", cwd, transcript, failed, error=ERROR))
        is None
    )
    denied = hook(env, "PreToolUse", bash("PreToolUse", cwd, transcript, REPEAT))
    assert denied is not None and denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "Get-LocalUser" in denied["hookSpecificOutput"]["permissionDecisionReason"]

    hook(env, "PostToolUse", bash("PostToolUse", cwd, transcript, fix, tool_response=RESPONSE))
    again = hook(env, "PreToolUse", bash("PreToolUse", cwd, transcript, REPEAT))
    assert again is not None
    assert "net user asmith" in again["hookSpecificOutput"]["permissionDecisionReason"]
    explained = hook(
        env, "PostToolUseFailure", bash("PostToolUseFailure", cwd, transcript, failed, error=ERROR)
    )
    assert explained is not None and "net user" in explained["hookSpecificOutput"]["additionalContext"]

    # What local mode saved before the switch to a team server stays: it is not a queued session.
    (home / "hook-queue").mkdir(exist_ok=True)
    (home / "hook-queue" / "saved.json").write_text(json.dumps({"earlier": str(uuid.uuid4())}))
    assert hook(env, "SessionEnd", {**base("SessionEnd", cwd, transcript), "reason": "other"}) is None
    started = hook(
        env, "SessionStart", {**base("SessionStart", cwd, transcript, "next"), "source": "startup"}
    )
    assert started is not None
    assert "Get-LocalUser" in started["hookSpecificOutput"]["additionalContext"]
    # Sent, not left behind.
    assert [p.name for p in (home / "hook-queue").glob("*.json")] == ["saved.json"]
    prompt = {**base("UserPromptSubmit", cwd, transcript, "next"), "prompt": "is jdoe enabled on DC2?"}
    answered = hook(env, "UserPromptSubmit", prompt)
    assert answered is not None and "Get-LocalUser" in answered["hookSpecificOutput"]["additionalContext"]


def test_the_first_check_after_the_team_server_restarts_waits_for_it(
    api: Api,  # noqa: F811
    msp_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A PreToolUse that finds the team server down (restarting: it opens its socket once it
    has loaded what it learned) waits for it instead of letting a known failure run unchecked."""
    home = Path(msp_env["MSP_HOME"])
    home.mkdir(parents=True)
    key = tmp_path / "tech.key"
    key.write_text(api.keys["tech"] + "\n")
    env = {**msp_env, "MSP_DATABASE_URL": "sqlite:////nonexistent/never-opened.db"}
    cwd, transcript = tmp_path, tmp_path / "transcript.jsonl"
    write_transcript(transcript)
    failed = FAILED.replace("jdoe", f"jdoe-restart-{api.backend}")
    repeat = REPEAT.replace("jdoe", f"jdoe-restart-{api.backend}")
    (home / "hooks.json").write_text(json.dumps({"server": api.base, "api_key_file": str(key)}))
    hook(env, "PostToolUseFailure", bash("PostToolUseFailure", cwd, transcript, failed, error=ERROR))

    port = free_port()
    (home / "hooks.json").write_text(
        json.dumps({"server": f"http://127.0.0.1:{port}", "api_key_file": str(key)})
    )
    # The port answers the hook's first request by hanging up, then is free for the server.
    payload = bash("PreToolUse", cwd, transcript, repeat)
    with hook_meeting_a_socket(port, env, "PreToolUse", payload) as (proc, conn):
        conn.close()
        with serve_in_thread(create_app(api.rt.settings, api.rt.db), port=port):
            out = finished(proc)
    denied = json.loads(out)
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "Get-LocalUser" in denied["hookSpecificOutput"]["permissionDecisionReason"]


def test_a_command_journaled_after_the_server_hung_up_keeps_the_stamp_it_was_sent_with(
    msp_env: dict[str, str], tmp_path: Path
) -> None:
    """A server that stored the command and died before answering has it under the time stamp
    the hook sent: the journaled copy carries the same stamp, so its replay is skipped, never
    stored twice."""
    home = Path(msp_env["MSP_HOME"])
    home.mkdir(parents=True)
    key = tmp_path / "tech.key"
    key.write_text("not-used-the-server-hangs-up\n")
    port = free_port()
    (home / "hooks.json").write_text(
        json.dumps({"server": f"http://127.0.0.1:{port}", "api_key_file": str(key)})
    )
    env = {**msp_env, "MSP_DATABASE_URL": "sqlite:////nonexistent/never-opened.db"}
    transcript = tmp_path / "transcript.jsonl"
    write_transcript(transcript)
    payload = bash("PostToolUse", tmp_path, transcript, "echo stamped", tool_response=RESPONSE)
    with hook_meeting_a_socket(port, env, "PostToolUse", payload) as (proc, conn):
        conn.settimeout(30)
        received = b""
        while b"\r\n\r\n" not in received:
            received += conn.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int(
            next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
        )
        while len(body) < length:
            body += conn.recv(65536)
        conn.close()  # hung up without an answer, as a server killed after its commit
        finished(proc)
    sent = json.loads(body)["msp"]["at"]
    journal = [json.loads(line) for line in (home / "journal.jsonl").read_text().splitlines()]
    assert [(j["command"], j["at"]) for j in journal] == [("echo stamped", sent)]
