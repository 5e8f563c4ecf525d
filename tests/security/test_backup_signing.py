"""Finding 10 of issue 15: ``msp restore`` trusted an unsigned manifest. A backup with a
planted trigger (every new user made an admin) and a recomputed SHA-256 restored, ``msp db
check`` still said the schema matched, and the next ``msp user add --role readonly`` made an
admin. Now the manifest is signed with a key the database does not hold, an unsigned one is
refused unless ``--allow-unsigned``, and the restored schema — triggers, views and functions
included — is compared with the models, in ``msp restore`` and ``msp db check``; real ``msp``
processes on every backend."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from mspmode.services import backup as backups
from mspmode.settings import Settings
from tests.cli.test_setup import msp, one_error_line

# What a forger adds, per backend: a trigger that promotes every new user, and a view.
TRIGGER = {
    "sqlite": "CREATE TRIGGER users_promote AFTER INSERT ON users "
    "BEGIN UPDATE users SET role = 'admin' WHERE id = new.id; END",
    "postgresql": "CREATE FUNCTION public.users_promote() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN NEW.role := 'admin'; RETURN NEW; END $$;\n"
    "CREATE TRIGGER users_promote BEFORE INSERT ON public.users "
    "FOR EACH ROW EXECUTE FUNCTION public.users_promote()",
    "mariadb": "CREATE TRIGGER users_promote BEFORE INSERT ON users FOR EACH ROW SET NEW.role = 'admin'",
}
VIEW = {
    "sqlite": "CREATE VIEW user_roles AS SELECT username, role FROM users",
    "postgresql": "CREATE VIEW public.user_roles AS SELECT username, role FROM public.users",
    "mariadb": "CREATE VIEW user_roles AS SELECT username, role FROM users",
}


@pytest.fixture
def env(msp_env: dict[str, str], empty_database_url: URL) -> dict[str, str]:
    env = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    assert msp(env, "init").returncode == 0
    return env


def plant(backend: str, dump: Path, statement: str) -> None:
    """Add ``statement`` to the dump as a forger with the file (not the key) would."""
    if backend == "sqlite":
        conn = sqlite3.connect(dump)
        conn.executescript(statement + ";")
        conn.close()
    else:
        with dump.open("a", encoding="utf-8") as fh:
            fh.write("\n" + statement + ";\n")


def rewrite_manifest(dump: Path, *, signed: bool = True, **changes: Any) -> None:
    """The manifest with the dump's real size and SHA-256 (and ``changes``); its signature
    kept as it was, or removed."""
    path = backups.manifest_path(dump)
    doc = json.loads(path.read_text())
    doc.update(size_bytes=dump.stat().st_size, sha256=backups.file_sha256(dump), **changes)
    if not signed:
        doc.pop("signature", None)
    path.write_text(json.dumps(doc))


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a refused restore (progress lines on stderr come before it)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("msp: error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def roles(env: dict[str, str]) -> dict[str, str]:
    listed = msp(env, "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {u["username"]: u["role"] for u in json.loads(listed.stdout)}


def test_a_planted_trigger_is_refused_signed_or_not(
    env: dict[str, str], backend: str, tmp_path: Path
) -> None:
    made = msp(env, "backup", "--to", str(tmp_path / "bk"), "--no-verify", "--json")
    assert made.returncode == 0, made.stderr
    dump = Path(json.loads(made.stdout)["file"])
    clean = dump.read_bytes()
    plant(backend, dump, TRIGGER[backend])
    rewrite_manifest(dump)  # the forger recomputes the checksum; the signature no longer fits

    line = one_error_line(msp(env, "restore", str(dump), "--yes"))
    assert "does not match its signature" in line and "nothing was restored" in line

    rewrite_manifest(dump, signed=False)
    line = one_error_line(msp(env, "restore", str(dump), "--yes"))
    assert "is not signed" in line and "--allow-unsigned" in line

    line = refused(msp(env, "restore", str(dump), "--yes", "--allow-unsigned"))
    assert "users_promote" in line and "in the database only" in line and "nothing was restored" in line

    assert msp(env, "user", "add", "carol", "--role", "readonly").returncode == 0
    assert roles(env)["carol"] == "readonly"

    # A backup made before manifests were signed: refused by default, restored when allowed.
    dump.write_bytes(clean)
    rewrite_manifest(dump, signed=False, format=1)
    assert "is not signed" in one_error_line(msp(env, "restore", str(dump), "--yes"))
    restored = msp(env, "restore", str(dump), "--yes", "--allow-unsigned")
    assert restored.returncode == 0, restored.stderr
    assert "warning: " in restored.stderr and "no signed manifest" in restored.stderr
    assert "carol" not in roles(env)
    assert msp(env, "audit", "verify").returncode == 0


def test_a_planted_view_is_refused(env: dict[str, str], backend: str, tmp_path: Path) -> None:
    made = msp(env, "backup", "--to", str(tmp_path / "bk"), "--no-verify", "--json")
    dump = Path(json.loads(made.stdout)["file"])
    plant(backend, dump, VIEW[backend])
    rewrite_manifest(dump, signed=False)
    line = refused(msp(env, "restore", str(dump), "--yes", "--allow-unsigned"))
    assert "view" in line and "user_roles" in line and "in the database only" in line


def test_db_check_names_a_planted_trigger_and_view(env: dict[str, str], backend: str) -> None:
    url = env["MSP_DATABASE_URL"]
    engine = create_engine(url)
    with engine.begin() as conn:
        if backend == "sqlite":
            conn.exec_driver_sql(TRIGGER[backend])
        else:
            for statement in TRIGGER[backend].split(";\n"):
                conn.exec_driver_sql(statement)
        conn.exec_driver_sql(VIEW[backend])
    engine.dispose()
    check = msp(env, "db", "check", "--json")
    assert check.returncode == 1, check.stdout + check.stderr
    found = json.loads(check.stdout)["differences"]
    assert any("trigger" in d and "users_promote" in d and "in the database only" in d for d in found), found
    assert any("view" in d and "user_roles" in d for d in found), found
    if backend == "postgresql":
        assert any(d.startswith("function public.users_promote()") for d in found), found
    assert msp(env, "user", "add", "dave", "--role", "readonly").returncode == 0
    assert roles(env)["dave"] == "admin"  # why `db check` must say so: the trigger is live

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP VIEW user_roles"))
    engine.dispose()
    plain = msp(env, "db", "check")
    assert plain.returncode == 1 and "users_promote" in plain.stderr


def test_a_manifest_signed_by_another_installation_is_refused(tmp_path: Path) -> None:
    from mspmode.services import setup

    ours = Settings(home=tmp_path / "ours")
    theirs = Settings(home=tmp_path / "theirs")
    setup.initialize(theirs)
    setup.initialize(ours)
    from mspmode.db.session import Database

    db = Database.from_settings(theirs)
    taken = backups.backup(theirs, db, directory=tmp_path / "bk", verify=False)
    db.dispose()
    db = Database.from_settings(ours)
    with pytest.raises(backups.BackupError, match="signed with another audit key"):
        backups.plan_restore(ours, db, taken.path)
    db.dispose()
    manifest = json.loads(taken.manifest.read_text())
    assert manifest["format"] == 2 and manifest["signature"]["alg"] == "HMAC-SHA256"
