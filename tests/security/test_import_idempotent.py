"""Issue 15, finding 9: ``msp import`` is idempotent. Importing the same file again, or a file
that overlaps one imported before, adds no command, host, client, session or pattern twice,
and learns nothing twice (pattern occurrence counts, fixes, drafts) — on every backend; the
report (and the CLI's summary) says how many lines were already imported."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from mspmode.db import schema
from mspmode.models.core import Client
from mspmode.models.core import Session as WorkSession
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import FailurePattern, ProblemSolution
from mspmode.models.work import CommandRun
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.learning import cache
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file

ADMIN = local_actor()
MSP = [sys.executable, "-m", "mspmode"]

NOT_RECOGNIZED = (
    "Get-LocalUser : The term 'Get-LocalUser' is not recognized as the name of a cmdlet, function, "
    "script file, or operable program."
)


def history() -> list[dict[str, Any]]:
    """Clients, hosts with traits, and commands: failures, their fixes, repeats on other hosts,
    sessions by label and without one."""
    lines: list[dict[str, Any]] = [
        {"kind": "client", "name": "Contoso"},
        {"kind": "client", "name": "Fabrikam"},
        {"kind": "host", "client": "Contoso", "hostname": "DC1", "os": "Windows Server",
         "os_version": "2012 R2", "shell_type": "powershell", "powershell_version": "4.0",
         "aliases": ["dc1.contoso.example"]},
        {"kind": "host", "client": "Contoso", "hostname": "DC2", "os": "Windows Server",
         "os_version": "2012 R2", "shell_type": "powershell", "powershell_version": "4.0"},
        {"kind": "host", "client": "Fabrikam", "hostname": "NAS1", "os": "ReadyNAS OS", "os_version": "6.10",
         "shell_type": "sh"},
    ]  # fmt: skip
    for i in range(30):
        at = f"2026-02-01T10:{i:02d}:00Z"
        lines += [
            {"kind": "command", "host": "DC1", "command": f"Get-LocalUser -Name user{i}", "exit_code": 1,
             "output": NOT_RECOGNIZED, "at": at, "session": f"dc-{i // 10}"},
            {"kind": "command", "host": "DC1", "command": f"net user user{i}", "exit_code": 0,
             "output": "User name  user", "at": at.replace(":00Z", ":30Z"), "session": f"dc-{i // 10}"},
            {"kind": "command", "host": "NAS1", "command": "systemctl status nmbd", "exit_code": 127,
             "output": "-ash: systemctl: not found", "at": at.replace("T10", "T11"), "session": "nas"},
            {"kind": "command", "host": "NAS1", "command": "service nmbd status", "exit_code": 0,
             "output": "nmbd is running", "at": at.replace("T10", "T12")},
            {"kind": "command", "host": "DC2", "command": "Get-LocalUser", "exit_code": 1,
             "output": NOT_RECOGNIZED, "at": at.replace("T10", "T13"), "session": "dc2"},
        ]  # fmt: skip
    lines.append({"kind": "check", "host": "NAS1", "command": "systemctl restart nmbd"})
    return lines


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def make_rt(home: Path, url: URL) -> Runtime:
    home.mkdir(parents=True, exist_ok=True)
    for name in KEY_NAMES:
        ensure_key_file(name, home / f"{name}.key")
    return Runtime(Settings(home=home, database_url=url.render_as_string(hide_password=False)))


@pytest.fixture
def rt(empty_database_url: URL, tmp_path: Path) -> Iterator[Runtime]:
    runtime = make_rt(tmp_path / "home", empty_database_url)
    try:
        schema.upgrade(runtime.db)
        yield runtime
    finally:
        runtime.dispose()


def stored(rt: Runtime) -> dict[str, Any]:
    """What the database holds, by the numbers an import could double."""
    with rt.db.read() as s:

        def count(model: Any, *where: Any) -> int:
            return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())

        return {
            "commands": count(CommandRun),
            "distinct_commands": int(
                s.execute(
                    select(func.count()).select_from(
                        select(CommandRun.command_text, CommandRun.executed_at, CommandRun.host)
                        .distinct()
                        .subquery()
                    )
                ).scalar_one()
            ),
            "resolved": count(CommandRun, CommandRun.resolved.is_(True)),
            "clients": count(Client),
            "hosts": count(Infrastructure),
            "sessions": count(WorkSession),
            "patterns": count(FailurePattern),
            "occurrences": sorted(
                (str(pid), n)
                for pid, n in s.execute(select(FailurePattern.id, FailurePattern.occurrence_count))
            ),
            "drafts": count(ProblemSolution),
        }


def test_importing_the_same_file_twice_adds_and_learns_nothing_the_second_time(
    rt: Runtime, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "history.jsonl", history())
    first = learning.import_file(rt, ADMIN, path)
    assert first.commands == 150 and first.already_imported == 0 and first.fixes > 0
    after_first = stored(rt)
    assert after_first["commands"] == after_first["distinct_commands"] == 150
    learned = len(cache.cached(rt).row_ids)  # type: ignore[union-attr]

    second = learning.import_file(rt, ADMIN, path)
    assert second.commands == 0
    assert second.already_imported == 150
    assert (second.failures, second.fixes, second.patterns_new, second.patterns_updated) == (0, 0, 0, 0)
    assert (second.clients_created, second.hosts_created) == (0, 0)
    assert second.bad_lines == []
    assert stored(rt) == after_first
    assert len(cache.cached(rt).row_ids) == learned  # type: ignore[union-attr]

    # A new process (its state rebuilt from the database) sees the history once too.
    other = make_rt(rt.settings.home, rt.db.url)
    try:
        verdict = learning.check(other, ADMIN, "NAS1", "systemctl restart nmbd")
        assert verdict["verdict"] == "block"
        assert len(cache.cached(other).row_ids) == 150  # type: ignore[union-attr]
    finally:
        other.dispose()


def test_an_overlapping_file_adds_only_its_new_lines(
    rt: Runtime, tmp_path: Path, empty_database_url: URL
) -> None:
    lines = history()
    head, tail = lines[:80], lines[:5] + lines[40:]  # both have the clients and hosts
    learning.import_file(rt, ADMIN, write_jsonl(tmp_path / "head.jsonl", head))
    report = learning.import_file(rt, ADMIN, write_jsonl(tmp_path / "tail.jsonl", tail))
    overlap = sum(1 for x in lines[40:80] if x["kind"] == "command")
    assert report.already_imported == overlap
    assert report.commands == sum(1 for x in tail if x["kind"] == "command") - overlap
    both = stored(rt)
    assert both["commands"] == both["distinct_commands"] == 150
    assert both["clients"] == 2 and both["hosts"] == 3


def test_identical_lines_in_one_file_are_each_kept_once_and_not_again(rt: Runtime, tmp_path: Path) -> None:
    undated = {"kind": "command", "host": "web1", "command": "uptime", "exit_code": 0, "output": "up"}
    dated = {**undated, "command": "df -h", "at": "2026-03-01T09:00:00Z", "session": "s1"}
    path = write_jsonl(tmp_path / "repeats.jsonl", [undated, dated, undated, dated, undated])
    first = learning.import_file(rt, ADMIN, path)
    assert first.commands == 5
    again = learning.import_file(rt, ADMIN, path)
    assert (again.commands, again.already_imported) == (0, 5)
    # One more repeat in a longer file is one more command.
    longer = learning.import_file(rt, ADMIN, write_jsonl(tmp_path / "more.jsonl", [undated] * 4))
    assert (longer.commands, longer.already_imported) == (1, 3)
    assert stored(rt)["commands"] == 6


def test_msp_import_again_says_how_many_lines_were_already_imported(
    msp_env: dict[str, str], tmp_path: Path
) -> None:
    def msp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MSP, *args], env=msp_env, capture_output=True, text=True, timeout=120, check=False
        )

    assert msp("init").returncode == 0
    path = write_jsonl(tmp_path / "history.jsonl", history())
    first = msp("import", str(path))
    assert first.returncode == 0, first.stderr
    again = msp("import", str(path))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("imported 0 command(s)")
    assert "150 command line(s) already imported" in again.stdout
    as_json = json.loads(msp("import", "--json", str(path)).stdout)
    assert (as_json["commands"], as_json["already_imported"]) == (0, 150)
    db = sqlite3.connect(Path(msp_env["MSP_HOME"]) / "msp.db")
    try:
        assert db.execute("SELECT count(*), count(DISTINCT import_key) FROM commands_run").fetchone() == (
            150,
            150,
        )
    finally:
        db.close()


def test_two_imports_of_one_file_racing_store_it_once(msp_env: dict[str, str], tmp_path: Path) -> None:
    env = {**msp_env, "MSP_SQLITE_BUSY_TIMEOUT_MS": "120000"}
    assert subprocess.run([*MSP, "init"], env=env, capture_output=True, timeout=120).returncode == 0
    path = write_jsonl(tmp_path / "history.jsonl", history())
    db_path = Path(msp_env["MSP_HOME"]) / "msp.db"
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # both start, and queue behind this writer
    try:
        procs = [
            subprocess.Popen([*MSP, "import", "--json", str(path)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        for p in procs:
            assert p.stderr is not None
            assert p.stderr.readline().startswith("msp: waiting for another msp process")
    finally:
        holder.execute("COMMIT")
        holder.close()
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(json.loads(out))
    assert sorted((r["commands"], r["already_imported"]) for r in reports) == [(0, 150), (150, 0)]
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("SELECT count(*) FROM commands_run").fetchone() == (150,)
    finally:
        db.close()
