"""Replay scenario histories through the engine and score the pre-checks the way the benchmark
does: stopped (block / warn_or_block answered as expected), false blocks and false warnings on
allow checks, fix found (first suggestion contains expect_suggestion, case-insensitive).

* ../shared/scenarios/dev-learning.jsonl — the project's dev set (skipped if absent).
* tests/corpora/engine-scenarios.jsonl — our own, other hosts and commands, to see that the
  mechanism generalises rather than fits the dev set.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mspmode.engine import Memory, check, ingest

ROOT = Path(__file__).resolve().parents[3]
# ../shared beside the checkout, or beside a folder above it (a worktree under wt/)
SHARED = next(
    (p / "shared" for p in ROOT.parents if (p / "shared" / "scenarios").is_dir()), ROOT.parent / "shared"
)
DEV_SET = SHARED / "scenarios" / "dev-learning.jsonl"
OWN_SET = ROOT / "tests" / "corpora" / "engine-scenarios.jsonl"


@dataclass
class Score:
    stopped: int = 0
    to_stop: int = 0
    false_blocks: int = 0
    false_warnings: int = 0
    allows: int = 0
    fixes: int = 0
    with_fix: int = 0
    misses: list[str] = field(default_factory=list)


def replay(path: Path) -> Score:
    memory = Memory()
    score = Score()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        event: dict[str, Any] = json.loads(line)
        if event.get("kind") != "check":
            ingest(memory, event)
            continue
        result = check(memory, event.get("host"), event["command"])
        assert result.to_dict().keys() == {
            "host", "command", "verdict", "confidence", "reason", "suggestions", "pattern_ids",
        }  # fmt: skip
        expect = event["expect"]
        where = f"line {number} {event['command']!r} ({event.get('why')}): {result.verdict}, {result.reason}"
        if expect == "allow":
            score.allows += 1
            score.false_blocks += result.verdict == "block"
            score.false_warnings += result.verdict == "warn"
            if result.verdict != "allow":
                score.misses.append(where)
        else:
            score.to_stop += 1
            ok = result.verdict == "block" if expect == "block" else result.verdict in ("block", "warn")
            score.stopped += ok
            if not ok:
                score.misses.append(where)
            assert result.pattern_ids and result.confidence in ("suspected", "likely", "confirmed")
        if event.get("expect_suggestion"):
            score.with_fix += 1
            first = result.suggestions[0] if result.suggestions else ""
            good = event["expect_suggestion"].lower() in first.lower()
            score.fixes += good
            if not good:
                score.misses.append(f"fix {where}: {list(result.suggestions)}")
    return score


def test_dev_learning_scores() -> None:
    if not DEV_SET.exists():
        pytest.skip(f"dev set not found at {DEV_SET} (it lives in the shared/ folder beside the repo)")
    score = replay(DEV_SET)
    assert score.to_stop >= 10 and score.allows >= 5 and score.with_fix >= 10
    assert score.stopped == score.to_stop, score.misses
    assert score.false_blocks == 0, score.misses
    assert score.fixes / score.with_fix >= 0.9, score.misses


def test_own_scenarios_score_perfectly() -> None:
    score = replay(OWN_SET)
    assert score.to_stop >= 12 and score.allows >= 10
    assert score.stopped == score.to_stop, score.misses
    assert score.false_blocks == 0 and score.false_warnings == 0, score.misses
    assert score.fixes == score.with_fix, score.misses


def test_precheck_is_fast_on_a_large_memory() -> None:
    """A smoke check of the O(1) look-up (the real budget is measured by bench/, not here)."""
    memory = Memory()
    for i in range(200):
        ingest(
            memory,
            {
                "kind": "host",
                "hostname": f"h{i}",
                "shell_type": "bash",
                "os": "Debian",
                "os_version": str(i % 5),
            },
        )
    for n in range(4000):
        host = f"h{n % 200}"
        if n % 4 == 0:
            tool = f"tool{n}"
            ingest(
                memory,
                {
                    "kind": "command",
                    "host": host,
                    "command": f"{tool} --x {n}",
                    "exit_code": 127,
                    "output": f"bash: {tool}: command not found",
                },
            )
        else:
            ingest(
                memory,
                {
                    "kind": "command",
                    "host": host,
                    "command": f"ls -la /srv/{n % 50}",
                    "exit_code": 0,
                    "output": "ok",
                },
            )
    assert len(memory.patterns) == 1000
    start = time.perf_counter()
    for n in range(500):
        check(memory, f"h{n % 200}", f"tool{n * 4} --y && ls /srv | grep x")
    per_check = (time.perf_counter() - start) / 500
    assert per_check < 0.01, per_check
