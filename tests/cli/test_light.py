"""The ``msp`` command starts light: ``msp --help`` lists every command without importing
them, and a mistake on the command line is one line, never a traceback (issue 16).

Real ``msp`` processes (``python -m mspmode``): what a process imports is only seen in a fresh
one. No timings here; ``bench/cli_start.py`` measures them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_group

from mspmode.cli.app import COMMANDS, app, load_command
from tests.cli.test_setup import msp
from tests.hooks.test_hooks_e2e import stop_service

HEAVY = ("fastapi", "sqlalchemy", "pydantic", "pydantic_settings", "mcp", "starlette", "alembic")

# Runs ``msp ARGS`` in this process and prints, as JSON, which modules it had imported.
PROBE = """
import json, sys
sys.argv = ["msp", *sys.argv[1:]]
from mspmode.cli import main
code = None
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
    env["MSP_HOME"] = str(tmp_path / "home")
    env["COLUMNS"] = "100"
    return env


def _probe(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env or _env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return proc.stdout, report["code"], set(report["modules"])


def _flat(text: str) -> str:
    """Help text without the box drawing and the line breaks of its layout."""
    return " ".join(text.replace("│", " ").split())


def test_help_lists_every_command_without_importing_them(tmp_path: Path) -> None:
    out, code, modules = _probe(tmp_path, "--help")
    assert code in (0, None)
    flat = _flat(out)
    for name, (_module, help_) in COMMANDS.items():
        assert f" {name} {help_}" in flat, name
    assert not {m for m in modules if m.split(".")[0] in HEAVY}, "--help imported a heavy package"
    command_modules = {f"mspmode.cli.{module}" for module, _help in COMMANDS.values()}
    assert not command_modules & modules
    assert not {m for m in modules if m.startswith(("mspmode.services", "mspmode.db", "mspmode.engine"))}


def test_a_command_imports_its_own_module_only(tmp_path: Path) -> None:
    out, code, modules = _probe(tmp_path, "local-service", "--help")
    assert code in (0, None)
    assert "status" in out
    assert "mspmode.cli.service" in modules
    others = {f"mspmode.cli.{m}" for m, _help in COMMANDS.values()} - {"mspmode.cli.service"}
    assert not others & modules


def test_every_listed_command_is_the_one_its_module_registers() -> None:
    for name, (module, help_) in COMMANDS.items():
        cmd = load_command(name)
        assert sys.modules[f"mspmode.cli.{module}"], name
        real = (cmd.short_help or cmd.help or "").split("\n\n")[0]
        assert " ".join(real.split()) == help_, name
    # …and no module registers a command the list does not name (it would be missing from --help).
    assert set(get_group(app).commands) == set(COMMANDS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "msp: error: No such command 'nosuch'."),
        (["chek"], "msp: error: No such command 'chek'. Did you mean 'check'?"),
        (["check", "--nosuch"], "msp: error: No such option: --nosuch"),
        (["patterns", "nosuch"], "msp: error: No such command 'nosuch'."),
        (["patterns", "list", "--limit", "x"], "msp: error: Invalid value for '--limit'"),
        (["db", "upgrade", "extra"], "msp: error: Got unexpected extra argument"),
    ],
)
def test_a_usage_error_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mspmode", *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(message), lines[0]
    assert "--help`" in lines[0]


FAILING = "Get-LocalUser -Name jdoe"
HISTORY = [
    {"kind": "client", "name": "Contoso"},
    {"kind": "host", "client": "Contoso", "hostname": "DC2", "os": "Windows Server"},
    *(
        {
            "kind": "command",
            "host": "DC2",
            "command": FAILING,
            "exit_code": 1,
            "output": "Get-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
            "at": f"2026-01-0{day}T10:00:00Z",
            "session": f"s{day}",
        }
        for day in (1, 2)
    ),
]


@pytest.fixture
def learned_home(msp_env: dict[str, str], tmp_path: Path) -> Any:
    """An SQLite MSP_HOME that learned a failure on DC2; its local service stopped after."""
    assert msp(msp_env, "init").returncode == 0
    history = tmp_path / "history.jsonl"
    history.write_text("".join(json.dumps(line) + "\n" for line in HISTORY))
    assert msp(msp_env, "import", str(history)).returncode == 0
    yield msp_env
    stop_service(msp_env)


def test_check_asks_the_running_local_service(learned_home: dict[str, str], tmp_path: Path) -> None:
    """With the local service running, ``msp check`` gets its answer from it and loads neither
    Typer nor the database layer; the answer is the one the command gives by itself."""
    args = ("check", "--json", "--host", "DC2", "--", FAILING)
    alone = msp(learned_home, *args)
    assert alone.returncode == 2, alone.stderr
    assert json.loads(alone.stdout)["verdict"] == "block"

    assert msp(learned_home, "local-service", "start", timeout=600).returncode == 0
    out, code, modules = _probe(tmp_path, *args, env=learned_home)
    assert code == 2
    assert json.loads(out) == json.loads(alone.stdout)
    assert not {m for m in modules if m.split(".")[0] in ("typer", "sqlalchemy", "pydantic")}

    text, code, _modules = _probe(tmp_path, "check", "-H", "DC2", FAILING, env=learned_home)
    assert code == 2
    assert text == msp(learned_home, "check", "-H", "DC2", FAILING).stdout
    assert text.startswith("BLOCK (confirmed) on DC2: ")


def test_check_of_another_database_does_not_ask_the_service(
    learned_home: dict[str, str], tmp_path: Path
) -> None:
    assert msp(learned_home, "local-service", "start", timeout=600).returncode == 0
    other = dict(learned_home, MSP_HOME=str(tmp_path / "other"))
    other["MSP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'other.db'}"
    assert msp(other, "init").returncode == 0
    # The same MSP_HOME, but this command is pointed at a database the service does not serve.
    elsewhere = dict(learned_home, MSP_DATABASE_URL=other["MSP_DATABASE_URL"])
    out, code, modules = _probe(tmp_path, "check", "--json", "--host", "DC2", "--", FAILING, env=elsewhere)
    assert "sqlalchemy" in modules  # checked in this process, against its own database
    assert json.loads(out)["verdict"] == "allow"
    assert code in (0, None)
