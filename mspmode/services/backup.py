"""Verified backups of MSP Mode's own database, and restores that refuse a bad file.

Each backend's own tool makes the dump: SQLite's online backup API (a consistent copy while
others keep writing), ``pg_dump`` for PostgreSQL (plain SQL, taken in the same exported
snapshot the checksums are read in), ``mariadb-dump --single-transaction`` for MariaDB.

Beside each dump a manifest (``<dump>.manifest.json``) records the schema revision, the
dump's size and SHA-256, and per table its row count and a checksum (below). A backup is
*verified* by restoring the dump into a scratch database — a temp file, or a throwaway
database on the same server — and comparing every table's count and checksum with the
manifest. ``restore`` first checks the file against the manifest (a truncated or corrupted
file is refused), refuses a backup from a schema this msp does not know, restores into a
scratch database and compares again, and only then overwrites the live database.

A table's checksum is the sum, modulo 2^256, of the SHA-256 of each row with its values as
text (NULL distinct from every string), so it depends neither on the order rows come back
in nor on the server's collation, and is computed by the same code on both sides.

Secrets stay sealed: they are ciphertext in the database, so they are ciphertext in the dump.
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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, create_engine, inspect, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from mspmode.db import schema
from mspmode.db.search import is_search_object
from mspmode.db.session import Database
from mspmode.errors import MSPError, SchemaError, ValidationError
from mspmode.models.operations import BackupLog
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings, display_url

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
BACKUP_TYPES = ("daily", "weekly", "monthly", "manual", "pre-migration")
# Retention thins out these; a manual or pre-migration backup stays until a person deletes it.
SCHEDULED_TYPES = ("daily", "weekly", "monthly")
TOOL_TIMEOUT_S = 3600

# (stage, done, total): "dump" in pages or steps, "checksum" in tables, "verify", "restore".
Progress = Callable[[str, int, int | None], None]


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


class BackupError(MSPError):
    """A backup or restore that could not be done; nothing was overwritten."""


# ---- checksums ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
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


def table_checksums(conn: Connection, progress: Progress = _no_progress) -> dict[str, dict[str, Any]]:
    """{table: {"rows": n, "checksum": hex}} for every data table, read through ``conn``."""
    names = _data_tables(conn)
    meta = MetaData()
    meta.reflect(conn, only=names)
    out: dict[str, dict[str, Any]] = {}
    for done, name in enumerate(names):
        table = meta.tables[name]
        columns = [c for c in table.columns if not is_search_object(c.name)]
        total, rows = 0, 0
        result = conn.execute(select(*columns)).yield_per(2000)
        for row in result:
            digest = hashlib.sha256("\x1f".join(_text(v) for v in row).encode("utf-8", "surrogatepass"))
            total = (total + int.from_bytes(digest.digest(), "big")) % (1 << 256)
            rows += 1
        out[name] = {"rows": rows, "checksum": f"{total:064x}"}
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


def database_checksums(url: URL, progress: Progress = _no_progress) -> dict[str, dict[str, Any]]:
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


def _dump(url: URL, dest: Path, progress: Progress) -> dict[str, dict[str, Any]]:
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


def _load(url: URL, dump: Path, *, replace: bool, progress: Progress) -> None:
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
        raise BackupError(
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


# ---- the manifest -------------------------------------------------------------------------------


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class Manifest:
    doc: dict[str, Any]

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return dict(self.doc["tables"])

    @property
    def revision(self) -> str | None:
        return self.doc.get("schema_revision")

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.doc["created_at"])


def read_manifest(dump: Path) -> Manifest:
    path = manifest_path(dump)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"no manifest {path.name} beside {dump.name}: cannot check the backup") from None
    except ValueError:
        raise BackupError(f"the manifest {path.name} is damaged (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or "tables" not in doc:
        raise BackupError(f"{path.name} is not an msp backup manifest of a format this msp reads")
    return Manifest(doc)


def check_file(dump: Path, manifest: Manifest) -> None:
    """The dump is exactly the file the manifest describes: not truncated, not altered."""
    if not dump.is_file():
        raise BackupError(f"no backup file {dump}")
    size = dump.stat().st_size
    want = int(manifest.doc["size_bytes"])
    if size != want:
        raise BackupError(
            f"{dump.name} is {size} bytes, the backup was {want}: the file is truncated or corrupted; "
            "nothing was restored"
        )
    if file_sha256(dump) != manifest.doc["sha256"]:
        raise BackupError(
            f"{dump.name} does not match its checksum: the file is corrupted; nothing was restored"
        )


# ---- backup -------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    manifest: Path
    backup_type: str
    dialect: str
    size_bytes: int
    sha256: str
    revision: str | None
    started_at: datetime
    duration_seconds: float
    verification: str  # passed, failed or not_verified
    problems: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_id: Any = None
    pruned: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())


def default_directory(settings: Settings) -> Path:
    return settings.home / "backups"


def backup(
    settings: Settings,
    db: Database,
    *,
    directory: Path | None = None,
    backup_type: str = "manual",
    verify: bool = True,
    progress: Progress = _no_progress,
    now: datetime | None = None,
) -> BackupResult:
    """Dump the database into ``directory``, write its manifest, and verify it by restoring
    into a scratch database. Raises BackupError when the dump itself fails; a dump that does
    not verify is kept (with ``verification == "failed"`` and the differences) for inspection."""
    if backup_type not in BACKUP_TYPES:
        raise ValidationError(f"backup type must be one of {', '.join(BACKUP_TYPES)}, not {backup_type!r}")
    st = schema.status(db)
    if st.empty:
        raise BackupError(f"the database at {display_url(db.url)} has no schema yet: nothing to back up")
    folder = (directory or default_directory(settings)).expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = now or datetime.now(UTC)
    kind = family(db.url)
    suffix = "sqlite" if kind == "sqlite" else "sql"
    dest = folder / f"msp-{kind}-{started:%Y%m%dT%H%M%S}Z-{secrets.token_hex(2)}-{backup_type}.{suffix}"
    clock = time.monotonic()
    partial = dest.with_name(dest.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        tables = _dump(db.url, partial, progress)
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    result = BackupResult(
        path=dest,
        manifest=manifest_path(dest),
        backup_type=backup_type,
        dialect=kind,
        size_bytes=dest.stat().st_size,
        sha256=file_sha256(dest),
        revision=st.current,
        started_at=started,
        duration_seconds=0.0,
        verification="not_verified",
        tables=tables,
    )
    doc = {
        "format": MANIFEST_FORMAT,
        "created_at": started.isoformat(),
        "backup_type": backup_type,
        "dialect": kind,
        "database": display_url(db.url),
        "file": dest.name,
        "size_bytes": result.size_bytes,
        "sha256": result.sha256,
        "schema_revision": st.current,
        "tables": tables,
    }
    _write_private(result.manifest, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    if verify:
        progress("verify", 0, None)
        with scratch_database(db.url, folder) as scratch:
            _load(scratch, dest, replace=False, progress=progress)
            result.problems = compare(tables, database_checksums(scratch, progress))
            if kind == "sqlite" and not result.problems:
                result.problems = _sqlite_integrity(scratch)
        result.verification = "failed" if result.problems else "passed"
    result.duration_seconds = time.monotonic() - clock
    return result


def _sqlite_integrity(url: URL) -> list[str]:
    conn = sqlite3.connect(str(url.database))
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    return [] if found == ["ok"] else [f"integrity_check: {found[0]}"]


def _write_private(path: Path, content: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.replace(tmp, path)


def record_backup(rt: Runtime, actor: Actor, result: BackupResult, error: str | None = None) -> Any:
    """The ``backup_log`` row for a backup (and its audit row)."""
    url = rt.db.url
    with rt.db.write() as session:
        row = BackupLog(
            backup_type=result.backup_type,
            status="failed" if error else "succeeded",
            file_path=str(result.path),
            file_size_bytes=result.size_bytes,
            checksum_sha256=result.sha256,
            backup_started_at=result.started_at,
            backup_completed_at=result.started_at + timedelta(seconds=result.duration_seconds),
            duration_seconds=round(result.duration_seconds),
            verification_status=result.verification,
            verification_details={
                "tables": len(result.tables),
                "rows": result.rows,
                "problems": result.problems,
            },
            database_name=url.database if family(url) != "sqlite" else Path(str(url.database)).name,
            database_dialect=family(url),
            database_host=url.host,
            backup_method="native",
            schema_revision=result.revision,
            error_message=error,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            rt.audit_signer,
            actor,
            "create",
            "backup_log",
            row.id,
            {"file_path": row.file_path, "verification_status": row.verification_status},
        )
        result.log_id = row.id
        return row


# ---- retention ----------------------------------------------------------------------------------


def prune(
    rt: Runtime,
    actor: Actor,
    directory: Path,
    *,
    keep_daily: int = 7,
    keep_weekly: int = 4,
    keep_monthly: int = 12,
) -> list[Path]:
    """Delete this database's scheduled backups in ``directory`` that no rule keeps: the newest of each
    of the last ``keep_daily`` days that have one, of the last ``keep_weekly`` ISO weeks and of
    the last ``keep_monthly`` months. Their ``backup_log`` rows are marked pruned."""
    here = display_url(rt.db.url)
    found: list[tuple[datetime, Path]] = []
    for path in directory.glob(f"*{MANIFEST_SUFFIX}"):
        dump = path.with_name(path.name[: -len(MANIFEST_SUFFIX)])
        try:
            manifest = read_manifest(dump)
        except BackupError:
            continue
        scheduled = manifest.doc.get("backup_type") in SCHEDULED_TYPES
        if scheduled and manifest.doc.get("database") == here and dump.exists():
            found.append((manifest.created_at, dump))
    found.sort(key=lambda item: item[0], reverse=True)
    keep: set[Path] = set()
    for count, bucket in (
        (keep_daily, lambda d: d.date()),
        (keep_weekly, lambda d: d.isocalendar()[:2]),
        (keep_monthly, lambda d: (d.year, d.month)),
    ):
        seen: list[Any] = []
        for created, dump in found:
            key = bucket(created)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(key)
            keep.add(dump)
    doomed = [dump for _, dump in found if dump not in keep]
    for dump in doomed:
        dump.unlink(missing_ok=True)
        manifest_path(dump).unlink(missing_ok=True)
    if doomed:
        with rt.db.write() as session:
            paths = [str(d) for d in doomed]
            session.execute(
                update(BackupLog).where(BackupLog.file_path.in_(paths)).values(pruned_at=datetime.now(UTC))
            )
            audit.record(
                session,
                rt.audit_signer,
                actor,
                "delete",
                "backup_files",
                None,
                {"pruned": [d.name for d in doomed]},
            )
    return doomed


def cron_line(settings: Settings, directory: Path, msp_path: str, *, keep: tuple[int, int, int]) -> str:
    """A crontab line for a nightly verified backup with retention. The database URL is not in
    it (a crontab is readable by its owner's processes and often copied around): it comes
    from the environment or MSP_HOME as for every other msp command."""
    daily, weekly, monthly = keep
    return (
        f"17 2 * * * MSP_HOME={_sh(str(settings.home))} {_sh(msp_path)} backup --type daily "
        f"--to {_sh(str(directory))} --keep-daily {daily} --keep-weekly {weekly} --keep-monthly {monthly} "
        f">> {_sh(str(settings.home / 'backup.log'))} 2>&1"
    )


def _sh(value: str) -> str:
    import shlex

    return shlex.quote(value)


# ---- restore ------------------------------------------------------------------------------------


@dataclass
class RestorePlan:
    dump: Path
    manifest: Manifest
    target: URL
    target_revision: str | None

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.manifest.tables.values())


def plan_restore(db: Database, dump: Path, *, progress: Progress = _no_progress) -> RestorePlan:
    """Every check a restore makes before it touches the live database: the file matches
    its manifest, its schema is one this msp knows, it is for this kind of database, the live
    database is not from a newer msp, and the dump restores into a scratch database with
    every table's rows and checksum as recorded."""
    dump = dump.expanduser()
    manifest = read_manifest(dump)
    check_file(dump, manifest)
    kind = family(db.url)
    if manifest.doc.get("dialect") != kind:
        raise BackupError(
            f"{dump.name} is a {manifest.doc.get('dialect')} backup; this database is {kind}: "
            "nothing was restored"
        )
    revision = manifest.revision
    known = _known_revisions()
    if revision not in known:
        raise SchemaError(
            f"{dump.name} is from schema revision {revision}, newer than this msp knows "
            f"(its newest is {schema.head_revision()}): upgrade msp first; nothing was restored"
        )
    target = schema.status(db)  # refuses a live database newer than this msp
    with scratch_database(db.url, dump.parent) as scratch:
        _load(scratch, dump, replace=False, progress=progress)
        problems = compare(manifest.tables, database_checksums(scratch, progress))
    if problems:
        raise BackupError(
            f"{dump.name} does not restore to what was backed up ({problems[0]}); nothing was restored"
        )
    return RestorePlan(dump=dump, manifest=manifest, target=db.url, target_revision=target.current)


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(schema.alembic_config()).walk_revisions()}


def apply_restore(db: Database, plan: RestorePlan, *, progress: Progress = _no_progress) -> list[str]:
    """Overwrite the live database with the planned dump; return any difference found
    afterwards (none on success). Close every other use of ``db`` first."""
    db.dispose()
    _load(plan.target, plan.dump, replace=True, progress=progress)
    return compare(plan.manifest.tables, database_checksums(plan.target, progress))


def record_restore(rt: Runtime, actor: Actor, plan: RestorePlan) -> bool:
    """An audit row for a restore, appended to the restored chain; only when the restored
    schema is current (an older one is upgraded first, and the row written then would not
    fit the old tables)."""
    st = schema.status(rt.db)
    if not st.at_head:
        return False
    with rt.db.write() as session:
        audit.record(
            session,
            rt.audit_signer,
            actor,
            "other",
            "database",
            None,
            {
                "restored_from": plan.dump.name,
                "sha256": plan.manifest.doc["sha256"],
                "schema_revision": plan.manifest.revision,
            },
        )
    return True


__all__ = [
    "BackupError",
    "BackupResult",
    "Manifest",
    "RestorePlan",
    "apply_restore",
    "backup",
    "check_file",
    "compare",
    "cron_line",
    "database_checksums",
    "default_directory",
    "manifest_path",
    "plan_restore",
    "prune",
    "read_manifest",
    "record_backup",
    "record_restore",
    "table_checksums",
]
