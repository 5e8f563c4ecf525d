"""The real Claude Code CLI, pinned, run headless against the fake model of ``fake_model.py``.

Where the binary comes from: ``MSP_TEST_CLAUDE_BIN``, else ``claude`` on ``PATH``, else
``/opt/claude-code/node_modules/.bin/claude`` (what ``.ci/run`` installs under
``/opt/msp-ci/claude`` is exported as ``MSP_TEST_CLAUDE_BIN``). Its ``--version`` must be
:data:`PINNED_VERSION` (the one place the version is written; ``.ci/run`` reads it from here):
the request shapes and hook behaviour the tests read are this version's. :func:`locate`
raises :class:`ClaudeUnavailable` with the reason; the tests skip on it, or fail when
``MSP_TEST_REQUIRE_CLAUDE=1`` (CI).

Every run is isolated: a private ``HOME`` (Claude Code's own config, transcripts, MCP
servers), ``ANTHROPIC_BASE_URL`` at the fake model on 127.0.0.1, nothing sent elsewhere
(``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`` and friends), ``-p`` with stream-json output,
the hook events and a debug log, tools allowed by ``--allowedTools`` (as root
``--dangerously-skip-permissions`` is refused), and a time limit after which the whole process
group is killed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.agent.fake_model import Script

PINNED_VERSION = "2.1.332"
NPM_PACKAGE = "@anthropic-ai/claude-code"
BIN_ENV = "MSP_TEST_CLAUDE_BIN"
REQUIRE_ENV = "MSP_TEST_REQUIRE_CLAUDE"
DEFAULT_LOCATIONS = ("/opt/claude-code/node_modules/.bin/claude",)
DEFAULT_TIMEOUT = 240.0  # one headless session; a shared 2-CPU machine can be 5x slower than usual
ALLOWED_TOOLS = ("Bash", "mcp__msp")
# Claude Code's debug log: "Hooks: PreToolUse:Bash [COMMAND] finished with status 0 (137ms)"
HOOK_LINE = re.compile(r"Hooks: (\S+) \[(.*)\] finished with status (-?\d+) \((\d+)\s*ms\)")
# What a run inherits from no one: our own settings, the developer's Anthropic/Claude settings.
_STRIPPED_PREFIXES = ("MSP_", "ANTHROPIC_", "CLAUDE", "DISABLE_")


class ClaudeUnavailable(Exception):
    """No usable pinned Claude Code here; the message says why."""


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def candidates() -> list[tuple[str, str]]:
    """(where it came from, path) in the order they are tried."""
    given = os.environ.get(BIN_ENV, "").strip()
    if given:
        return [(BIN_ENV, given)]  # named explicitly: nothing else is tried
    found: list[tuple[str, str]] = []
    on_path = shutil.which("claude")
    if on_path:
        found.append(("PATH", on_path))
    found += [("default", p) for p in DEFAULT_LOCATIONS]
    return found


def version_of(binary: str | Path, timeout: float = 60.0) -> str:
    """``claude --version``'s version number (``2.1.332 (Claude Code)`` → ``2.1.332``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
    env.update(DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1")
    try:
        proc = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClaudeUnavailable(f"{binary} --version: {exc}") from None
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out:
        raise ClaudeUnavailable(
            f"{binary} --version exited {proc.returncode}: {(proc.stderr or out).strip()[-300:]}"
        )
    return out.split()[0]


def locate() -> Path:
    """The pinned claude binary, or :class:`ClaudeUnavailable` saying what was found instead. A
    binary named by ``MSP_TEST_CLAUDE_BIN`` must be the pinned version; otherwise the first
    candidate that is wins."""
    tried = []
    for origin, raw in candidates():
        path = Path(raw)
        if not (path.is_file() and os.access(path, os.X_OK)):
            tried.append(f"{raw} ({origin}): not an executable file")
            continue
        version = version_of(path)
        if version == PINNED_VERSION:
            return path
        tried.append(f"{raw} ({origin}) is Claude Code {version}")
    raise ClaudeUnavailable(
        f"no Claude Code {PINNED_VERSION} ({'; '.join(tried)}): npm install {NPM_PACKAGE}@{PINNED_VERSION} "
        f"and point {BIN_ENV} at its node_modules/.bin/claude"
    )


def claude_env(base: dict[str, str], *, home: Path, script: Script | None = None) -> dict[str, str]:
    """``base`` (which carries MSP_HOME, MSP_DATABASE_URL…) with Claude Code isolated: its own
    HOME, the fake model as its API, no traffic anywhere else."""
    env = {k: v for k, v in base.items() if not k.startswith(("ANTHROPIC_", "CLAUDE", "DISABLE_"))}
    env.update(
        HOME=str(home),
        ANTHROPIC_API_KEY="sk-test",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_ERROR_REPORTING="1",
    )
    env.pop("XDG_CONFIG_HOME", None)
    if script is not None:
        env["ANTHROPIC_BASE_URL"] = script.base_url
    return env


def clean_base_env() -> dict[str, str]:
    """This process's environment without anything of ours, Anthropic's or Claude Code's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}


@dataclass
class HookRun:
    name: str  # "PreToolUse:Bash", "SessionStart:startup"…
    command: str
    status: int
    ms: int


@dataclass
class Run:
    """One finished headless claude session."""

    returncode: int
    seconds: float
    started: float  # time.monotonic() just before the process was started
    events: list[dict[str, Any]]  # the stream-json lines
    debug: str
    stderr: str
    rundir: Path
    hooks: list[HookRun] = field(default_factory=list)

    def hook_ms(self, prefix: str) -> list[int]:
        """Durations of the hooks whose name starts with ``prefix`` ("PreToolUse", "SessionStart")."""
        return [h.ms for h in self.hooks if h.name.startswith(prefix)]

    def hook_texts(self) -> list[str]:
        """Every text a hook gave Claude Code to pass on (additional context, deny reasons…), from
        the stream-json hook events."""
        texts: list[str] = []
        for event in self.events:
            if event.get("subtype") != "hook_response":
                continue
            try:
                answer = json.loads(event.get("output") or event.get("stdout") or "null")
            except ValueError:
                continue
            specific = answer.get("hookSpecificOutput") if isinstance(answer, dict) else None
            for part in (answer, specific):
                if isinstance(part, dict):
                    texts += [v for v in part.values() if isinstance(v, str) and len(v) > 40]
        return texts

    @property
    def session_id(self) -> str | None:
        return next((e.get("session_id") for e in self.events if e.get("session_id")), None)

    def describe(self) -> str:
        """What to print when a test about this run fails."""
        return f"claude exited {self.returncode} after {self.seconds:.1f}s; artefacts in {self.rundir}"


class ClaudeTimeout(AssertionError):
    pass


def run_claude(
    binary: Path,
    *,
    cwd: Path,
    prompt: str,
    script: Script,
    env: dict[str, str],
    rundir: Path,
    timeout: float = DEFAULT_TIMEOUT,
    allowed_tools: tuple[str, ...] = ALLOWED_TOOLS,
    extra_args: tuple[str, ...] = (),
) -> Run:
    """Run one ``claude -p`` session to its end (or kill it at ``timeout``)."""
    rundir.mkdir(parents=True, exist_ok=True)
    debug = rundir / "debug.log"
    argv = [
        str(binary),
        "-p",
        prompt,
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-hook-events",
        "--debug-file",
        str(debug),
        "--allowedTools",
        *allowed_tools,
        *extra_args,
    ]
    run_env = dict(env, ANTHROPIC_BASE_URL=script.base_url)
    out_path, err_path = rundir / "out.jsonl", rundir / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # The hooks and the MCP server are its children: the whole group goes.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise ClaudeTimeout(
                f"claude did not finish within {timeout:.0f}s (cwd {cwd}); artefacts in {rundir}"
            ) from None
        seconds = time.monotonic() - started
    events = []
    for line in out_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    debug_text = debug.read_text(encoding="utf-8", errors="replace") if debug.exists() else ""
    hooks = [HookRun(m[1], m[2], int(m[3]), int(m[4])) for m in HOOK_LINE.finditer(debug_text)]
    return Run(
        returncode=code,
        seconds=seconds,
        started=started,
        events=events,
        debug=debug_text,
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        rundir=rundir,
        hooks=hooks,
    )
