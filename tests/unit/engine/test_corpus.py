"""Snapshot tests over a corpus of real-looking failures (bash, BusyBox/dash, zsh/macOS,
PowerShell 2.0–7, cmd.exe/COMMAND.COM, SQL): input → class, culprit, target, programs, verdict
(reviewed expectations in tests/corpora/engine-failures.jsonl) and → tokens, normalised message,
fingerprint (tests/snapshots/engine-failures.json).

After an intended change to tokenising, masking or grouping, regenerate the snapshot with
``MSP_UPDATE_SNAPSHOTS=1 pytest tests/unit/engine/test_corpus.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from mspmode.engine import (
    Memory,
    add_host,
    check,
    classify,
    find_culprit,
    fingerprint,
    parse,
    record,
    targets,
)
from mspmode.engine.classify import FAILURE_CLASSES
from mspmode.engine.culprit import CULPRIT_KINDS
from mspmode.engine.tokenize import dialect_for_shell

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpora" / "engine-failures.jsonl"
SNAPSHOT = ROOT / "tests" / "snapshots" / "engine-failures.json"

CASES: list[dict[str, Any]] = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def _analyse(case: dict[str, Any]) -> dict[str, Any]:
    script = parse(case["command"], dialect_for_shell(case["shell"]))
    target, effective, _chain = targets(script)[0]
    classification = classify(case["exit_code"], case["output"])
    assert classification is not None, "every corpus case is a failure"
    culprit = find_culprit(classification, case["output"], effective)
    fp = fingerprint(classification.failure_class, culprit, case["output"])
    return {
        "script": script,
        "target": target,
        "effective": effective,
        "classification": classification,
        "culprit": culprit,
        "fingerprint": fp,
    }


def test_corpus_is_broad() -> None:
    shells = {c["shell"] for c in CASES}
    assert len(CASES) >= 80
    assert {"bash", "sh", "zsh", "powershell", "cmd"} <= shells
    assert shells & {"mysql", "psql", "sqlite", "mssql"}
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert {c["expect"]["failure_class"] for c in CASES} >= FAILURE_CLASSES - {"unknown", "version_mismatch"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_class_culprit_target_programs(case: dict[str, Any]) -> None:
    got = _analyse(case)
    expect = case["expect"]
    assert got["classification"].failure_class == expect["failure_class"]
    assert got["classification"].is_transient == expect["is_transient"]
    culprit = got["culprit"]
    assert (culprit.kind if culprit else "none") == expect["culprit_kind"]
    assert (culprit.key if culprit else None) == expect["culprit_key"]
    assert expect["culprit_kind"] in CULPRIT_KINDS
    assert got["target"] == expect["target"]
    assert [s.program for s in got["effective"].segments if s.program] == expect["programs"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_verdict_after_one_failure(case: dict[str, Any]) -> None:
    memory = Memory()
    add_host(memory, "H1", {"shell_type": case["shell"]})
    learned = record(
        memory, "H1", case["command"], case["exit_code"], case["output"], "2026-02-01T10:00:00Z", "s"
    )
    result = check(memory, "H1", case["command"])
    assert result.verdict == case["expect"]["verdict"]
    # Deterministic failures block a repeat, transient ones never do.
    assert (result.verdict == "block") == (not case["expect"]["is_transient"])
    if result.verdict == "block":
        assert learned.pattern_id in result.pattern_ids
        assert result.confidence in ("likely", "confirmed")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_error_pattern_matches_its_own_message(case: dict[str, Any]) -> None:
    got = _analyse(case)
    memory = Memory()
    add_host(memory, "H1", {"shell_type": case["shell"]})
    learned = record(memory, "H1", case["command"], case["exit_code"], case["output"])
    pattern = memory.patterns[learned.pattern_id or ""]
    if not case["output"].strip():
        assert pattern.error_pattern == ""
        return
    assert re.search(pattern.error_pattern, case["output"]), pattern.error_pattern
    assert pattern.error_message_hash == got["fingerprint"].message_hash


def _snapshot_entry(case: dict[str, Any]) -> dict[str, Any]:
    got = _analyse(case)
    return {
        "tokens": [t.text for t in got["script"].tokens],
        "normalized": got["fingerprint"].normalized_message,
        "fingerprint": got["fingerprint"].hash[:16],
        "message_hash": got["fingerprint"].message_hash[:16],
    }


def test_snapshot() -> None:
    current = {c["id"]: _snapshot_entry(c) for c in CASES}
    if os.environ.get("MSP_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    stored = json.loads(SNAPSHOT.read_text())
    changed = sorted(k for k in current if stored.get(k) != current[k])
    assert not changed, f"snapshot differs for {changed}; review and set MSP_UPDATE_SNAPSHOTS=1"
    assert set(stored) == set(current)


def test_same_culprit_same_fingerprint_across_shells() -> None:
    """`dnf: command not found` from bash and `dnf: not found` from ash are one failure."""
    a = _analyse(
        {
            "command": "dnf install x",
            "shell": "bash",
            "exit_code": 127,
            "output": "-bash: dnf: command not found",
        }
    )
    b = _analyse(
        {"command": "dnf upgrade", "shell": "sh", "exit_code": 127, "output": "-ash: dnf: not found"}
    )
    assert a["fingerprint"].hash == b["fingerprint"].hash
    assert a["fingerprint"].message_hash != b["fingerprint"].message_hash
    explained = a["fingerprint"].explain()
    assert "+ culprit: 'cmd:dnf'" in explained and "- message:" in explained
