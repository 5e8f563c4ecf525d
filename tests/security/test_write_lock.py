"""Issue 15, finding 9: the writer is never held for long work, and a write that meets another
writer waits, says so, and succeeds or fails in one line.

* Real ``msp`` processes on one SQLite file while another connection holds the write lock
  (``BEGIN IMMEDIATE``): they wait and say so on stderr, then succeed once it is released, or
  fail in one line (``the database is busy``) when the busy timeout passes — never a
  ``database is locked`` traceback. The same for a lock held on PostgreSQL and MariaDB.
* The API answers a busy database with 503, the JSON error body and ``Retry-After``.
* The first write after a start learns the history *before* it takes the writer: checked
  structurally, at the moment the write starts waiting for the lock (the learning state is
  already whole), not by timing it; ``bench/write_lock.py`` measures how long the writer is held.
  ``msp learn`` replays the whole history before it takes the writer too, and replays again if
  something was recorded meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import URL

from mspmode.db import schema
from mspmode.db.base import utcnow
from mspmode.models.core import Client
from mspmode.models.core import Session as WorkSession
from mspmode.models.work import CommandRun
from mspmode.server import create_app
from mspmode.services import audit, auth, learning
from mspmode.services.actor import local_actor
from mspmode.services.learning import cache
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from tests.servers import serve_in_thread

MSP = [sys.executable, "-m", "mspmode"]
WAITING = "msp: waiting for another msp process to finish writing…"
BUSY = "msp: error: the database is busy (another msp process is writing); try again"
ADMIN = local_actor()
DEADLINE_S = 60


def msp_run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MSP, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def msp_start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*MSP, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def sqlite_home(msp_env: dict[str, str]) -> dict[str, str]:
    """An ``msp init``-ed MSP_HOME on SQLite; the environment of its ``msp`` processes."""
    result = msp_run(msp_env, "init")
    assert result.returncode == 0, result.stderr
    return msp_env


def db_file(env: dict[str, str]) -> Path:
    return Path(env["MSP_HOME"]) / "msp.db"


def hold_writer(path: Path) -> sqlite3.Connection:
    """Another process's writer, as SQLite sees it: a connection in ``BEGIN IMMEDIATE``."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=DEADLINE_S)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def client_names(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(name for (name,) in conn.execute("SELECT name FROM clients"))
    finally:
        conn.close()


def first_stderr_line(proc: subprocess.Popen[str]) -> str:
    """The first line the process writes on stderr (it says it waits before it waits long)."""
    assert proc.stderr is not None
    return proc.stderr.readline().rstrip("\n")


# --------------------------------------------------------------------------------------------
# The CLI on a locked SQLite database


def test_a_cli_write_waits_for_the_writer_says_so_and_succeeds_once_released(
    sqlite_home: dict[str, str],
) -> None:
    holder = hold_writer(db_file(sqlite_home))
    try:
        proc = msp_start({**sqlite_home, "MSP_SQLITE_BUSY_TIMEOUT_MS": "120000"}, "client", "add", "Acme")
        assert first_stderr_line(proc) == WAITING
        assert proc.poll() is None, "it must still be waiting while the lock is held"
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0, err
    assert out.startswith("added client Acme ")
    assert err == ""  # the waiting line was the only one
    assert client_names(db_file(sqlite_home)) == ["Acme"]


def test_a_cli_write_that_waits_past_the_timeout_fails_in_one_line(sqlite_home: dict[str, str]) -> None:
    holder = hold_writer(db_file(sqlite_home))
    try:
        result = msp_run({**sqlite_home, "MSP_SQLITE_BUSY_TIMEOUT_MS": "1500"}, "client", "add", "Acme")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert result.stderr.splitlines() == [WAITING, BUSY]
    assert "Traceback" not in result.stderr and "locked" not in result.stderr
    assert result.stdout == ""
    assert client_names(db_file(sqlite_home)) == []


def test_an_import_and_a_client_add_racing_on_one_file_both_wait_and_both_succeed(
    sqlite_home: dict[str, str], tmp_path: Path
) -> None:
    history = tmp_path / "history.jsonl"
    lines = [{"kind": "client", "name": "Contoso"}]
    lines += [
        {"kind": "command", "host": "web1", "command": f"echo {i}", "exit_code": 0,
         "at": f"2026-01-01T10:{i // 60:02d}:{i % 60:02d}Z"}
        for i in range(600)
    ]  # fmt: skip
    history.write_text("".join(json.dumps(x) + "\n" for x in lines))
    env = {**sqlite_home, "MSP_SQLITE_BUSY_TIMEOUT_MS": "120000"}
    holder = hold_writer(db_file(sqlite_home))
    try:
        importing = msp_start(env, "import", str(history))
        adding = msp_start(env, "client", "add", "Fabrikam")
        assert first_stderr_line(importing) == WAITING
        assert first_stderr_line(adding) == WAITING
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = importing.communicate(timeout=DEADLINE_S)
    assert importing.returncode == 0, err
    assert out.startswith("imported 600 command(s)")
    assert "Traceback" not in err
    out, err = adding.communicate(timeout=DEADLINE_S)
    assert adding.returncode == 0, err
    assert "Traceback" not in err
    assert client_names(db_file(sqlite_home)) == ["Contoso", "Fabrikam"]


# --------------------------------------------------------------------------------------------
# PostgreSQL and MariaDB: a lock wait is bounded and fails in one line


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_lock_held_on_a_server_database_fails_the_cli_in_one_line(
    msp_env: dict[str, str], empty_database_url: URL
) -> None:
    env = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    assert msp_run(env, "init").returncode == 0
    # Every audited write updates the audit chain's head row: holding its lock holds them all.
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("UPDATE audit_chain_head SET sequence = sequence WHERE id = 1"))
            result = msp_run(
                {**env, "MSP_SQLITE_BUSY_TIMEOUT_MS": "1500"}, "client", "add", "Acme", timeout=45
            )
            conn.rollback()
        assert result.returncode == 1, result.stderr
        assert result.stderr.splitlines() == [BUSY]
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Client.__table__)).scalar_one() == 0
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# The API on a locked SQLite database


def make_rt(home: Path, url: URL, **settings: Any) -> Runtime:
    home.mkdir(parents=True, exist_ok=True)
    for name in KEY_NAMES:
        ensure_key_file(name, home / f"{name}.key")
    values = Settings(home=home, database_url=url.render_as_string(hide_password=False), **settings)
    return Runtime(values)


def test_the_api_answers_a_busy_database_with_503_and_retry_after(tmp_path: Path) -> None:
    url = URL.create("sqlite", database=str(tmp_path / "msp.db"))
    rt = make_rt(tmp_path / "home", url, sqlite_busy_timeout_ms=1000)
    try:
        schema.upgrade(rt.db)
        auth.create_user(
            rt, ADMIN, username="tech", role="technician", password="correct horse battery staple"
        )
        _, key = auth.create_api_key(rt, ADMIN, name="tech key", role="technician", username="tech")
        body = {"command": "uptime", "exit_code": 0, "output": "up 3 days", "host": "web1"}
        with (
            serve_in_thread(create_app(rt.settings, rt.db)) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE_S
            ) as http,
        ):
            holder = hold_writer(tmp_path / "msp.db")
            try:
                busy = http.post("/api/commands", json=body)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert busy.status_code == 503, busy.text
            assert busy.json()["error"]["type"] == "DatabaseBusyError"
            assert "busy" in busy.json()["error"]["message"]
            assert int(busy.headers["Retry-After"]) >= 1
            # Nothing of it was kept, and the next try goes through.
            again = http.post("/api/commands", json=body)
            assert again.status_code == 201, again.text
        with rt.db.read() as s:
            assert s.execute(select(func.count()).select_from(CommandRun)).scalar_one() == 1
    finally:
        rt.dispose()


# --------------------------------------------------------------------------------------------
# The first write after a start: the history is learned before the writer is taken


def history_lines(n: int) -> list[str]:
    lines = [json.dumps({"kind": "client", "name": "Contoso"})]
    for i in range(n):
        failed = i % 10 == 0
        lines.append(
            json.dumps(
                {
                    "kind": "command",
                    "host": f"web{i % 7}",
                    "command": f"Get-LocalUser -Name user{i}" if failed else f"echo {i}",
                    "exit_code": 1 if failed else 0,
                    "output": "The term 'Get-LocalUser' is not recognized as the name of a cmdlet"
                    if failed
                    else "ok",
                    "at": f"2026-01-0{1 + i // 1000}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
                    "session": f"s{i // 50}",
                }
            )
        )
    return lines


@pytest.fixture
def history_db(backend: str, empty_database_url: URL, tmp_path: Path) -> Iterator[tuple[str, URL, Path]]:
    """A database with a history of 400 commands (and the MSP_HOME that imported it)."""
    home = tmp_path / "home"
    rt = make_rt(home, empty_database_url)
    try:
        schema.upgrade(rt.db)
        report = learning.import_lines(rt, ADMIN, history_lines(400), source="history.jsonl")
        assert report.commands == 400
    finally:
        rt.dispose()
    yield backend, empty_database_url, home


class Writer:
    """The write lock, held by another process's writer (its own Database and transaction), which
    may write a command of its own before it lets go — as an ``msp`` next door would."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.session_cm = rt.db.write()
        self.s = self.session_cm.__enter__()
        # Take the lock the learners queue on: SQLite's writer, the chain head's row elsewhere.
        audit.record(self.s, rt.audit_signer, ADMIN, "create", "clients", None, {"held": True})
        self.s.flush()

    def write_command(self, command: str, exit_code: int, output: str) -> uuid.UUID:
        ws = WorkSession(id=uuid.uuid4(), session_title="next door", started_at=utcnow())
        self.s.add(ws)
        self.s.flush()
        row = CommandRun(
            id=uuid.uuid4(),
            session_id=ws.id,
            command_text=command,
            exit_code=exit_code,
            success=exit_code == 0,
            output_summary=output,
            executed_at=utcnow(),
            created_at=utcnow(),
        )
        self.s.add(row)
        audit.record(self.s, self.rt.audit_signer, ADMIN, "create", "commands_run", row.id, {"count": 1})
        self.s.flush()
        return row.id

    def release(self) -> None:
        self.session_cm.__exit__(None, None, None)


def wait_for_lock_waiter(backend: str, url: URL, waiting: threading.Event) -> None:
    """Until the other write waits for the lock: SQLite says so through ``Database.on_wait``;
    a server shows a session waiting for a lock. MariaDB's ``INNODB_LOCK_WAITS`` can stay empty
    while a ``SELECT … FOR UPDATE`` waits (seen on 10.11): there, a locking read still running
    is the waiter, as the holder's own finished long ago."""
    deadline = time.monotonic() + DEADLINE_S
    if backend == "sqlite":
        assert waiting.wait(DEADLINE_S), "the write never started waiting for the lock"
        return
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        if backend == "postgresql"
        else "SELECT count(*) FROM information_schema.PROCESSLIST "
        "WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE '%FOR UPDATE%'"
    )
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        while True:
            with engine.connect() as conn:
                if conn.execute(text(query)).scalar_one() > 0:
                    return
            assert time.monotonic() < deadline, "the write never started waiting for the lock"
            time.sleep(0.05)
    finally:
        engine.dispose()


@pytest.mark.parametrize("how", ["record", "import"])
def test_the_first_write_after_a_start_learns_the_history_before_it_takes_the_writer(
    history_db: tuple[str, URL, Path], tmp_path: Path, how: str
) -> None:
    backend, url, home = history_db
    other = make_rt(home, url)  # the process next door that holds the lock
    fresh = make_rt(home, url, sqlite_busy_timeout_ms=120_000)  # this one, just started
    waiting = threading.Event()
    fresh.db.on_wait = waiting.set
    outcome: dict[str, Any] = {}
    one = tmp_path / "one.jsonl"
    one.write_text(
        json.dumps({"kind": "command", "host": "web1", "command": "uptime", "exit_code": 0}) + "\n"
    )

    def write() -> None:
        try:
            if how == "record":
                item = learning.CommandIn(command="uptime", host="web1", exit_code=0, output="up")
                outcome["result"] = learning.record_commands(fresh, ADMIN, [item])
            else:
                outcome["result"] = learning.import_file(fresh, ADMIN, one, parallel=False)
        except BaseException as exc:
            outcome["error"] = exc

    try:
        assert cache.cached(fresh) is None  # a new process knows nothing yet
        holder = Writer(other)
        thread = threading.Thread(target=write)
        try:
            thread.start()
            wait_for_lock_waiter(backend, url, waiting)
            # The write waits for the writer, and the whole history is already learned: what
            # it does once it has the lock does not grow with the history.
            st = cache.cached(fresh)
            assert st is not None, "the history is learned only after the writer is taken"
            assert len(st.row_ids) == 400
            # Another process writes a failure meanwhile: it is caught up under the lock.
            late = holder.write_command(
                "Get-LocalUser -Name late",
                1,
                "The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
            )
        finally:
            holder.release()
            thread.join(DEADLINE_S)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome.get("error")
        st = cache.cached(fresh)
        assert st is not None
        assert len(st.row_ids) == 402  # the history, the late write next door, and its own
        assert late in st.row_ids
        with fresh.db.read() as s:
            assert s.execute(select(func.count()).select_from(CommandRun)).scalar_one() == 402
    finally:
        fresh.dispose()
        other.dispose()


def test_msp_learn_replays_the_history_before_it_takes_the_writer_and_again_if_it_moved(
    history_db: tuple[str, URL, Path],
) -> None:
    backend, url, home = history_db
    other = make_rt(home, url)  # the process next door that holds the lock
    learner = make_rt(home, url, sqlite_busy_timeout_ms=120_000)
    waiting = threading.Event()
    learner.db.on_wait = waiting.set
    # What the learner has asked the database, in order: the replay is the one read of every
    # command in the order it was recorded.
    asked: list[str] = []
    for engine in {learner.db.reader, learner.db.writer}:
        event.listen(engine, "before_cursor_execute", lambda *a: asked.append(a[2]))

    def replays(statements: list[str]) -> int:
        return sum(
            1 for q in statements if "FROM commands_run" in q and "ORDER BY commands_run.created_at" in q
        )

    outcome: dict[str, Any] = {}

    def learn() -> None:
        try:
            outcome["report"] = learning.relearn(learner, ADMIN)
        except BaseException as exc:
            outcome["error"] = exc

    try:
        holder = Writer(other)
        thread = threading.Thread(target=learn)
        try:
            thread.start()
            wait_for_lock_waiter(backend, url, waiting)
            assert replays(list(asked)) == 1, "the history is replayed only after the writer is taken"
            # Another process records a failure meanwhile: what the replay concluded is behind.
            late = holder.write_command(
                "Get-LocalUser -Name late",
                1,
                "The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
            )
        finally:
            holder.release()
            thread.join(DEADLINE_S)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome.get("error")
        report = outcome["report"]
        assert report.commands == 401  # replayed again, with the late failure
        assert replays(asked) == 2
        with learner.db.read() as s:
            row = s.get(CommandRun, late)
            assert row is not None and row.failure_pattern_id is not None
            assert row.failure_category is not None
        st = cache.cached(learner)
        assert st is not None and late in st.row_ids
    finally:
        learner.dispose()
        other.dispose()
