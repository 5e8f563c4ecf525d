"""``msp import``, ``msp check``, ``msp patterns`` and ``msp learn`` as real subprocesses, the way
a technician (or an agent hook) runs them: summary lines, the exact ``--json`` contract, exit
statuses, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_setup import msp, one_error_line

ROOT = Path(__file__).resolve().parents[2]
DEV_SET = ROOT.parent / "shared" / "scenarios" / "dev-learning.jsonl"
CONTRACT = ["host", "command", "verdict", "confidence", "reason", "suggestions", "pattern_ids"]

HISTORY = [
    {"kind": "client", "name": "Contoso"},
    {"kind": "host", "client": "Contoso", "hostname": "NAS1", "ip_address": "192.0.2.9", "os": "ReadyNAS OS",
     "os_version": "6.10", "shell_type": "sh", "aliases": ["nas1.contoso.example"]},
    {"kind": "host", "client": "Contoso", "hostname": "web1", "os": "Ubuntu", "os_version": "22.04",
     "shell_type": "bash", "init_system": "systemd"},
    {"kind": "command", "host": "NAS1", "command": "systemctl status nmbd", "exit_code": 127,
     "output": "-ash: systemctl: not found", "at": "2026-01-01T10:00:00Z", "session": "nas-1"},
    {"kind": "command", "host": "NAS1", "command": "service nmbd status", "exit_code": 0,
     "output": "nmbd is running", "at": "2026-01-01T10:01:00Z", "session": "nas-1"},
    {"kind": "command", "host": "web1", "command": "systemctl status nginx", "exit_code": 0,
     "output": "active"},
    {"kind": "check", "host": "NAS1", "command": "systemctl restart nmbd", "expect": "block"},
    {"kind": "inventory", "serial": "X1"},
]  # fmt: skip


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


@pytest.fixture
def ready(msp_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    assert msp(msp_env, "init").returncode == 0
    imported = msp(msp_env, "import", str(write_jsonl(tmp_path / "history.jsonl", HISTORY)))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("imported 3 command(s) from history.jsonl")
    assert "1 failure(s), 1 new pattern(s), 1 fix(es) learned" in imported.stdout
    assert "skipped 1 check line(s), 1 of unknown kinds, 0 bad line(s)" in imported.stdout
    return msp_env


def test_check_answers_the_contract_with_hook_exit_codes(ready: dict[str, str]) -> None:
    blocked = msp(ready, "check", "--host", "nas1.contoso.example", "--json", "--", "systemctl restart nmbd")
    assert blocked.returncode == 2, blocked.stderr
    result = json.loads(blocked.stdout)
    assert list(result) == CONTRACT and blocked.stdout.count("\n") == 1
    assert result["host"] == "NAS1" and result["command"] == "systemctl restart nmbd"
    assert result["verdict"] == "block" and result["confidence"] in ("likely", "confirmed")
    assert result["suggestions"][0] == "service nmbd restart" and len(result["pattern_ids"]) == 1

    found = msp(ready, "check", "--json", "--", "ssh root@192.0.2.9 'systemctl status smbd'")
    assert found.returncode == 2 and json.loads(found.stdout)["host"] == "NAS1"
    assert json.loads(found.stdout)["suggestions"][0] == "ssh root@192.0.2.9 'service smbd status'"

    allowed = msp(ready, "check", "--host", "web1", "--json", "--", "systemctl restart nginx")
    assert allowed.returncode == 0 and json.loads(allowed.stdout)["verdict"] == "allow"
    local = json.loads(msp(ready, "check", "--json", "--", "ls -la").stdout)
    assert local["host"] is None and local["verdict"] == "allow" and local["confidence"] is None

    human = msp(ready, "check", "-H", "NAS1", "--", "systemctl", "start", "nmbd")
    assert human.returncode == 2 and human.stdout.startswith("BLOCK (")
    assert "instead: service nmbd start" in human.stdout

    assert "nothing to check" in one_error_line(msp(ready, "check", "--host", "NAS1"))


def test_batch_checks_answer_one_line_each_in_order(ready: dict[str, str], tmp_path: Path) -> None:
    batch = write_jsonl(
        tmp_path / "batch.jsonl",
        [
            {"host": "NAS1", "command": "systemctl restart nmbd", "expect": "block", "why": "ignored keys"},
            "not json at all",
            {"host": None, "command": "ssh root@nas1.contoso.example systemctl status smbd"},
            "",
            {"host": "web1", "command": "systemctl status nginx"},
        ],
    )
    done = msp(ready, "check", "--json", "--batch", str(batch))
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [list(a) for a in answers] == [CONTRACT] * 4
    assert [a["verdict"] for a in answers] == ["block", "allow", "block", "allow"]
    assert "line 2" in answers[1]["reason"] and "line 2" in done.stderr
    assert answers[2]["host"] == "NAS1" and answers[3]["command"] == "systemctl status nginx"


def test_patterns_list_show_explain_and_learn(ready: dict[str, str]) -> None:
    listed = json.loads(msp(ready, "patterns", "list", "--json").stdout)
    assert listed["total"] == 1
    pattern = listed["items"][0]
    assert pattern["culprit"] == "systemctl" and pattern["failure_class"] == "command_not_found"
    table = msp(ready, "patterns", "list")
    assert table.returncode == 0 and pattern["id"][:8] in table.stdout

    shown = json.loads(msp(ready, "patterns", "show", pattern["id"][:6], "--json").stdout)
    assert shown["id"] == pattern["id"] and shown["workaround_commands"] == ["service nmbd status"]

    explained = json.loads(msp(ready, "patterns", "explain", pattern["id"], "--json").stdout)
    names = [c["name"] for c in explained["fingerprint"]["components"]]
    assert names == ["failure_class", "culprit", "message"] and explained["verdict"]
    text = msp(ready, "patterns", "explain", pattern["id"][:8]).stdout
    assert (
        "fingerprint" in text and "verdict:" in text and "Blocks any command using command systemctl" in text
    )
    assert "no failure pattern" in one_error_line(msp(ready, "patterns", "explain", "ffffffff"))

    learned = msp(ready, "learn", "--json")
    assert learned.returncode == 0, learned.stderr
    report = json.loads(learned.stdout)
    assert report["commands"] == 3 and report["patterns"] == 1
    assert report["patterns_new"] == 0 and report["commands_changed"] == 0
    # The imported failure had no recovery explanation yet (imports are explained lazily).
    assert report["recovery"]["command_explanations"] == 1
    assert json.loads(msp(ready, "learn", "--json").stdout)["recovery"]["command_explanations"] == 0
    again = json.loads(msp(ready, "patterns", "list", "--json").stdout)
    assert again["items"][0]["id"] == pattern["id"]


def test_import_reports_bad_lines_and_json(msp_env: dict[str, str], tmp_path: Path) -> None:
    assert msp(msp_env, "init").returncode == 0
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"kind": "command", "host": "h1", "command": "uptime", "exit_code": 0, "output": "up"},
            "{broken",
            {"kind": "command", "host": "h1", "exit_code": 0},
            {"kind": "command", "host": "h1", "command": "nope-tool", "exit_code": 127,
             "output": "bash: nope-tool: command not found"},
        ],
    )  # fmt: skip
    done = msp(msp_env, "import", "--json", str(path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["commands"] == 2 and report["failures"] == 1 and report["hosts"] == 0
    assert report["bad_lines"] == [
        {"line": 2, "error": report["bad_lines"][0]["error"]},
        {"line": 3, "error": "lacks the field 'command'"},
    ]
    assert report["bad_lines"][0]["error"].startswith("not JSON")
    assert (
        "mixed.jsonl: line 2: not JSON" in done.stderr and "line 3: lacks the field 'command'" in done.stderr
    )
    blocked = msp(msp_env, "check", "--host", "H1", "--json", "--", "nope-tool --version")
    assert blocked.returncode == 2 and json.loads(blocked.stdout)["host"] == "h1"
    assert "cannot read" in one_error_line(msp(msp_env, "import", str(tmp_path / "missing.jsonl")))


def test_the_dev_scenario_through_the_cli(msp_env: dict[str, str], tmp_path: Path) -> None:
    if not DEV_SET.exists():
        pytest.skip(f"dev set not found at {DEV_SET}")
    assert msp(msp_env, "init").returncode == 0
    imported = json.loads(msp(msp_env, "import", "--json", str(DEV_SET)).stdout)
    assert imported["commands"] == 68 and imported["checks_skipped"] == 20 and imported["bad_lines"] == []
    checks = [json.loads(line) for line in DEV_SET.read_text().splitlines() if '"check"' in line]
    answered = msp(msp_env, "check", "--json", "--batch", str(write_jsonl(tmp_path / "checks.jsonl", checks)))
    assert answered.returncode == 0, answered.stderr
    answers = [json.loads(line) for line in answered.stdout.splitlines()]
    assert len(answers) == len(checks)
    for check, answer in zip(checks, answers, strict=True):
        wanted = {"block": {"block"}, "warn_or_block": {"warn", "block"}, "allow": {"allow"}}[check["expect"]]
        assert answer["verdict"] in wanted, (check, answer)
        assert answer["command"] == check["command"]
