"""Shared fixtures: real databases on every backend, never a mocked session.

SQLite always runs (a temp file). PostgreSQL and MariaDB run when ``MSP_TEST_POSTGRES_URL`` /
``MSP_TEST_MARIADB_URL`` name a server whose user may create databases; each test module gets
a throwaway database of its own, dropped afterwards. Without the variables those cases are
skipped with the reason shown — unless ``MSP_TEST_REQUIRE_SERVERS=1`` (CI), where a missing or
unreachable server fails the run.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from mspmode.db import schema
from mspmode.db.session import Database

BACKENDS = ("sqlite", "postgresql", "mariadb")
_ENV = {"postgresql": "MSP_TEST_POSTGRES_URL", "mariadb": "MSP_TEST_MARIADB_URL"}


def _require_servers() -> bool:
    return os.environ.get("MSP_TEST_REQUIRE_SERVERS") == "1"


def server_url(backend: str) -> URL:
    """The admin URL of a test server, or skip/fail as the environment demands."""
    raw = os.environ.get(_ENV[backend])
    if not raw:
        if _require_servers():
            pytest.fail(f"{_ENV[backend]} is not set but MSP_TEST_REQUIRE_SERVERS=1")
        pytest.skip(f"{backend}: set {_ENV[backend]} to run this test on {backend}")
    return make_url(raw)


def _admin_engine(url: URL):  # type: ignore[no-untyped-def]
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def create_scratch_database(backend: str, tmp_path: Path) -> tuple[URL, object]:
    """A new, empty database; returns its URL and a callable that drops it."""
    if backend == "sqlite":
        return make_url(f"sqlite:///{tmp_path / 'msp.db'}"), lambda: None
    admin = server_url(backend)
    name = f"msp_t_{secrets.token_hex(6)}"
    engine = _admin_engine(admin)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(
                    text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                )
    except Exception as exc:
        engine.dispose()
        message = f"{backend} test server at {admin.render_as_string(hide_password=True)} unusable: {exc}"
        if _require_servers():
            pytest.fail(message)
        pytest.skip(message)

    def drop() -> None:
        # A throwaway database that cannot be dropped (a server process still attached to it)
        # is left behind rather than failing the test that used it.
        statement = (
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            if backend == "postgresql"
            else f"DROP DATABASE IF EXISTS `{name}`"
        )
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        except Exception as exc:
            warnings.warn(f"could not drop test database {name}: {exc}", stacklevel=1)
        finally:
            engine.dispose()

    return admin.set(database=name), drop


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[URL]:
    """A URL to an empty database on the parametrised backend."""
    url, drop = create_scratch_database(backend, tmp_path)
    try:
        yield url
    finally:
        drop()  # type: ignore[operator]


@pytest.fixture(scope="module", params=BACKENDS)
def migrated_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A database at head, shared by the tests of one module (they must not depend on each
    other's rows: every test creates what it reads)."""
    backend = str(request.param)
    url, drop = create_scratch_database(backend, tmp_path_factory.mktemp(backend))
    db = Database(url)
    try:
        schema.upgrade(db)
        yield db
    finally:
        db.dispose()
        drop()  # type: ignore[operator]


@pytest.fixture
def msp_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a real ``msp`` subprocess with its own MSP_HOME and nothing inherited
    from the developer's own MSP_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_") or k.startswith("MSP_TEST_")}
    env["MSP_HOME"] = str(tmp_path / "home")
    return env


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database, for what only SQLite has (pragmas, the single writer)."""
    db = Database(make_url(f"sqlite:///{tmp_path / 'msp.db'}"))
    try:
        schema.upgrade(db)
        yield db
    finally:
        db.dispose()
