"""Backups on every backend: backup → wipe → restore gives identical row counts and checksums;
a corrupted or truncated file, a backup from a newer schema and one for another kind of
database are refused with the live database untouched; ``msp backup``/``msp restore`` and the
pre-migration backup of ``msp db upgrade`` as real processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import URL

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.errors import SchemaError
from mspmode.models.operations import BackupLog
from mspmode.services import backup as backups
from mspmode.services import credentials, crud, dumps
from mspmode.services.actor import local_actor
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from tests.api.conftest import make_runtime
from tests.cli.test_setup import msp, one_error_line
from tests.conftest import create_scratch_database

SPEC = {s.name: s for s in RESOURCES}
SECRET = "Backup-Secret-Pa55word!"


@pytest.fixture
def rt(empty_database_url: URL, tmp_path: Path) -> Any:
    db = Database(empty_database_url)
    schema.upgrade(db)
    runtime = make_runtime(tmp_path / "home", db)
    yield runtime
    runtime.dispose()


def populate(rt: Runtime) -> None:
    actor = local_actor()
    client = crud.create_row(
        rt, actor, SPEC["clients"], {"name": "Acme Café “quoted”", "notes": "multi\nline"}
    )
    host = crud.create_row(
        rt,
        actor,
        SPEC["infrastructure"],
        {
            "client_id": client.id,
            "hostname": "DC01",
            "traits": {"busybox": True, "ps": "2.0"},
            "aliases": ["dc", "pdc"],
        },
    )
    s = crud.create_row(
        rt,
        actor,
        SPEC["sessions"],
        {"client_id": client.id, "session_title": "t", "started_at": datetime(2026, 3, 2, 9, tzinfo=UTC)},
    )
    crud.create_row(
        rt,
        actor,
        SPEC["work-items"],
        {
            "session_id": s.id,
            "title": "w",
            "description": "d",
            "started_at": datetime(2026, 3, 2, 9, tzinfo=UTC),
            "completed_at": datetime(2026, 3, 2, 9, 45, tzinfo=UTC),
        },
    )
    for i in range(30):
        crud.create_row(
            rt,
            actor,
            SPEC["commands"],
            {
                "session_id": s.id,
                "infrastructure_id": host.id,
                "command_text": f"grep -P 'x{i}' /var/log/syslog",
                "success": i % 3 != 0,
                "exit_code": 0 if i % 3 else 2,
            },
        )
    credentials.create(
        rt,
        actor,
        credentials.CREDENTIALS,
        {
            "service_name": "AD1 admin",
            "credential_type": "password",
            "client_id": client.id,
            "password": SECRET,
        },
    )


def wipe(url: URL) -> None:
    """The disaster: every table gone (SQLite: the file deleted)."""
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if url.get_backend_name() == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            names = inspect(conn).get_table_names()
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for name in names:
                conn.execute(text(f"DROP TABLE `{name}`"))
    engine.dispose()


def test_round_trip_backup_wipe_restore(rt: Runtime, tmp_path: Path) -> None:
    populate(rt)
    before = backups.database_checksums(rt.db.url)
    assert before["commands_run"]["rows"] == 30 and before["credentials"]["rows"] == 1

    result = backups.backup(rt.settings, rt.db, directory=tmp_path / "bk")
    assert result.verification == "passed", result.problems
    assert result.tables == before
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(result.manifest.stat().st_mode) == 0o600
    manifest = json.loads(result.manifest.read_text())
    assert manifest["schema_revision"] == schema.head_revision()
    assert manifest["sha256"] == backups.file_sha256(result.path)
    # The secret is ciphertext in the database, so it is ciphertext in the backup.
    assert SECRET.encode() not in result.path.read_bytes()
    password = rt.db.url.password
    assert "***" in manifest["database"] or not password
    if password and str(password) not in (rt.db.url.username, rt.db.url.database):
        assert str(password).encode() not in result.path.read_bytes() + result.manifest.read_bytes()

    row = backups.record_backup(rt, local_actor(), result)
    assert row.verification_status == "passed" and row.status == "succeeded"
    assert row.verification_details["rows"] == result.rows

    rt.db.dispose()
    wipe(rt.db.url)
    plan = backups.plan_restore(rt.settings, rt.db, result.path)
    assert backups.apply_restore(rt.db, plan) == []
    assert backups.database_checksums(rt.db.url) == before
    # The restored vault still opens: the secret decrypts with the same key.
    cred_id = credentials_id(rt)
    assert credentials.reveal(rt, local_actor(), credentials.CREDENTIALS, cred_id, "password").value == SECRET

    # Restoring over live data (not a wiped database) replaces it with the backup.
    crud.create_row(rt, local_actor(), SPEC["clients"], {"name": "Added after the backup"})
    assert backups.apply_restore(rt.db, backups.plan_restore(rt.settings, rt.db, result.path)) == []
    assert backups.database_checksums(rt.db.url) == before
    assert backups.record_restore(rt, local_actor(), plan) is True


def credentials_id(rt: Runtime) -> uuid.UUID:
    page = crud.list_rows(rt, local_actor(), credentials.CREDENTIALS)
    return page.items[0].id


def test_bad_backups_are_refused_and_nothing_is_overwritten(rt: Runtime, tmp_path: Path) -> None:
    populate(rt)
    result = backups.backup(rt.settings, rt.db, directory=tmp_path / "bk", verify=False)
    crud.create_row(rt, local_actor(), SPEC["clients"], {"name": "Written after the backup"})
    live = backups.database_checksums(rt.db.url)
    good = result.path.read_bytes()

    corrupted = bytearray(good)
    corrupted[len(good) // 2] ^= 0x01
    result.path.write_bytes(bytes(corrupted))
    with pytest.raises(backups.BackupError, match="corrupted; nothing was restored"):
        backups.plan_restore(rt.settings, rt.db, result.path)

    result.path.write_bytes(good[: len(good) // 3])
    with pytest.raises(backups.BackupError, match="truncated or corrupted"):
        backups.plan_restore(rt.settings, rt.db, result.path)

    result.path.write_bytes(good)
    doc = json.loads(result.manifest.read_text())
    # Each manifest below is signed with the installation's key (as if msp had written it),
    # so the check after the signature's is the one that refuses it.
    signer = backups.manifest_signer(rt.settings)

    def rewrite(changed: dict[str, Any]) -> None:
        result.manifest.write_text(json.dumps(backups.sign_manifest(changed, signer)))

    rewrite({**doc, "schema_revision": "9999_from_the_future"})
    with pytest.raises(SchemaError, match="newer than this msp knows"):
        backups.plan_restore(rt.settings, rt.db, result.path)

    other = "postgresql" if doc["dialect"] != "postgresql" else "sqlite"
    rewrite({**doc, "dialect": other})
    with pytest.raises(backups.BackupError, match=f"is a {other} backup"):
        backups.plan_restore(rt.settings, rt.db, result.path)

    # A manifest whose checksums do not describe the file: the scratch restore shows it.
    tables = {**doc["tables"], "clients": {**doc["tables"]["clients"], "rows": 99}}
    rewrite({**doc, "tables": tables})
    with pytest.raises(backups.BackupError, match="clients: 1 rows, expected 99"):
        backups.plan_restore(rt.settings, rt.db, result.path)

    # The live database is from a newer msp: nothing is overwritten.
    result.manifest.write_text(json.dumps(doc))
    with rt.db.writer.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaError, match="9999_from_the_future"):
        backups.plan_restore(rt.settings, rt.db, result.path)
    with rt.db.writer.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": schema.head_revision()})

    result.manifest.unlink()
    with pytest.raises(backups.BackupError, match="no manifest"):
        backups.plan_restore(rt.settings, rt.db, result.path)
    assert backups.database_checksums(rt.db.url) == live


def test_retention_keeps_the_newest_per_day_week_and_month(sqlite_db: Database, tmp_path: Path) -> None:
    # Retention is about files and dates, the same on every backend: SQLite keeps it quick.
    rt = make_runtime(tmp_path / "home", sqlite_db)
    folder = tmp_path / "bk"
    days = [(1, d) for d in (1, 2, 3, 20)] + [(2, d) for d in (3, 10, 25)] + [(3, d) for d in range(1, 11)]
    made = {}
    for month, day in days:
        at = datetime(2026, month, day, 2, 17, tzinfo=UTC)
        made[at] = backups.backup(
            rt.settings, rt.db, directory=folder, backup_type="daily", verify=False, now=at
        )
    manual = backups.backup(
        rt.settings,
        rt.db,
        directory=folder,
        backup_type="manual",
        verify=False,
        now=datetime(2026, 1, 5, tzinfo=UTC),
    )
    pruned = backups.prune(rt, local_actor(), folder, keep_daily=3, keep_weekly=2, keep_monthly=3)
    kept = {at for at, r in made.items() if r.path.exists()}
    newest = max(made)
    # 3 newest days, plus the newest of the previous ISO week, plus the newest of Feb and Jan.
    expected = {newest, newest - timedelta(days=1), newest - timedelta(days=2)}
    week = newest.isocalendar()[:2]
    expected.add(max(at for at in made if at.isocalendar()[:2] != week))
    expected.add(max(at for at in made if at.month == 2))
    expected.add(max(at for at in made if at.month == 1))
    assert kept == expected
    assert len(pruned) == len(made) - len(expected)
    assert manual.path.exists()  # manual backups are never thinned out
    assert not any(p.exists() or backups.manifest_path(p).exists() for p in pruned)
    rt.dispose()


def test_the_password_goes_to_a_private_file_not_argv(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    url = make_url("mysql+pymysql://u:p%40ss%22word@127.0.0.1:3306/db")
    with dumps._my_defaults(url) as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert 'password="p@ss\\"word"' in Path(path).read_text()
    assert not Path(path).exists()


# ---- as real processes --------------------------------------------------------------------------


def test_msp_backup_and_restore_commands(
    msp_env: dict[str, str], empty_database_url: URL, tmp_path: Path
) -> None:
    env = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    assert msp(env, "init").returncode == 0
    assert msp(env, "client", "add", "Acme Corp").returncode == 0
    folder = tmp_path / "bk"
    made = msp(env, "backup", "--to", str(folder), "--json")
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["verification"] == "passed" and summary["backup_log_id"]
    assert "backup: dumping…" in made.stderr  # plain progress lines when not on a terminal
    dump = Path(summary["file"])

    assert msp(env, "client", "add", "Globex").returncode == 0
    declined = subprocess.run(
        [*msp_cmd(), "restore", str(dump)],
        env=env,
        input="n\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert declined.returncode == 1 and "Overwrite" in declined.stdout
    assert "Globex" in msp(env, "client", "list").stdout

    restored = msp(env, "restore", str(dump), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "Globex" not in msp(env, "client", "list").stdout
    assert msp(env, "audit", "verify").returncode == 0

    dump.write_bytes(dump.read_bytes()[:-100])
    line = one_error_line(msp(env, "restore", str(dump), "--yes"))
    assert "truncated or corrupted" in line
    assert "Acme Corp" in msp(env, "client", "list").stdout

    schedule = msp(env, "backup", "--schedule", "--to", str(folder))
    assert schedule.returncode == 0 and "backup --type daily" in schedule.stdout
    assert empty_database_url.password is None or str(empty_database_url.password) not in schedule.stdout


def msp_cmd() -> list[str]:
    from tests.cli.test_setup import MSP

    return MSP


def test_db_upgrade_takes_a_pre_migration_backup(msp_env: dict[str, str], tmp_path: Path) -> None:
    url, drop = create_scratch_database("sqlite", tmp_path)
    env = {**msp_env, "MSP_DATABASE_URL": url.render_as_string(hide_password=False)}
    # MSP_HOME's keys from `msp init` (on a database of its own), then the database an older
    # msp left: migrated to revision 0002 and no further.
    elsewhere = f"sqlite:///{tmp_path / 'init.db'}"
    assert msp({**env, "MSP_DATABASE_URL": elsewhere}, "init").returncode == 0
    db = Database(url)
    schema.upgrade(db, "0002")
    db.dispose()
    upgraded = msp(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "pre-migration backup: " in upgraded.stdout
    assert f"upgraded 0002 -> {schema.head_revision()}" in upgraded.stdout
    dump = Path(upgraded.stdout.split("pre-migration backup: ")[1].split()[0])
    assert dump.exists() and json.loads(backups.manifest_path(dump).read_text())["schema_revision"] == "0002"
    db = Database(url)
    with db.read() as session:
        logged = session.scalars(select(BackupLog)).all()
    db.dispose()
    assert [(r.backup_type, r.verification_status, r.schema_revision) for r in logged] == [
        ("pre-migration", "passed", "0002")
    ]
    # The head of a chain from before heads were signed is signed by the upgrade.
    verified = msp(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    again = msp(env, "db", "upgrade")
    assert "nothing to do" in again.stdout and "pre-migration" not in again.stdout
    settings = Settings(home=Path(env["MSP_HOME"]), database_url=env["MSP_DATABASE_URL"])
    assert backups.default_directory(settings) == dump.parent
    drop()  # type: ignore[operator]


VALUES = st.one_of(st.none(), st.text(max_size=12), st.integers(-(2**40), 2**40), st.booleans())


@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(VALUES, VALUES), max_size=12), st.randoms(use_true_random=False))
def test_a_table_checksum_ignores_row_order_and_sees_every_change(
    rows: list[tuple[object, object]], rng: Any
) -> None:
    def checksum(ordered: list[tuple[object, object]]) -> dict[str, Any]:
        engine = create_engine("sqlite://")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b)"))
            for n, (a, b) in ordered:
                conn.execute(text("INSERT INTO t VALUES (:n, :a, :b)"), {"n": n, "a": a, "b": b})
            sums = dumps.table_checksums(conn)["t"]
        engine.dispose()
        return sums

    numbered = list(enumerate(rows))
    shuffled = numbered[:]
    rng.shuffle(shuffled)
    first = checksum(numbered)
    assert first == checksum(shuffled)
    assert first["rows"] == len(rows)
    if rows:
        n, (a, _) = numbered[0]
        # NULL and the text "None" (or any other value) are different data.
        changed = "None" if a is None else None
        assert checksum([(n, (changed, numbered[0][1][1])), *numbered[1:]]) != first
        assert checksum(numbered[1:]) != first


def test_a_failed_dump_is_logged_and_named(
    msp_env: dict[str, str], empty_database_url: URL, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite's backup needs no outside tool")
    env = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    assert msp(env, "init").returncode == 0
    tool = "pg_dump" if backend == "postgresql" else "mariadb-dump"
    line = one_error_line(msp({**env, "PATH": "/nonexistent"}, "backup"))
    assert f"{tool} is not installed" in line
    db = Database(empty_database_url)
    with db.read() as session:
        logged = session.scalars(select(BackupLog)).all()
    db.dispose()
    assert [(r.status, r.verification_status, r.file_size_bytes) for r in logged] == [
        ("failed", "not_verified", None)
    ]
    assert tool in (logged[0].error_message or "")
    password = empty_database_url.password
    if password and str(password) not in (empty_database_url.username, empty_database_url.database):
        assert str(password) not in line
