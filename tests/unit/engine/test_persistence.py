"""What the services rely on to keep the engine's memory as a cache of the database: touched
patterns are handed over once with their columns current (lazily or not, the same), records
point at the failures their fixes fixed, a replay that names the target host learns what the
original recording learned, and the speed-ups of normalisation change no result."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mspmode.engine import Memory, add_host, ingest, record
from mspmode.engine.explain import verdict_lines
from mspmode.engine.learn import take_touched
from mspmode.engine.normalize import MASKS, MESSAGE_LIMIT, normalize

# The module, not the function the package exports under the same name.
normalize_module = importlib.import_module("mspmode.engine.normalize")
CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "engine-scenarios.jsonl"


def history() -> list[dict[str, Any]]:
    return [e for e in map(json.loads, CORPUS.read_text().splitlines()) if e.get("kind") != "check"]


def test_lazy_columns_equal_eager_ones_once_taken() -> None:
    eager, lazy = Memory(), Memory(lazy_refresh=True)
    for event in history():
        ingest(eager, event)
        ingest(lazy, event)
    taken = {p.id: p.row() for p in take_touched(lazy)}
    assert taken and taken == {pid: p.row() for pid, p in eager.patterns.items()}
    assert take_touched(lazy) == []  # handed over once
    record(lazy, "cv-db01", "SELECT 1", 0, "1")
    assert lazy.touched <= set(lazy.patterns)


def test_only_failures_keep_their_output_when_asked_and_fixes_name_their_records() -> None:
    memory = Memory(keep_outputs=False)
    add_host(memory, "NAS1", {"shell_type": "sh"})
    failed = record(memory, "NAS1", "systemctl status nmbd", 127, "-ash: systemctl: not found", None, "s")
    record(memory, "NAS1", "uptime", 0, "up", None, "s")
    fix = record(memory, "NAS1", "service nmbd status", 0, "running", None, "s")
    record(memory, "NAS1", "cat big.log", 1, "error: " + "x" * 10_000, None, "s")
    assert [len(r.output) for r in memory.commands] == [len("-ash: systemctl: not found"), 0, 0, 4_000]
    observed = memory.patterns[failed.pattern_id or ""].fixes[-1]
    assert (observed.failed_index, observed.fix_index) == (failed.record.index, fix.record.index)


def test_a_replay_naming_the_target_learns_what_the_wrapper_recording_learned() -> None:
    def learned(given: str | None) -> list[tuple[str, str, str]]:
        memory = Memory()
        add_host(memory, "NAS1", {"shell_type": "sh", "os": "ReadyNAS OS"}, ip_address="192.0.2.9")
        add_host(memory, "DC1", {"shell_type": "powershell", "powershell_version": "2.0"})
        ran = [
            record(memory, given, "ssh root@192.0.2.9 'systemctl status nmbd'", 127,
                   "sh: systemctl: not found"),
            record(memory, given and "DC1", "Invoke-Command -ComputerName DC1 {Get-LocalUser}", 1,
                   "The term 'Get-LocalUser' is not recognized as the name of a cmdlet"),
        ]  # fmt: skip
        return [(r.record.host, r.record.effective, r.record.normalized) for r in ran]

    assert learned(None) == learned("NAS1")[:1] + learned(None)[1:]
    assert learned(None)[1] == learned("DC1")[1]


def test_verdict_lines_say_why() -> None:
    memory = Memory()
    for event in history():
        ingest(memory, event)
    take_touched(memory)
    by_class = {p.failure_class: p for p in memory.patterns.values() if p.culprit is not None}
    capability = next(p for c, p in by_class.items() if c in ("command_not_found", "unknown_option"))
    lines = verdict_lines(capability, lambda key: key.upper())
    assert lines[0].startswith("Blocks any command using") and any(line.startswith("Warns") for line in lines)
    transient = next((p for p in memory.patterns.values() if p.is_transient), None)
    if transient is not None:
        assert verdict_lines(transient, str)[0].startswith("Never blocks")


# ---- normalisation: line by line, gated and cached, as the plain table would do -----------


def _table(text: str) -> str:
    """The reference: every rule over the whole text, lines stripped, to a fixed point."""
    text = text[:MESSAGE_LIMIT]
    for _ in range(4):
        masked = text
        for mask in MASKS:
            masked = mask.regex.sub(mask.replacement, masked)
        masked = "\n".join(line.strip() for line in masked.splitlines() if line.strip())
        if masked == text:
            break
        text = masked
    return text


MESSAGES = st.text(alphabet="ab1Z .:/\\'\"`-@\n\r\t\u2028x0F<>()[]~+=,;%‘’“”", max_size=120) | st.text(
    max_size=200
)


@settings(max_examples=500, deadline=None)
@given(MESSAGES)
def test_normalize_equals_the_plain_table(text: str) -> None:
    normalize_module._line.cache_clear()
    assert normalize(text) == _table(text)
    assert normalize(text) == _table(text)  # and again, from the cache


def test_gates_only_skip_what_cannot_match() -> None:
    samples = [e.get("output", "") for e in history()] + [
        "2026-01-01 10:00:00 dc01.corp.example 10.0.0.1 fe80::1 aa:bb:cc:dd:ee:ff 0xdeadbeef",
        "C:\\Temp\\x.log and /var/log/syslog, 'quoted' “curly” user@example.org https://x.example/y",
        "Mon Jan  1 build 3f2a9c1d v1.2.3 550e8400-e29b-41d4-a716-446655440000\tend",
    ]
    for text in samples:
        for mask in MASKS:
            if mask.gate is not None and not mask.gate(text):
                assert not mask.regex.search(text), (mask.name, text)
