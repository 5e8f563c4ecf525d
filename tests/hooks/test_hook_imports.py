"""The hook entry points start light: in a real process, after running each hook path, none of
the web, ORM or CLI stack is imported — only the standard library, ``mspmode.engine``,
``mspmode.hooks`` and the standard-library-only ``mspmode.vault.redact``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
PACKAGE = Path(ROOT) / "mspmode" / "hooks"
HEAVY = ("fastapi", "sqlalchemy", "pydantic", "pydantic_settings", "typer", "rich", "starlette", "uvicorn",
         "platformdirs", "cryptography", "argon2", "mcp", "psycopg", "pymysql")  # fmt: skip
# Standard-library modules that cost a pre-check more than its whole engine does (measured with
# ``-X importtime``): dataclasses pulls in inspect, ast and dis; hashlib loads OpenSSL; uuid loads
# platform; pathlib loads urllib.parse and ipaddress. The engine uses them only where the full
# stack runs (learning, fingerprints); the hooks only to queue a session.
SLOW_STDLIB = (
    "dataclasses",
    "inspect",
    "typing",
    "hashlib",
    "uuid",
    "platform",
    "ast",
    "pathlib",
    "urllib.parse",
)
ALLOWED_OURS = ("mspmode", "mspmode.hooks", "mspmode.engine", "mspmode.vault", "mspmode.vault.redact")

# Run as the installed command runs: -S (no site, whose .pth files load pathlib and more), the
# package's root put on the path by hand as ``mspmode/hooks/__main__.py`` does.
PROBE = """
import io, json, sys
sys.path.insert(0, {root!r})
sys.stdin = io.TextIOWrapper(io.BytesIO(json.dumps({payload}).encode()))
sys.argv = ["msp-hook", {event!r}]
from mspmode.hooks.main import main
main()
sys.stdout.flush()
print("\\n" + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("PreToolUse", {"tool_name": "Bash", "tool_input": {"command": "ls -la"}}),
        ("PreToolUse", {"tool_name": "Bash", "tool_input": {"command": "grep -P x y"}}),
        ("UserPromptSubmit", {"prompt": "check dc01"}),
        ("Stop", {"session_id": "s", "transcript_path": "/nonexistent"}),
    ],
)
def test_a_hook_process_never_loads_the_heavy_stack(
    msp_env: dict[str, str], tmp_path: Path, event: str, payload: dict[str, object]
) -> None:
    # The steady state of a hook whose service cannot answer: the session was told already
    # (telling it logs, redacted, once: the redactor is the heavy part), and the service failed
    # a moment ago, so it is not started again. The database file is there, never opened.
    home = Path(msp_env["MSP_HOME"])
    (home / "hook-sessions").mkdir(parents=True)
    (home / "service.failed").touch()
    (home / "hook-sessions" / "s1.degraded").touch()
    (home / "msp.db").touch()
    env = {**msp_env}
    payload = {"session_id": "s1", **payload}
    code = PROBE.format(payload=repr(payload), event=event, root=ROOT)
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    ours = sorted(m for m in modules if m.startswith("mspmode"))
    bad = [m for m in ours if not m.startswith(("mspmode.hooks", "mspmode.engine")) and m not in ALLOWED_OURS]
    assert bad == [], bad
    assert "mspmode.hooks.main" in ours  # the probe did run the hook
    if event == "PreToolUse":
        assert sorted(m for m in modules if m in SLOW_STDLIB) == []


def test_the_engine_path_stays_light_too(msp_env: dict[str, str]) -> None:
    """With the service down, a command that shares a word with a recorded failure goes through
    the engine over the on-disk index: still nothing heavy. (The session was already told MSP
    Mode is degraded, and the service failed to start a moment ago, so it is not started again:
    the steady state of a hook while the service cannot run.) A denial there also journals the
    verdict, redacted: only then is the redactor loaded."""
    from mspmode import engine
    from mspmode.hooks import config, index

    home = Path(msp_env["MSP_HOME"])
    url = "postgresql://nobody@127.0.0.1:9/none"  # never opened: the hook reads only the index
    mem = engine.Memory()
    engine.add_host(mem, "NAS1", {"shell_type": "sh", "busybox": True})
    engine.record(mem, "NAS1", "grep -P 'a+' /var/log/x", 2, "grep: invalid option -- 'P'")
    index.Writer(index.index_path(home, config.database_label(url, home)), mem).full("")
    (home / "service.failed").touch()
    (home / "hook-sessions").mkdir()
    (home / "hook-sessions" / "s1.degraded").touch()
    env = {**msp_env, "MSP_DATABASE_URL": url}

    def probe(command: str) -> tuple[dict[str, Any] | None, list[str]]:
        payload = {
            "session_id": "s1",
            "tool_name": "mcp__ssh__run_command",
            "tool_input": {"host": "nas1", "command": command},
        }
        code = PROBE.format(payload=repr(payload), event="PreToolUse", root=ROOT)
        proc = subprocess.run(
            [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        answer = json.loads(proc.stdout) if proc.stdout.strip() else None
        return answer, json.loads(proc.stderr.strip().splitlines()[-1])

    allowed, modules = probe("grep -E b y")  # shares "grep" with the failure: the engine runs
    assert allowed is None
    assert "mspmode.engine.precheck" in modules
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []
    # A server URL is parsed with urllib.parse (to name its index); an SQLite one is not.
    assert sorted(m for m in modules if m in SLOW_STDLIB and m != "urllib.parse") == []

    denied, modules = probe("grep -P b y")
    assert denied is not None and denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []
    assert '"kind": "verdict"' in (home / "journal.jsonl").read_text()


def test_the_hooks_package_imports_only_the_standard_library_and_the_engine() -> None:
    stdlib = sys.stdlib_module_names
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                ok = (
                    top in stdlib
                    or name.startswith(("mspmode.hooks", "mspmode.engine"))
                    or name in ALLOWED_OURS
                )
                assert ok, f"{path.name} imports {name}"
