"""The pre-check index answers exactly what the engine's full memory answers, and its fast
path ("no recorded failure can match") is never wrong: checked over the scenario corpora, the
failure corpus and generated variants of every command in them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mspmode import engine
from mspmode.engine.memory import Memory, add_host
from mspmode.hooks import index

ROOT = Path(__file__).resolve().parents[2]
CORPORA = [
    ROOT / "tests" / "corpora" / "engine-scenarios.jsonl",
    ROOT.parent / "shared" / "scenarios" / "dev-learning.jsonl",
]
FAILURES = ROOT / "tests" / "corpora" / "engine-failures.jsonl"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def build() -> tuple[Memory, list[tuple[str | None, str]]]:
    mem = Memory()
    checks: list[tuple[str | None, str]] = []
    for path in CORPORA:
        if not path.exists():
            continue
        for event in _lines(path):
            if event.get("kind") == "check":
                checks.append((event.get("host"), event["command"]))
            else:
                engine.ingest(mem, event)
    shells = {
        "bash": "bash",
        "sh": "sh",
        "powershell": "powershell",
        "cmd": "cmd",
        "mysql": "mysql",
        "zsh": "zsh",
    }
    for i, case in enumerate(_lines(FAILURES)):
        host = f"corpus-{i}"
        engine.add_host(mem, host, {"shell_type": shells.get(case.get("shell", ""), case.get("shell"))})
        engine.record(mem, host, case["command"], case.get("exit_code"), case.get("output", ""))
        checks.append((host, case["command"]))
        checks.append((host, case["command"] + " --extra x"))
        checks.append((f"corpus-{(i + 1) % 100}", case["command"]))
    return mem, checks


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Memory, list[tuple[str | None, str]], Path]:
    mem, checks = build()
    path = tmp_path_factory.mktemp("index") / "hook-index.sqlite"
    index.Writer(path, mem).full("fresh")
    return mem, checks, path


def test_the_index_answers_what_the_memory_answers(written: tuple[Memory, list[Any], Path]) -> None:
    mem, checks, path = written
    reader = index.Reader(path)
    try:
        assert reader.usable() and reader.meta["freshness"] == "fresh"
        verdicts = {"block": 0, "warn": 0, "allow": 0}
        for host, command in checks:
            full = engine.check(mem, host, command).to_dict()
            verdicts[full["verdict"]] += 1
            if full["verdict"] != "allow":
                assert reader.may_match(command), (host, command, full["reason"])
            lazy = engine.check(reader.memory(), host, command).to_dict()
            assert lazy == full, (host, command)
        assert verdicts["block"] > 20 and verdicts["warn"] > 0  # the corpus exercises both
    finally:
        reader.close()


def test_the_fast_path_lets_routine_commands_through(written: tuple[Memory, list[Any], Path]) -> None:
    reader = index.Reader(written[2])
    try:
        for command in ("whoami", "inventory-report --site north", "zzcheck 1 2"):
            assert not reader.may_match(command), command
    finally:
        reader.close()


def test_a_delta_equals_a_full_write(tmp_path: Path) -> None:
    mem, checks = build()
    path = tmp_path / "i.sqlite"
    index.Writer(path, mem).full("a")
    learned = [
        engine.record(mem, "corpus-3", "grep -P 'x' /var/log/syslog", 2, "grep: invalid option -- 'P'"),
        engine.record(mem, "corpus-3", "grep -E 'x' /var/log/syslog", 0, "x"),
    ]
    extra = {pid for item in learned for pid in (*item.fixes, *item.resolved, *item.refined)}
    index.Writer(path, mem).delta("b", [item.record for item in learned], extra)
    other = tmp_path / "full.sqlite"
    index.Writer(other, mem).full("b")
    for host, command in [*checks, ("corpus-3", "grep -P 'y' /tmp/f"), ("corpus-4", "grep -P 'y' /tmp/f")]:
        answers = []
        for p in (path, other):
            reader = index.Reader(p)
            try:
                answers.append(engine.check(reader.memory(), host, command).to_dict())
            finally:
                reader.close()
        assert answers[0] == answers[1], (host, command)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(["", "sudo ", "ssh root@corpus-3 '", "bash -c \"", "echo x; ", "time "]),
       quote=st.sampled_from(["", "'", '"']), pick=st.integers(min_value=0, max_value=10_000))  # fmt: skip
def test_the_fast_path_is_a_superset_under_wrapping(
    written: tuple[Memory, list[Any], Path], prefix: str, quote: str, pick: int
) -> None:
    mem, checks, path = written
    host, command = checks[pick % len(checks)]
    closing = "'" if prefix.endswith("'") else '"' if prefix.endswith('"') else ""
    wrapped = f"{prefix}{quote}{command}{quote}{closing}" if not closing else f"{prefix}{command}{closing}"
    full = engine.check(mem, host, wrapped)
    if full.verdict != "allow":
        reader = index.Reader(path)
        try:
            assert reader.may_match(wrapped), (host, wrapped)
        finally:
            reader.close()


@pytest.mark.parametrize("name", ["plain", "with space", "q?mark#hash%25", "ünïcode-日本", "semi;colon&amp"])
def test_the_index_opens_read_only_wherever_msp_home_is(tmp_path: Path, name: str) -> None:
    """The hook builds the file URI itself (no pathlib): any character of a home directory
    is encoded, and the file opens read-only."""
    mem = Memory()
    add_host(mem, "NAS1", {"shell_type": "sh", "busybox": True})
    path = index.index_path(tmp_path / name, "sqlite:/x.db")
    index.Writer(path, mem).full("fresh")
    reader = index.Reader(path)
    try:
        assert reader.usable() and reader.meta["freshness"] == "fresh"
        with pytest.raises(sqlite3.OperationalError):
            reader.conn.execute("CREATE TABLE t (x)")
    finally:
        reader.close()
    assert index.file_uri(path) == Path(path).absolute().as_uri()


def test_a_delta_writes_exactly_the_hosts_that_changed(tmp_path: Path) -> None:
    """A delta writes only the host rows that differ from the file's, and leaves the tables
    as a full write would: a new host, its spellings, a host whose traits changed."""
    mem, _ = build()
    path = tmp_path / "i.sqlite"
    index.Writer(path, mem).full("a")
    add_host(mem, "delta-new", {"shell_type": "powershell", "os": "windows"})
    engine.add_host(mem, "corpus-5", {"shell_type": "zsh", "os": "macos"})
    learned = [
        engine.record(mem, "delta-new", "Get-LocalUser", 1, "Get-LocalUser : The term ... not recognized")
    ]
    index.Writer(path, mem).delta("b", [item.record for item in learned], set())
    other = tmp_path / "full.sqlite"
    index.Writer(other, mem).full("b")

    def tables(p: Path) -> dict[str, set[tuple[Any, ...]]]:
        conn = sqlite3.connect(p)
        try:
            return {t: set(conn.execute(f"SELECT * FROM {t}")) for t in ("hosts", "lookup", "shared")}
        finally:
            conn.close()

    assert tables(path) == tables(other)
    conn = sqlite3.connect(path)
    try:
        keys = {k for (k,) in conn.execute("SELECT key FROM hosts")}
    finally:
        conn.close()
    assert "delta-new" in keys and "corpus-5" in keys


def test_text_the_redactor_marked_is_read_back_from_a_blob() -> None:
    """``redact`` returns a ``Redacted`` (a ``str`` subclass that pickles as a call of ``str``):
    engine structs holding one are read back by the restricted unpickler, as plain text."""
    from mspmode.vault.redact import redact

    mem = Memory()
    add_host(mem, redact("nas1"), {"shell_type": "sh"})
    engine.record(mem, "nas1", redact("grep -P x /var/log/syslog"), 2, redact("grep: invalid option -- 'P'"))
    back = index.load_blob(index._dump(mem))
    assert engine.check(back, "nas1", "grep -P y z").verdict == "block"
    with pytest.raises(Exception, match="is not an engine class"):
        index.load_blob(index._dump(Path("x")))  # anything else is still refused
