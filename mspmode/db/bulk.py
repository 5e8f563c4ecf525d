"""Insert or update many rows at once, as fast as each backend allows.

SQLAlchemy's executemany builds a parameter dictionary per row through its compiler, which
costs more than SQLite's own insert of the row. On SQLite the values are converted by each
column's own bind processor (the same conversion SQLAlchemy applies, so what is stored is
identical) and the whole batch goes to SQLite as one JSON array in **one statement**
(``INSERT … SELECT value ->> 0, … FROM json_each(?)``). One statement matters more than it
seems: the sqlite3 driver releases the interpreter lock around each step, and with
executemany every row is a step — when another thread is busy in Python, each row then waits
for the lock (the "convoy"), and a batch that takes 50 ms alone takes minutes. One step runs
start to finish in C, beside the other thread. PostgreSQL and MariaDB use Core's executemany,
which already batches the rows into multi-row statements and waits on the network anyway.

Call these inside the caller's transaction, on a connection nothing else is using meanwhile
(they may run on another thread than the one that opened the transaction: the sqlite3
connections are opened with ``check_same_thread=False``). ``None`` is stored as SQL NULL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Dialect,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    insert,
    update,
)
from sqlalchemy.types import TypeEngine

from mspmode.db.base import UTCDateTime

# ``value ->> n`` appeared in SQLite 3.38; before it, rows go one by one.
_JSON_ARROWS = sqlite3.sqlite_version_info >= (3, 38, 0)


def _utc_text(value: datetime) -> str:
    """What SQLAlchemy stores for a ``UTCDateTime`` on SQLite (the zone made UTC, dropped, and
    SQLite's DATETIME text shape), without its two layers of processors."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given: timestamps must carry a timezone")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _uuid_hex(value: uuid.UUID) -> str:
    return value.hex


def sqlite_processor(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The bind processor SQLAlchemy applies to ``column_type`` on SQLite: the common types by a
    direct function (same result, a tenth of the calls; a test compares them), the rest by
    SQLAlchemy's own."""
    if isinstance(column_type, UTCDateTime):
        return _utc_text
    if isinstance(column_type, Uuid) and column_type.as_uuid:
        return _uuid_hex
    if type(column_type) in (String, Text, Integer, BigInteger):
        return None
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _converter(
    conn: Connection, table: Table, names: Sequence[str]
) -> Callable[[Mapping[str, Any]], list[Any]]:
    # dialect_impl: the backend's own type (SQLite's DATETIME text format), as SQLAlchemy uses it.
    processors = [sqlite_processor(table.c[n].type, conn.dialect) for n in names]
    converters = [(i, p) for i, p in enumerate(processors) if p is not None]

    def params(row: Mapping[str, Any]) -> list[Any]:
        values = [row[n] for n in names]
        for i, proc in converters:
            if values[i] is not None:
                values[i] = proc(values[i])
        return values

    return params


def _run(conn: Connection, sql: str, rows: list[list[Any]], batch_sql: str) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        if _JSON_ARROWS:
            cursor.execute(batch_sql, (json.dumps(rows, ensure_ascii=False),))
        else:
            cursor.executemany(sql, rows)
    finally:
        cursor.close()


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dictionaries with the same keys) into ``table``."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    params = _converter(conn, table, names)
    columns = ", ".join(names)
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join('?' for _ in names)})"
    picks = ", ".join(f"value ->> {i}" for i in range(len(names)))
    batch_sql = f"INSERT INTO {table.name} ({columns}) SELECT {picks} FROM json_each(?)"
    _run(conn, sql, [params(row) for row in rows], batch_sql)


def update_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str = "id") -> None:
    """Update rows of ``table`` by ``key``: each dictionary holds the key and the new values
    (the same columns in every one)."""
    if not rows:
        return
    names = [n for n in rows[0] if n != key]
    if conn.dialect.name != "sqlite":
        stmt = (
            update(table)
            .where(table.c[key] == bindparam(f"b_{key}"))
            .values({n: bindparam(f"b_{n}") for n in names})
        )
        conn.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])
        return
    order = [*names, key]
    params = _converter(conn, table, order)
    sql = f"UPDATE {table.name} SET {', '.join(f'{n} = ?' for n in names)} WHERE {key} = ?"
    sets = ", ".join(f"{n} = j.value ->> {i}" for i, n in enumerate(names))
    batch_sql = (
        f"UPDATE {table.name} SET {sets} FROM json_each(?) AS j "
        f"WHERE {table.name}.{key} = j.value ->> {len(names)}"
    )
    _run(conn, sql, [params(row) for row in rows], batch_sql)


class Pipeline:
    """Runs one job at a time on a worker thread (or inline); ``wait`` re-raises its error.
    A bulk load hands each batch's inserts to it and goes on preparing the next batch: SQLite
    works outside the interpreter's lock, so the two share the cores."""

    def __init__(self, threaded: bool) -> None:
        self.threaded = threaded
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, job: Callable[[], None]) -> None:
        self.wait()
        if not self.threaded:
            job()
            return

        def run() -> None:
            try:
                job()
            except BaseException as exc:
                self._error = exc

        self._thread = threading.Thread(target=run, name="msp-bulk-insert", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def random_ids(batch: int = 4_096) -> Iterator[uuid.UUID]:
    """Version 4 UUIDs, like ``uuid.uuid4`` but with one call for random bytes a batch."""
    while True:
        pool = os.urandom(16 * batch)
        for i in range(0, len(pool), 16):
            yield uuid.UUID(bytes=pool[i : i + 16], version=4)
