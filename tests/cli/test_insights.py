"""``msp insights``, ``msp search``, ``msp health`` and ``msp maintenance cleanup`` as real
subprocesses: the insights.md file, the exit status and the one-line error for an unknown
client, search results with their snippet, the health figures, and a retention dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_learning import write_jsonl
from tests.cli.test_setup import msp, one_error_line

NOT_RECOGNIZED = (
    "Get-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet, function, "
    "script file, or operable program.\n    + CategoryInfo          : ObjectNotFound: "
    "(Get-LocalUser:String) [], CommandNotFoundException"
)
HISTORY = [
    {"kind": "client", "name": "Dataforth"},
    {"kind": "client", "name": "Contoso"},
    {"kind": "host", "client": "Dataforth", "hostname": "AD1", "ip_address": "192.0.2.5",
     "os": "Windows Server", "os_version": "2008 R2", "shell_type": "powershell",
     "powershell_version": "2.0"},
    {"kind": "command", "host": "AD1", "command": "Get-LocalUser", "exit_code": 1, "output": NOT_RECOGNIZED,
     "at": "2026-01-01T10:00:00Z", "session": "ad1"},
    {"kind": "command", "host": "AD1", "command": "Get-WmiObject Win32_UserAccount | Select Name",
     "exit_code": 0, "output": "Name\n----\nAdministrator", "at": "2026-01-01T10:01:00Z", "session": "ad1"},
    {"kind": "command", "host": "AD1", "command": "Test-Connection fs1", "exit_code": 1,
     "output": "Testing connection to computer 'fs1' failed: Request timed out.",
     "at": "2026-01-01T10:05:00Z", "session": "ad1"},
]  # fmt: skip


@pytest.fixture
def ready(msp_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    assert msp(msp_env, "init").returncode == 0
    imported = msp(msp_env, "import", str(write_jsonl(tmp_path / "history.jsonl", HISTORY)))
    assert imported.returncode == 0, imported.stderr
    return msp_env


def test_msp_insights_writes_the_clients_file(ready: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "notes" / "insights-dataforth.md"
    done = msp(ready, "insights", "--client", "dataforth", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    text = out.read_text()
    assert text.startswith("# Environmental Insights: Dataforth\n")
    assert "## AD1 (192.0.2.5 - Windows Server 2008 R2, PowerShell 2.0)" in text
    assert "### Version Limitations" in text and "`Get-LocalUser` not available" in text
    assert "Get-WmiObject Win32_UserAccount | Select Name" in text
    printed = msp(ready, "insights", "-c", "Dataforth")
    assert printed.returncode == 0 and printed.stdout == text


def test_msp_insights_for_an_unknown_client_exits_1_naming_the_clients(ready: dict[str, str]) -> None:
    done = msp(ready, "insights", "--client", "Initech")
    assert done.returncode == 1
    line = one_error_line(done)
    assert "Initech" in line and "Contoso" in line and "Dataforth" in line


def test_msp_search_finds_the_learned_solution(ready: dict[str, str]) -> None:
    done = msp(ready, "search", "LocalUser")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("1. ") and "AD1" in lines[0] and "[draft, seen 1× on AD1]" in lines[0]
    assert "[LocalUser]" in lines[1]
    assert lines[2].startswith("   solution: Use `Get-WmiObject Win32_UserAccount | Select Name`")
    as_json = json.loads(msp(ready, "search", "LocalUser", "--json").stdout)
    assert len(as_json) == 1 and as_json[0]["recurrence_count"] == 1
    none = msp(ready, "search", "ERR_SSL_PROTOCOL_ERROR")
    assert (
        none.returncode == 0 and none.stdout.strip() == "no problem solution matches 'ERR_SSL_PROTOCOL_ERROR'"
    )
    bad = msp(ready, "search", "--status", "maybe", "LocalUser")
    assert bad.returncode == 1 and "status must be one of" in one_error_line(bad)


def test_msp_health_explains_the_import_first(ready: dict[str, str]) -> None:
    done = msp(ready, "health", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["refreshed"]["command_explanations"] == 2  # the import was explained lazily
    assert figures["failures"] == 2 and figures["unresolved_failures"] == 1
    assert figures["explanations_by_decision"] == {"retry_with_backoff": 1, "use_learned_alternative": 1}
    assert figures["recovered"] == 1 and figures["mean_time_to_recovery_seconds"] == 60
    assert figures["pending_explanations"] == 0
    text = msp(ready, "health")
    assert text.returncode == 0
    assert "recovery success rate: 100.0%, mean time to recovery: 60 s" in text.stdout


def test_msp_maintenance_cleanup_dry_run(ready: dict[str, str]) -> None:
    msp(ready, "health")  # writes the attempts
    done = msp(ready, "maintenance", "cleanup", "--days", "30", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("would remove 0 pattern(s) and 1 successful attempt(s) older than 30 days")
    report = json.loads(msp(ready, "maintenance", "cleanup", "--days", "30", "--json").stdout)
    assert report["attempts_removed"] == 1 and not report["dry_run"]
    again = json.loads(msp(ready, "maintenance", "cleanup", "--days", "30", "--json").stdout)
    assert again["attempts_removed"] == 0
