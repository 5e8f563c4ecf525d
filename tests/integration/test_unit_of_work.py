"""The unit of work on every backend: commit or nothing, refused writes as domain errors that
never echo the row's values, server-side UTC defaults, and SQLite's single serialized writer."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from mspmode.db.session import Database
from mspmode.errors import ConflictError, ValidationError
from mspmode.models.core import Client, User
from mspmode.settings import DEFAULT_BUSY_TIMEOUT_MS


def _client_count(db: Database, name: str) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Client).where(Client.name == name)) or 0)


def test_write_commits_when_the_block_ends(migrated_db: Database) -> None:
    name = f"Commit {uuid.uuid4()}"
    with migrated_db.write() as s:
        s.add(Client(name=name))
    assert _client_count(migrated_db, name) == 1


def test_write_rolls_back_everything_when_the_block_raises(migrated_db: Database) -> None:
    name = f"Rollback {uuid.uuid4()}"
    with pytest.raises(RuntimeError), migrated_db.write() as s:
        s.add(Client(name=name))
        s.flush()
        raise RuntimeError("boom")
    assert _client_count(migrated_db, name) == 0


def test_a_value_outside_a_vocabulary_is_a_validation_error(migrated_db: Database) -> None:
    with pytest.raises(ValidationError, match="ck_clients_client_type"), migrated_db.write() as s:
        s.add(Client(name=f"Bad type {uuid.uuid4()}", client_type="not_a_type"))


def test_a_duplicate_is_a_conflict_that_does_not_echo_the_value(migrated_db: Database) -> None:
    username = f"hunter2-{uuid.uuid4().hex}"
    with migrated_db.write() as s:
        s.add(User(username=username, password_hash="x", role="readonly"))
    with pytest.raises(ConflictError) as caught, migrated_db.write() as s:
        s.add(User(username=username, password_hash="y", role="readonly"))
    assert "username" in str(caught.value)
    assert username not in str(caught.value)


def test_rows_written_with_raw_sql_get_utc_timestamps(migrated_db: Database) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    new_id = uuid.uuid4()
    with migrated_db.write() as s:
        # Raw SQL as the hooks write it: no timestamps given, the server default fills them.
        id_value = new_id if migrated_db.dialect == "postgresql" else new_id.hex
        s.execute(
            text("INSERT INTO tags (id, name) VALUES (:id, :name)"), {"id": id_value, "name": f"t-{new_id}"}
        )
    from mspmode.models.core import Tag

    with migrated_db.read() as s:
        created = s.scalar(select(Tag.created_at).where(Tag.id == new_id))
    assert created is not None and created.tzinfo is not None
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=5), created


def test_naive_datetimes_are_refused(migrated_db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), migrated_db.write() as s:
        s.add(User(username=f"n-{uuid.uuid4()}", password_hash="x", locked_until=datetime(2026, 1, 1)))


def test_sqlite_writers_queue_instead_of_failing(sqlite_db: Database) -> None:
    migrated_db = sqlite_db
    prefix = f"Concurrent {uuid.uuid4()}"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with migrated_db.write() as s:
                    s.add(Client(name=f"{prefix} {n}-{i}"))
                    s.flush()
                    s.execute(select(func.count()).select_from(Client))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with migrated_db.read() as s:
        count = s.scalar(select(func.count()).select_from(Client).where(Client.name.like(f"{prefix}%")))
    assert count == 6 * 15


def test_sqlite_pragmas_are_set(sqlite_db: Database) -> None:
    with sqlite_db.reader.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == DEFAULT_BUSY_TIMEOUT_MS
