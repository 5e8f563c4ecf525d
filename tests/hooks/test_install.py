"""``msp hooks install|uninstall`` against a temporary HOME: our entries are merged into
Claude Code's settings next to anyone else's, idempotently, with a backup; uninstall removes
only ours; team mode writes the server and key file for the hooks."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

import mspmode.hooks as hooks_package
from mspmode.cli.hooks import MARKER
from tests.cli.test_setup import msp
from tests.hooks.test_hooks_e2e import service_pids, stop_service, wait_for

THEIRS = {
    "model": "opus",
    "hooks": {
        "PreToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "./lint.sh"}]}],
        "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}],
    },
}
EVENTS = [
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "SessionStart",
    "UserPromptSubmit",
    "Stop",
    "SessionEnd",
]


@pytest.fixture
def home_env(msp_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "user"
    (home / ".claude").mkdir(parents=True)
    return {**msp_env, "HOME": str(home)}


def settings(env: dict[str, str]) -> dict[str, Any]:
    return json.loads((Path(env["HOME"]) / ".claude" / "settings.json").read_text())


def ours(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        event: [g for g in groups if MARKER.search(json.dumps(g))] for event, groups in data["hooks"].items()
    }


def test_install_merges_idempotently_and_uninstall_removes_only_ours(home_env: dict[str, str]) -> None:
    path = Path(home_env["HOME"]) / ".claude" / "settings.json"
    path.write_text(json.dumps(THEIRS))
    first = msp(home_env, "hooks", "install")
    assert first.returncode == 0, first.stderr
    data = settings(home_env)
    assert data["model"] == "opus"
    assert data["hooks"]["PreToolUse"][0] == THEIRS["hooks"]["PreToolUse"][0]
    assert data["hooks"]["Notification"] == THEIRS["hooks"]["Notification"]
    mine = ours(data)
    assert all(len(mine[e]) == 1 for e in EVENTS)
    pre = mine["PreToolUse"][0]
    assert pre["matcher"] == "Bash|PowerShell|mcp__.*"
    entry = pre["hooks"][0]
    assert entry["type"] == "command" and 0 < entry["timeout"] <= 60
    argv = shlex.split(entry["command"])
    assert argv[1] == "-S" and Path(argv[2]) == Path(hooks_package.__file__).resolve().parent / "__main__.py"
    assert argv[3] == "PreToolUse" and "--home" in argv  # MSP_HOME was set
    assert "matcher" not in mine["UserPromptSubmit"][0] and "matcher" not in mine["Stop"][0]
    backups = list((Path(home_env["MSP_HOME"]) / "settings-backups").glob("settings.json.*"))
    assert len(backups) == 1 and json.loads(backups[0].read_text()) == THEIRS
    assert not list(path.parent.glob("*backup*"))

    again = msp(home_env, "hooks", "install")
    assert again.returncode == 0
    assert settings(home_env) == data  # idempotent: nothing duplicated, nothing rewritten
    assert len(list((Path(home_env["MSP_HOME"]) / "settings-backups").iterdir())) == 1

    # The installed command really runs the hook.
    proc = subprocess.run(
        argv, input=json.dumps({"tool_name": "Bash", "tool_input": {"command": "ls"}}),
        capture_output=True, text=True, timeout=60, env=home_env, check=False,
    )  # fmt: skip
    # No `msp init` ran here: the hook says the database is missing rather than create one.
    assert proc.returncode == 0, proc.stderr
    told = json.loads(proc.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "does not exist" in told and not (Path(home_env["MSP_HOME"]) / "msp.db").exists()

    gone = msp(home_env, "hooks", "uninstall")
    assert gone.returncode == 0, gone.stderr
    assert settings(home_env) == THEIRS
    assert "no MSP Mode hooks" in msp(home_env, "hooks", "uninstall").stdout


def test_install_replaces_the_entries_of_an_earlier_version(home_env: dict[str, str]) -> None:
    """Earlier versions wrote ``python -m mspmode.hooks EVENT``: install replaces those entries
    with the ``-S`` form instead of running both, and leaves everyone else's alone."""
    path = Path(home_env["HOME"]) / ".claude" / "settings.json"
    old = {
        "matcher": "Bash",
        "hooks": [{"type": "command", "command": "/old/python -m mspmode.hooks PreToolUse"}],
    }
    path.write_text(json.dumps({"hooks": {"PreToolUse": [THEIRS["hooks"]["PreToolUse"][0], old]}}))
    assert msp(home_env, "hooks", "install").returncode == 0
    pre = settings(home_env)["hooks"]["PreToolUse"]
    assert pre[0] == THEIRS["hooks"]["PreToolUse"][0] and len(pre) == 2
    assert shlex.split(pre[1]["hooks"][0]["command"])[1] == "-S"


def test_install_into_a_missing_file_and_team_mode(home_env: dict[str, str], tmp_path: Path) -> None:
    key = tmp_path / "api.key"
    key.write_text("msp_testkey\n")
    done = msp(
        home_env, "hooks", "install", "--server", "https://msp.example.test:8000/", "--api-key-file", str(key)
    )
    assert done.returncode == 0, done.stderr
    assert "team server" in done.stdout
    assert set(ours(settings(home_env))) == set(EVENTS)
    config = json.loads((Path(home_env["MSP_HOME"]) / "hooks.json").read_text())
    assert config["server"] == "https://msp.example.test:8000" and config["api_key_file"] == str(
        key.resolve()
    )
    assert oct((Path(home_env["MSP_HOME"]) / "hooks.json").stat().st_mode & 0o777) == "0o600"
    # Back to local mode: the server is forgotten.
    assert msp(home_env, "hooks", "install").returncode == 0
    assert "server" not in json.loads((Path(home_env["MSP_HOME"]) / "hooks.json").read_text())


def test_bad_input_is_one_error_line(home_env: dict[str, str], tmp_path: Path) -> None:
    path = Path(home_env["HOME"]) / ".claude" / "settings.json"
    path.write_text("{not json")
    broken = msp(home_env, "hooks", "install")
    assert broken.returncode == 1 and "is not valid JSON" in broken.stderr
    assert path.read_text() == "{not json"  # left alone
    half = msp(home_env, "hooks", "install", "--server", "https://x.test")
    assert half.returncode == 1 and "--api-key-file" in half.stderr


def test_project_scope_writes_the_project_file(home_env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    from tests.cli.test_setup import MSP

    proc = subprocess.run(
        [*MSP, "hooks", "install", "--scope", "project"], cwd=project, env=home_env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads((project / ".claude" / "settings.local.json").read_text())
    assert set(ours(data)) == set(EVENTS)
    assert not (project / ".claude" / "settings.json").exists()  # machine paths stay local
    assert not (Path(home_env["HOME"]) / ".claude" / "settings.json").exists()


def test_install_starts_the_service_when_there_is_a_database(home_env: dict[str, str]) -> None:
    """No database: nothing started, none created. With one: the local service is started, and it
    writes the on-disk index the hooks fall back on."""
    home = Path(home_env["MSP_HOME"])
    assert msp(home_env, "hooks", "install").returncode == 0
    assert not (home / "msp.db").exists()
    assert not (home / "service.lock").exists()
    assert msp(home_env, "init").returncode == 0
    try:
        assert msp(home_env, "hooks", "install").returncode == 0
        wait_for(lambda: list((home / "cache").glob("hook-index-*.sqlite")), 600, "no index written")
        assert len(service_pids(home)) == 1
    finally:
        stop_service(home_env)
