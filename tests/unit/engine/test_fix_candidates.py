"""The fix transfer looks only at the patterns its indexes name (``Memory.fixed_commands``,
``Memory.fixed_by_class``), stops at ``limit`` suggestions and tries the fixes of at most
``RELATED_TRIED`` related patterns: on real histories, every failure gets exactly the
suggestions the scan of every pattern without the cap gives, and the indexes are what the
patterns' fixes say.

The corpora: the shared real-world and dev scenarios (beside the checkout, when present) and the
project's own real-world corpus and engine scenarios, replayed into one memory so that patterns
of many classes and fixes of many commands sit side by side.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mspmode.engine import Memory, ingest, record
from mspmode.engine.learn import Learned, fixed_key
from mspmode.engine.transfer import RELATED_TRIED, suggest_fixes

ROOT = Path(__file__).resolve().parents[3]
SHARED = next(
    (p / "shared" for p in ROOT.parents if (p / "shared" / "scenarios").is_dir()), ROOT.parent / "shared"
)
CORPORA = [
    SHARED / "scenarios" / "realworld-dev.jsonl",
    SHARED / "scenarios" / "dev-learning.jsonl",
    ROOT / "tests" / "corpora" / "realworld" / "tune.jsonl",
    ROOT / "tests" / "corpora" / "realworld" / "heldout.jsonl",
    ROOT / "tests" / "corpora" / "engine-scenarios.jsonl",
]


def full_scan(memory: Memory, learned: Learned, limit: int) -> list[str]:
    """What ``suggest_fixes`` answers when every pattern is a candidate (the scan without the
    indexes: swapped for ones that name every pattern under every class) and every related
    pattern tried (no ``tried`` cap)."""
    saved = memory.fixed_commands, memory.fixed_by_class
    every = set(memory.patterns)
    memory.fixed_commands = {}
    memory.fixed_by_class = {p.failure_class: every for p in memory.patterns.values()}
    try:
        return suggest_fixes(memory, learned, limit, tried=None)
    finally:
        memory.fixed_commands, memory.fixed_by_class = saved


def rebuilt_indexes(memory: Memory) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    commands: dict[str, set[str]] = {}
    classes: dict[str, set[str]] = {}
    for p in memory.patterns.values():
        for fix in p.fixes:
            commands.setdefault(fixed_key(fix), set()).add(p.id)
        if p.fixes:
            classes.setdefault(p.failure_class, set()).add(p.id)
    return commands, classes


def replay(paths: list[Path]) -> tuple[Memory, list[Learned]]:
    memory = Memory()
    failures = []
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            event: dict[str, Any] = json.loads(line)
            learned = ingest(memory, event)
            if isinstance(learned, Learned) and learned.pattern_id:
                # compared where the service asks: right after the failure is recorded
                index = suggest_fixes(memory, learned)
                assert index == full_scan(memory, learned, 5), (path.name, learned.record.command)
                unlimited = suggest_fixes(memory, learned, limit=100)
                assert unlimited == full_scan(memory, learned, 100), (path.name, learned.record.command)
                failures.append(learned)
    return memory, failures


@pytest.fixture(scope="module")
def replayed() -> tuple[Memory, list[Learned]]:
    present = [p for p in CORPORA if p.exists()]
    assert ROOT / "tests" / "corpora" / "engine-scenarios.jsonl" in present
    return replay(present)


def test_each_failure_gets_the_full_scans_suggestions(replayed: tuple[Memory, list[Learned]]) -> None:
    memory, failures = replayed
    # the comparison saw failures that get suggestions, some of them from other patterns
    offered = [learned for learned in failures if suggest_fixes(memory, learned)]
    assert len(failures) > 200 and len(offered) > 50
    classes = {p.failure_class for p in memory.patterns.values() if p.fixes}
    assert len(classes) > 3


def test_the_indexes_are_what_the_fixes_say(replayed: tuple[Memory, list[Learned]]) -> None:
    memory, _ = replayed
    commands, classes = rebuilt_indexes(memory)
    assert commands and classes
    assert memory.fixed_commands == commands
    assert memory.fixed_by_class == classes


def test_later_failures_still_match_after_all_is_learned(replayed: tuple[Memory, list[Learned]]) -> None:
    """Each failure asked again once the whole history is in memory (many more patterns and
    fixes than when it was recorded): still the full scan's answer."""
    memory, failures = replayed
    for learned in failures:
        assert suggest_fixes(memory, learned) == full_scan(memory, learned, 5), learned.record.command


def test_past_the_cap_the_most_recently_fixed_are_tried() -> None:
    """More related patterns with fixes than ``RELATED_TRIED`` (``X: command not found`` is the
    message of every unknown command): the most recent fix that transplants is still found,
    whatever its pattern's id."""
    memory = Memory()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for k in range(RELATED_TRIED + 80):
        tool = f"tool{k}ctl"
        record(memory, "web1", f"{tool} status", 127, f"bash: {tool}: command not found", at, f"s{k}")
        record(memory, "web1", f"service svc{k} status", 0, "ok", at + timedelta(seconds=20), f"s{k}")
        at += timedelta(minutes=1)
    last = record(memory, "web1", "widget --now", 127, "bash: widget: command not found", at, "last")
    record(memory, "web1", "sudo widget --now", 0, "ok", at + timedelta(seconds=20), "last")
    related = sorted(memory.fixed_by_class["command_not_found"])
    # control: the cap is reached, and the pattern is not among the first in id order
    assert related.index(last.pattern_id or "") >= RELATED_TRIED
    failed = record(
        memory,
        "web1",
        "frobnicate --now",
        127,
        "bash: frobnicate: command not found",
        at + timedelta(hours=1),
        "x",
    )
    assert suggest_fixes(memory, failed) == full_scan(memory, failed, 5) == ["sudo frobnicate --now"]
