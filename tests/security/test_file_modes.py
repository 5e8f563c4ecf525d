"""Low findings of issue 15 on files: ``msp serve`` started without ``vault.key`` or with it
readable by others; ``msp init`` kept an existing 0777 MSP_HOME; the SQLite database and its
-wal/-shm were 0644. Real ``msp`` processes and a real SQLite file, under umask 022."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mspmode.db.session import Database
from mspmode.vault.keyfiles import KEY_NAMES
from tests.cli.test_setup import msp, one_error_line
from tests.servers import free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which SQLite's own files come out 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_serve_refuses_a_missing_or_loose_key_file(msp_env: dict[str, str]) -> None:
    home = Path(msp_env["MSP_HOME"])
    assert msp(msp_env, "init").returncode == 0
    # On a port of its own, so that a serve that wrongly starts fails only by its timeout.
    serve = ("serve", "--port", str(free_port()))
    for name in KEY_NAMES:
        key = home / f"{name}.key"
        key.chmod(0o644)
        line = one_error_line(msp(msp_env, *serve, timeout=60))
        assert f"{name} key file {key} is readable by others (mode 644): chmod 600 it" in line
        key.chmod(0o600)
    vault = home / "vault.key"
    vault.rename(home / "vault.key.away")
    line = one_error_line(msp(msp_env, *serve, timeout=60))
    assert f"vault key file {vault} is missing: run `msp init`" in line


def test_init_makes_an_open_home_private_and_says_so(msp_env: dict[str, str]) -> None:
    home = Path(msp_env["MSP_HOME"])
    home.mkdir()
    home.chmod(0o777)
    first = msp(msp_env, "init")
    assert first.returncode == 0, first.stderr
    assert f"{home} was open to other users (mode 777): now 700" in first.stdout
    assert mode(home) == 0o700

    home.chmod(0o755)  # an installation someone opened up later
    again = msp(msp_env, "init")
    assert again.returncode == 0 and "(mode 755): now 700" in again.stdout
    assert "nothing changed" not in again.stdout
    assert mode(home) == 0o700
    assert "nothing changed" in msp(msp_env, "init").stdout


def test_the_database_and_its_wal_and_shm_are_created_private(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "data" / "msp.db"
    db = Database(make_url(f"sqlite:///{path}"))
    with db.writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    # While a connection is open the WAL and its index exist beside the file.
    with db.reader.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM t").all()
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    db.dispose()


def test_an_open_database_is_made_private_when_opened(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "msp.db"
    # As an older msp (or sqlite3 by hand) left it: 0644, with a -wal and -shm beside it.
    keep = sqlite3.connect(path)
    keep.execute("PRAGMA journal_mode=WAL")
    keep.execute("CREATE TABLE t (x)")
    keep.commit()
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    for f in files:
        f.chmod(0o644)
    db = Database(make_url(f"sqlite:///{path}"))
    db.ping()
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    db.dispose()
    keep.close()


def test_msp_init_leaves_every_file_in_its_home_private(msp_env: dict[str, str], umask_022: None) -> None:
    home = Path(msp_env["MSP_HOME"])
    assert msp(msp_env, "init").returncode == 0
    assert msp(msp_env, "client", "add", "Acme Corp").returncode == 0
    loose = {p.name: oct(mode(p)) for p in home.rglob("*") if p.is_file() and mode(p) & 0o077}
    assert loose == {}
