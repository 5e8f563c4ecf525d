"""Engines per dialect.

SQLite is the default and gets the settings that make it a good local service database:
WAL (readers never block the writer), foreign keys on (off by default in SQLite), a busy
timeout, and — as datasette does — a single serialized writer: writes go through their own
engine with one pooled connection and ``BEGIN IMMEDIATE``, so two writers in one process
queue instead of failing with "database is locked" half-way through a transaction, and
writers in other processes wait on the busy timeout. ``BEGIN IMMEDIATE`` is the one place a
write waits for another process: after ``QUIET_WAIT_MS`` it calls ``on_wait`` (the CLI says it
is waiting) and waits out the rest of the timeout. PostgreSQL and MariaDB handle concurrent
writers themselves and use one engine for both; the same timeout bounds their lock waits
(``lock_timeout``, ``innodb_lock_wait_timeout``), which otherwise wait forever or 50 s.

Statement parameters are left out of error messages (``hide_parameters``): they can hold what
a caller typed, secrets included, and an error's text reaches logs.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from mspmode.errors import DatabaseUnreachableError
from mspmode.settings import DEFAULT_BUSY_TIMEOUT_MS, display_url

# A writer waits this long for the lock before it says it is waiting: an ordinary write
# elsewhere is done by then, and a notice for it would only be noise.
QUIET_WAIT_MS = 500
# SQLite's primary result codes for a lock held elsewhere (an extended code keeps them in its
# low byte).
_SQLITE_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
# PostgreSQL: deadlock_detected, lock_not_available (lock_timeout), serialization_failure.
_PG_BUSY_STATES = ("40P01", "55P03", "40001")
# MariaDB/MySQL: lock wait timeout exceeded, deadlock found.
_MYSQL_BUSY_CODES = (1205, 1213)


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_engines(
    url: URL,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    on_wait: Callable[[], None] | None = None,
) -> tuple[Engine, Engine]:
    """Return ``(reader, writer)``; for server databases both are the same engine.
    ``on_wait`` is called when an SQLite write starts waiting for another process's lock."""
    if not is_sqlite(url):
        engine = _server_engine(url, busy_timeout_ms)
        return engine, engine
    assert url.database is not None
    # The database holds client data: its directory is private to the user (like MSP_HOME).
    path = Path(url.database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    make_private(path)
    reader = _sqlite_engine(url, busy_timeout_ms, pool_size=5)
    writer = _sqlite_engine(url, busy_timeout_ms, pool_size=1, immediate=True, on_wait=on_wait)
    return reader, writer


def make_private(path: Path) -> None:
    """The SQLite file and its -wal/-shm readable by the user alone (0600). SQLite creates
    them 0644 less the umask, but -wal and -shm with the database file's own mode: so the file
    is created 0600 before SQLite opens it, and an existing file (and any -wal/-shm beside
    it) left open to others is tightened."""
    with suppress(OSError):  # already there
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        # Not ours to change, or not there: SQLite reports what matters when it opens the file.
        with suppress(OSError):
            mode = stat.S_IMODE(name.stat().st_mode)
            if mode & 0o077:
                name.chmod(mode & 0o700)


def is_busy(exc: BaseException) -> bool:
    """Whether a driver error (or SQLAlchemy's wrapper of one) means another writer holds a
    lock: SQLite's "database is locked", a lock wait timeout or a deadlock on a server."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    if getattr(orig, "sqlstate", None) in _PG_BUSY_STATES:
        return True
    args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
    if args and args[0] in _MYSQL_BUSY_CODES:
        return True
    text = str(orig).lower()
    return type(orig).__module__ == "sqlite3" and ("database is locked" in text or "is busy" in text)


def _server_engine(url: URL, busy_timeout_ms: int) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() in ("mysql", "mariadb"):
        # Timestamps are stored as UTC DATETIME(6): pin the session zone so CURRENT_TIMESTAMP
        # defaults agree with the application's clock; utf8mb4 for full Unicode output.
        wait_s = max(1, math.ceil(busy_timeout_ms / 1000))
        connect_args = {
            "init_command": f"SET time_zone = '+00:00', innodb_lock_wait_timeout = {wait_s}",
            "charset": "utf8mb4",
        }
    elif url.get_backend_name() == "postgresql":
        # lock_timeout 0 would mean "wait forever": the shortest wait is one millisecond.
        wait_ms = max(1, int(busy_timeout_ms))
        connect_args = {"connect_timeout": 10, "options": f"-c timezone=UTC -c lock_timeout={wait_ms}"}
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args)


def _sqlite_engine(
    url: URL,
    busy_timeout_ms: int,
    *,
    pool_size: int,
    immediate: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> Engine:
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=0 if pool_size == 1 else 10,
        # Threads of one process queue for the single writer connection as long as a
        # process waits for another's lock.
        pool_timeout=max(30, busy_timeout_ms / 1000),
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN and cannot do BEGIN IMMEDIATE;
        # turn it off and emit BEGIN ourselves below (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if immediate:
            _begin_immediate(conn, int(busy_timeout_ms), on_wait)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _begin_immediate(conn: Any, busy_timeout_ms: int, on_wait: Callable[[], None] | None) -> None:
    """Take the write lock: quietly for ``QUIET_WAIT_MS``, then, if another process still holds
    it, say so (``on_wait``) and wait out the rest of the busy timeout."""
    quiet = min(QUIET_WAIT_MS, busy_timeout_ms)
    if on_wait is None or quiet == busy_timeout_ms:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    conn.exec_driver_sql(f"PRAGMA busy_timeout={quiet}")
    try:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if not is_busy(exc):
                raise
        on_wait()
        conn.exec_driver_sql(f"PRAGMA busy_timeout={busy_timeout_ms - quiet}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={busy_timeout_ms}")


def ping(engine: Engine) -> None:
    """Open a connection and run a trivial query, or raise DatabaseUnreachableError."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnreachableError(
            f"cannot reach the database at {display_url(engine.url)}: {_scrub(reason, engine.url)}"
        ) from None


def _scrub(text: str, url: URL) -> str:
    if url.password:
        text = text.replace(str(url.password), "***")
    return text
