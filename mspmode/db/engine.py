"""Engines per dialect.

SQLite is the default and gets the settings that make it a good local service database:
WAL (readers never block the writer), foreign keys on (off by default in SQLite), a busy
timeout, and — as datasette does — a single serialized writer: writes go through their own
engine with one pooled connection and ``BEGIN IMMEDIATE``, so two writers in one process
queue instead of failing with "database is locked" half-way through a transaction, and
writers in other processes wait on the busy timeout. PostgreSQL and MariaDB handle
concurrent writers themselves and use one engine for both.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import QueuePool

from mspmode.errors import DatabaseUnreachableError
from mspmode.settings import display_url


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_engines(url: URL, *, busy_timeout_ms: int = 5000) -> tuple[Engine, Engine]:
    """Return ``(reader, writer)``; for server databases both are the same engine."""
    if not is_sqlite(url):
        engine = _server_engine(url)
        return engine, engine
    assert url.database is not None
    # The database holds client data: its directory is private to the user (like MSP_HOME).
    path = Path(url.database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    make_private(path)
    reader = _sqlite_engine(url, busy_timeout_ms, begin="BEGIN", pool_size=5)
    writer = _sqlite_engine(url, busy_timeout_ms, begin="BEGIN IMMEDIATE", pool_size=1)
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


def _server_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() in ("mysql", "mariadb"):
        # Timestamps are stored as UTC DATETIME(6): pin the session zone so CURRENT_TIMESTAMP
        # defaults agree with the application's clock; utf8mb4 for full Unicode output.
        connect_args = {"init_command": "SET time_zone = '+00:00'", "charset": "utf8mb4"}
    elif url.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": 10, "options": "-c timezone=UTC"}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_engine(url: URL, busy_timeout_ms: int, *, begin: str, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=0 if pool_size == 1 else 10,
        pool_timeout=max(30, busy_timeout_ms / 1000),
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
        conn.exec_driver_sql(begin)

    return engine


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
