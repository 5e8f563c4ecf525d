"""Dumps and checksums for each backend, the tools behind ``services/backup.py``.

Each backend's own tool makes the dump: SQLite's online backup API (a consistent copy while
others keep writing), ``pg_dump`` for PostgreSQL (plain SQL, taken in the same exported
snapshot the checksums are read in), ``mariadb-dump --single-transaction`` for MariaDB; ``load``
restores one with SQLite's backup API, ``psql`` in a single transaction, or ``mariadb``.

A table's checksum is the sum, modulo 2^256, of the SHA-256 of each row with its values as
text (NULL distinct from every string), so it depends neither on the order rows come back
in nor on the server's collation, and is computed by the same code on both sides.

The database password never appears in a command line or a log: the tools get it from the
environment (``PGPASSWORD``) or from a 0600 option file that is removed afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, create_engine, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from mspmode.db.engine import make_private
from mspmode.db.search import is_search_object
from mspmode.errors import MSPError

TOOL_TIMEOUT_S = 3600

# (stage, done, total): "dump" in pages or steps, "checksum" in tables, "verify", "restore".
Progress = Callable[[str, int, int | None], None]


def no_progress(stage: str, done: int, total: int | None) -> None:
    return None


class BackupError(MSPError):
    """A backup or restore that could not be done; nothing was overwritten."""


class ScratchUnavailableError(BackupError):
    """No scratch database can be made (the user may not create databases)."""


# ---- checksums ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value.__class__ is int:
        return str(value)
    if value is None:
        return "\x00NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _data_tables(conn: Connection) -> list[str]:
    """Every table that holds data: ours and alembic_version, not the full-text index's own
    (those are rebuilt from the data) nor SQLite's internal ones."""
    names = inspect(conn).get_table_names()
    return sorted(n for n in names if not is_search_object(n) and not n.startswith("sqlite_"))


def table_checksums(conn: Connection, progress: Progress = no_progress) -> dict[str, dict[str, Any]]:
    """{table: {"rows": n, "checksum": hex}} for every data table, read through ``conn``."""
    names = _data_tables(conn)
    meta = MetaData()
    meta.reflect(conn, only=names)
    out: dict[str, dict[str, Any]] = {}
    for done, name in enumerate(names):
        table = meta.tables[name]
        columns = [c for c in table.columns if not is_search_object(c.name)]
        total, rows = 0, 0
        # The driver's own values, not SQLAlchemy's typed ones: several times faster, and both
        # sides of a comparison use the same driver.
        statement = str(select(*columns).compile(conn))
        cursor = conn.exec_driver_sql(statement)
        while batch := cursor.fetchmany(5000):
            for row in batch:
                line = "\x1f".join([v if v.__class__ is str else _text(v) for v in row]).encode(
                    "utf-8", "surrogatepass"
                )
                total += int.from_bytes(hashlib.sha256(line).digest(), "big")
            rows += len(batch)
        out[name] = {"rows": rows, "checksum": f"{total % (1 << 256):064x}"}
        progress("checksum", done + 1, len(names))
    return out


def compare(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[str]:
    """What differs, one line per table ("commands_run: 100 rows, expected 101")."""
    problems = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            problems.append(f"{name}: not in the backup")
        elif got is None:
            problems.append(f"{name}: missing after restore")
        elif want["rows"] != got["rows"]:
            problems.append(f"{name}: {got['rows']} rows, expected {want['rows']}")
        elif want["checksum"] != got["checksum"]:
            problems.append(f"{name}: same row count, different content")
    return problems


def database_checksums(url: URL, progress: Progress = no_progress) -> dict[str, dict[str, Any]]:
    """Checksums of the database at ``url``. An SQLite file is opened read-only and without
    our pragmas (switching a dump to WAL would change the bytes its SHA-256 covers)."""
    if family(url) == "sqlite":
        path = str(url.database)
        engine = create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True), poolclass=NullPool
        )
    else:
        engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return table_checksums(conn, progress)
    finally:
        engine.dispose()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- the backends -------------------------------------------------------------------------------


def family(url: URL) -> str:
    name = url.get_backend_name()
    return "mariadb" if name in ("mysql", "mariadb") else name


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(f"{names[0]} is not installed (needed for this database): install the client tools")


def _run(argv: list[str], *, env: dict[str, str] | None = None, stdin: Any = None, what: str) -> None:
    """Run a client tool; its stderr (never the password) becomes the error's message."""
    try:
        done = subprocess.run(
            argv, env=env, stdin=stdin, capture_output=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} took longer than {TOOL_TIMEOUT_S} s and was stopped") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        first = next((line for line in message if line.strip()), f"exit status {done.returncode}")
        raise BackupError(f"{what} failed: {first}")


def _pg_env(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=url.host or "localhost",
        PGPORT=str(url.port or 5432),
        PGUSER=url.username or "",
        PGDATABASE=url.database or "",
        PGCONNECT_TIMEOUT="10",
    )
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


@contextmanager
def _my_defaults(url: URL) -> Iterator[str]:
    """A private option file with the connection settings (the password must not be in argv)."""
    folder = tempfile.mkdtemp(prefix="msp-my-")
    path = Path(folder) / "client.cnf"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

        def quoted(value: str) -> str:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [
            "[client]",
            f"host={url.host or 'localhost'}",
            f"port={url.port or 3306}",
            f"user={quoted(url.username or '')}",
            "default-character-set=utf8mb4",
        ]
        if url.password:
            lines.append(f"password={quoted(str(url.password))}")
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sqlite_copy(source: Path, dest: Path, progress: Progress, stage: str, *, standalone: bool) -> None:
    """Copy one SQLite database into another with the online backup API: a consistent
    snapshot even while other connections write, page by page so progress can be shown.
    ``standalone``: the copy is one self-contained file (no -wal beside it)."""
    src = sqlite3.connect(source, timeout=30)
    make_private(dest)  # a copy of client data is the user's alone, like the database
    dst = sqlite3.connect(dest, timeout=30)
    try:

        def step(_status: int, remaining: int, total: int) -> None:
            progress(stage, total - remaining, total)

        src.backup(dst, pages=1024, progress=step)
        if standalone:
            dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def dump(url: URL, dest: Path, progress: Progress) -> dict[str, dict[str, Any]]:
    """Write the dump; return the checksums of exactly what it holds."""
    kind = family(url)
    if kind == "sqlite":
        assert url.database is not None
        _sqlite_copy(Path(url.database), dest, progress, "dump", standalone=True)
        return database_checksums(_sqlite_url(dest), progress)
    engine = create_engine(url, poolclass=NullPool)
    try:
        if kind == "postgresql":
            pg_dump = _tool("pg_dump")
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    # pg_dump reads in the snapshot our checksums are read in: the same data.
                    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                    progress("dump", 0, None)
                    _run(
                        [
                            pg_dump,
                            "--format=plain",
                            "--no-owner",
                            "--no-privileges",
                            f"--snapshot={snapshot}",
                            f"--file={dest}",
                        ],
                        env=_pg_env(url),
                        what="pg_dump",
                    )
                    progress("dump", 1, 1)
                    return table_checksums(conn, progress)
        dump_tool = _tool("mariadb-dump", "mysqldump")
        with engine.connect() as conn, _my_defaults(url) as defaults:
            conn.exec_driver_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            progress("dump", 0, None)
            _run(
                [
                    dump_tool,
                    f"--defaults-extra-file={defaults}",
                    "--single-transaction",
                    "--skip-lock-tables",
                    "--no-tablespaces",
                    "--routines",
                    "--triggers",
                    "--hex-blob",
                    f"--result-file={dest}",
                    "--",
                    str(url.database),
                ],
                what="mariadb-dump",
            )
            progress("dump", 1, 1)
            sums = table_checksums(conn, progress)
            conn.rollback()
            return sums
    finally:
        engine.dispose()


def _sqlite_url(path: Path) -> URL:
    return make_url(f"sqlite:///{path}")


def load(url: URL, dump: Path, *, replace: bool, progress: Progress) -> None:
    """Load a dump into the database at ``url``; ``replace`` first drops what is there."""
    kind = family(url)
    progress("restore", 0, None)
    if kind == "sqlite":
        assert url.database is not None
        _sqlite_copy(dump, Path(url.database), progress, "restore", standalone=False)
        return
    if kind == "postgresql":
        psql = _tool("psql")
        prelude = b""
        if replace:
            engine = create_engine(url, poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    name = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
            finally:
                engine.dispose()
            quoted = '"' + str(name).replace('"', '""') + '"'
            prelude = f"DROP SCHEMA IF EXISTS {quoted} CASCADE;\nCREATE SCHEMA {quoted};\n".encode()
        # One transaction: if any statement fails, the database is as it was.
        with _stdin(prelude, dump) as stdin:
            _run(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"],
                env=_pg_env(url),
                stdin=stdin,
                what="psql",
            )
        progress("restore", 1, 1)
        return
    client = _tool("mariadb", "mysql")
    prelude = b""
    if replace:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                names = inspect(conn).get_table_names()
        finally:
            engine.dispose()
        if names:
            listed = ", ".join("`" + n.replace("`", "``") + "`" for n in names)
            prelude = f"SET FOREIGN_KEY_CHECKS=0;\nDROP TABLE IF EXISTS {listed};\n".encode()
    with _my_defaults(url) as defaults, _stdin(prelude, dump) as stdin:
        _run(
            [client, f"--defaults-extra-file={defaults}", "--batch", "--", str(url.database)],
            stdin=stdin,
            what="mariadb",
        )
    progress("restore", 1, 1)


@contextmanager
def _stdin(prelude: bytes, dump: Path) -> Iterator[Any]:
    """The prelude followed by the dump, as a file a tool can read from stdin."""
    if not prelude:
        with dump.open("rb") as fh:
            yield fh
        return
    with tempfile.TemporaryFile() as fh:
        fh.write(prelude)
        with dump.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)
        fh.seek(0)
        yield fh


@contextmanager
def scratch_database(url: URL, workdir: Path) -> Iterator[URL]:
    """An empty throwaway database of the same kind, dropped afterwards."""
    kind = family(url)
    if kind == "sqlite":
        path = workdir / f"verify-{secrets.token_hex(4)}.db"
        try:
            yield _sqlite_url(path)
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"msp_verify_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if kind == "postgresql":
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                charset, collation = conn.exec_driver_sql(
                    "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                    "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
                ).one()
                conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation}")
    except Exception as exc:
        admin.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ScratchUnavailableError(
            f"cannot create a scratch database to verify in ({reason}): the database user needs the "
            "right to create databases"
        ) from None
    try:
        yield url.set(database=name)
    finally:
        drop = (
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            if kind == "postgresql"
            else f"DROP DATABASE IF EXISTS `{name}`"
        )
        with suppress(Exception), admin.connect() as conn:
            conn.exec_driver_sql(drop)
        admin.dispose()


def sqlite_integrity(url: URL) -> list[str]:
    conn = sqlite3.connect(str(url.database))
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    return [] if found == ["ok"] else [f"integrity_check: {found[0]}"]
