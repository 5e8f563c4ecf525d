"""``msp init``, ``msp db upgrade|check`` and their failures, as real subprocesses: the way a
technician runs them, with their own MSP_HOME and database."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

MSP = [sys.executable, "-m", "mspmode"]


def msp(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MSP, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("msp: error: ")
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_init_sets_up_everything_once_and_then_changes_nothing(msp_env: dict[str, str]) -> None:
    home = Path(msp_env["MSP_HOME"])
    first = msp(msp_env, "init")
    assert first.returncode == 0, first.stderr
    assert "one-time password: " in first.stdout
    password = first.stdout.split("one-time password: ")[1].split()[0]
    assert len(password) >= 16
    keys = {name: home / f"{name}.key" for name in ("jwt", "audit", "vault")}
    for path in keys.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    before = {name: digest(p) for name, p in keys.items()}

    second = msp(msp_env, "init")
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert "password" not in second.stdout
    assert {name: digest(p) for name, p in keys.items()} == before

    # The password is in no file under MSP_HOME: only its Argon2 hash is in the database.
    for path in home.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path

    check = msp(msp_env, "db", "check")
    assert check.returncode == 0, check.stderr
    assert "schema matches the models" in check.stdout


def test_init_and_check_on_every_backend(msp_env: dict[str, str], empty_database_url: URL) -> None:
    env = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    result = msp(env, "init")
    assert result.returncode == 0, result.stderr
    assert "upgraded empty -> " in result.stdout
    check = msp(env, "db", "check", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert '"ok": true' in check.stdout
    again = msp(env, "db", "upgrade")
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_db_check_fails_when_the_schema_drifts_from_the_models(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    db_file = Path(msp_env["MSP_HOME"]) / "msp.db"
    engine = create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE clients ADD COLUMN sneaky_column TEXT"))
        conn.execute(text("DROP INDEX ix_commands_run_host"))
    engine.dispose()
    result = msp(msp_env, "db", "check")
    assert result.returncode == 1
    assert "column clients.sneaky_column: in the database only" in result.stderr
    assert "index ix_commands_run_host on commands_run: missing from the database" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("msp: error: 2 difference(s)")
    as_json = msp(msp_env, "db", "check", "--json")
    assert as_json.returncode == 1
    assert '"ok": false' in as_json.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("oracle://scott:tiger@db/orcl", "scheme 'oracle' is not supported"),
        ("not a url at all", "is not a database URL"),
        ("postgresql+psycopg://user:s3cr3t-pw@127.0.0.1:1/msp", "cannot reach the database"),
        ("mysql+pymysql://user:s3cr3t-pw@127.0.0.1:1/msp", "cannot reach the database"),
        ("postgresql://user:s3cr3t-pw@/msp", "needs a host and a database name"),
        ("sqlite://", "must name an SQLite file"),
    ],
)
def test_a_bad_database_url_is_one_line_and_changes_nothing(
    msp_env: dict[str, str], url: str, expected: str
) -> None:
    env = {**msp_env, "MSP_DATABASE_URL": url}
    for command in (["init"], ["db", "upgrade"], ["db", "check"], ["serve"]):
        line = one_error_line(msp(env, *command, timeout=60))
        assert expected in line, line
        assert "s3cr3t-pw" not in line
    assert not Path(msp_env["MSP_HOME"]).exists()


def test_a_database_from_a_newer_msp_is_refused(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    db_file = Path(msp_env["MSP_HOME"]) / "msp.db"
    engine = create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        conn.execute(
            text("INSERT INTO tags (id, name) VALUES ('00000000000000000000000000000001', 'keep-me')")
        )
    engine.dispose()
    before = digest(db_file)
    for command in (["init"], ["db", "upgrade"], ["db", "check"], ["serve"]):
        line = one_error_line(msp(msp_env, *command))
        assert "9999_from_the_future" in line and "upgrade msp" in line, line
    assert digest(db_file) == before


def test_missing_or_unsafe_key_files_stop_the_server(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    home = Path(msp_env["MSP_HOME"])

    missing = {**msp_env, "MSP_JWT_KEY_FILE": str(home / "nope.key")}
    line = one_error_line(msp(missing, "serve"))
    assert "jwt key file" in line and "missing" in line

    (home / "audit.key").chmod(0o644)
    line = one_error_line(msp(msp_env, "serve"))
    assert "readable by others" in line

    (home / "audit.key").chmod(0o600)
    (home / "audit.key").write_text("not base64 at all!!\n")
    line = one_error_line(msp(msp_env, "init"))
    assert "audit key file" in line and "malformed" in line


def test_an_unreadable_key_file_is_one_line(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    # A directory in the key's place cannot be read even by root (CI runs as root, so a
    # chmod 000 file would not show it).
    unreadable = Path(msp_env["MSP_HOME"]) / "elsewhere.key"
    unreadable.mkdir()
    line = one_error_line(msp({**msp_env, "MSP_VAULT_KEY_FILE": str(unreadable)}, "init"))
    assert "vault key file" in line and "cannot be read" in line


def test_invalid_settings_are_one_line(msp_env: dict[str, str]) -> None:
    line = one_error_line(msp({**msp_env, "MSP_PORT": "eighty"}, "init"))
    assert "MSP_PORT" in line
