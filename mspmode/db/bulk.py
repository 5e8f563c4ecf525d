"""Insert or update many rows at once, as fast as each backend allows.

SQLAlchemy's executemany builds a parameter dictionary per row through its compiler, which
costs more than SQLite's own insert of the row. On SQLite the values are converted by each
column's own bind processor (the same conversion SQLAlchemy applies, so what is stored is
identical) and sent as **multi-row statements**: ``INSERT … VALUES (…), (…), …`` with as many
rows as SQLite's limit on parameters allows (about 1,500 rows of 22 columns), and ``UPDATE …
FROM (VALUES …)``. One statement per chunk matters more than it seems: the sqlite3 driver
releases the interpreter lock around each step, and with executemany every row is a step —
when another thread is busy in Python, each row then waits for the lock (the "convoy"), and a
batch that takes 50 ms alone takes minutes. One step runs start to finish in C, beside the
other thread. (An earlier version sent the rows as one JSON array read by ``json_each``: the
same single step, but SQLite parses the array element again for every column, and the insert
cost twice as much.) PostgreSQL and MariaDB use Core's executemany, which already batches the
rows into multi-row statements and waits on the network anyway.

Call these inside the caller's transaction, on a connection nothing else is using meanwhile
(they may run on another thread than the one that opened the transaction: the sqlite3
connections are opened with ``check_same_thread=False``). ``None`` is stored as SQL NULL. Text
and JSON columns are redacted on the way in, as every write is (``db/redaction.py``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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

from mspmode.db import redaction
from mspmode.db.base import UTCDateTime


def _utc_text(value: datetime) -> str:
    """What SQLAlchemy stores for a ``UTCDateTime`` on SQLite (the zone made UTC, dropped, and
    SQLite's DATETIME text shape), without its two layers of processors."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given: timestamps must carry a timezone")
    if value.tzinfo is not UTC and value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # the offset (+00:00) cut off


def _uuid_hex(value: uuid.UUID) -> str:
    return value.hex


_BOOLEAN_INTEGERS = {True: 1, False: 0}


def _boolean_int(value: Any) -> int:
    """What SQLAlchemy stores for a ``Boolean`` on SQLite: 1 or 0 for True or False (or 1 or
    0), any other value refused as SQLAlchemy refuses it."""
    try:
        return _BOOLEAN_INTEGERS[value]
    except (KeyError, TypeError):
        raise ValueError(f"Value {value!r} is not None, True, or False") from None


def sqlite_processor(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The bind processor SQLAlchemy applies to ``column_type`` on SQLite: the common types by a
    direct function (same result, a tenth of the calls; a test compares them), the rest by
    SQLAlchemy's own."""
    if isinstance(column_type, UTCDateTime):
        return _utc_text
    if isinstance(column_type, Uuid) and column_type.as_uuid:
        return _uuid_hex
    if type(column_type) is Boolean:
        return _boolean_int
    if type(column_type) in (String, Text, Integer, BigInteger):
        return None
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _redacted(clean: Callable[[Any], Any], then: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    if then is None:
        return clean
    return lambda value: then(clean(value))


def _converter(
    conn: Connection, table: Table, names: Sequence[str]
) -> Callable[[Mapping[str, Any]], list[Any]]:
    # dialect_impl: the backend's own type (SQLite's DATETIME text format), as SQLAlchemy uses it.
    processors = [sqlite_processor(table.c[n].type, conn.dialect) for n in names]
    # These statements bypass SQLAlchemy's events: the write path's redaction is applied here
    # (before a JSON value is serialised, so its keys are seen).
    texts = redaction.text_columns(table)
    processors = [
        _redacted(redaction.column_cleaner(conn, texts[n]), p) if n in texts else p
        for n, p in zip(names, processors, strict=True)
    ]
    # The ids apart: the commonest conversion, made without a call.
    ids = [i for i, p in enumerate(processors) if p is _uuid_hex]
    converters = [(i, p) for i, p in enumerate(processors) if p is not None and p is not _uuid_hex]
    take = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))

    def params(row: Mapping[str, Any]) -> list[Any]:
        values = list(take(row))
        for i in ids:
            value = values[i]
            if value is not None:
                values[i] = value.hex
        for i, proc in converters:
            value = values[i]
            if value is not None:
                values[i] = proc(value)
        return values

    return params


# SQLite's default limit on the parameters of one statement since 3.32 (999 before); the
# connection's own limit is asked when the driver can tell it (Python 3.11+).
_MAX_PARAMETERS = 32_766


def _parameter_limit(driver: sqlite3.Connection) -> int:
    getlimit = getattr(driver, "getlimit", None)
    if getlimit is None:
        return 999 if sqlite3.sqlite_version_info < (3, 32, 0) else _MAX_PARAMETERS
    return min(int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)), _MAX_PARAMETERS)


def _run(
    conn: Connection, rows: list[list[Any]], statement: Callable[[int], str], *, per_row: bool = False
) -> None:
    """Execute ``statement(n)`` (a statement of ``n`` rows of placeholders) over ``rows``, as
    few times as the parameter limit allows (``per_row``: a one-row statement, executemany)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    width = len(rows[0])
    per = max(1, _parameter_limit(driver) // width)
    cursor = driver.cursor()
    try:
        if per_row:
            cursor.executemany(statement(1), rows)
            return
        for i in range(0, len(rows), per):
            chunk = rows[i : i + per]
            cursor.execute(statement(len(chunk)), [value for row in chunk for value in row])
    finally:
        cursor.close()


def _placeholders(width: int, count: int) -> str:
    one = f"({', '.join('?' * width)})"
    return ", ".join([one] * count)


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dictionaries with the same keys) into ``table``."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    params = _converter(conn, table, names)
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
    _run(conn, [params(row) for row in rows], lambda n: head + _placeholders(len(names), n))


def update_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str = "id") -> None:
    """Update rows of ``table`` by ``key``: each dictionary holds the key and the new values
    (the same columns in every one). A key given twice takes the values given last."""
    if not rows:
        return
    names = [n for n in rows[0] if n != key]
    if len({row[key] for row in rows}) < len(rows):
        rows = list({row[key]: row for row in rows}.values())  # one update a row: the last given
    if conn.dialect.name != "sqlite":
        stmt = (
            update(table)
            .where(table.c[key] == bindparam(f"b_{key}"))
            .values({n: bindparam(f"b_{n}") for n in names})
        )
        conn.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])
        return
    if sqlite3.sqlite_version_info < (3, 33, 0):  # before UPDATE … FROM: row by row
        params = _converter(conn, table, [*names, key])
        sql = f"UPDATE {table.name} SET {', '.join(f'{n} = ?' for n in names)} WHERE {key} = ?"
        _run(conn, [params(row) for row in rows], lambda n: sql, per_row=True)
        return
    params = _converter(conn, table, [key, *names])
    # The VALUES rows' columns are column1, column2, …: the key first, then the new values.
    sets = ", ".join(f"{n} = v.column{i}" for i, n in enumerate(names, 2))
    head = f"UPDATE {table.name} SET {sets} FROM (VALUES "
    tail = f") AS v WHERE {table.name}.{key} = v.column1"
    _run(conn, [params(row) for row in rows], lambda n: head + _placeholders(len(names) + 1, n) + tail)


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


_VERSION_7 = (0x7 << 76) | (0b10 << 62)  # RFC 9562: the version and variant bits
_RANDOM_A = ((1 << 12) - 1) << 64
_RANDOM_B = (1 << 62) - 1


def time_ordered_ids(batch: int = 4_096) -> Iterator[uuid.UUID]:
    """Version 7 UUIDs (RFC 9562: the Unix time in milliseconds, then 74 random bits), with
    one call for random bytes a batch. Rows written together get neighbouring keys, so a bulk
    insert appends to the primary key's B-tree instead of splitting pages all over it. (One
    call a batch matters beside a bulk insert's thread too: ``os.urandom`` lets go of the
    interpreter lock, and getting it back can take the other thread's whole switch interval.)"""
    new, set_attribute, safe = object.__new__, object.__setattr__, uuid.SafeUUID.unknown
    while True:
        pool = os.urandom(16 * batch)
        for i in range(0, len(pool), 16):
            bits = int.from_bytes(pool[i : i + 16], "big")
            value = (time.time_ns() // 1_000_000) << 80 | _VERSION_7 | bits & _RANDOM_A | bits & _RANDOM_B
            # What uuid.UUID(int=value) makes, without the argument checks of its __init__.
            made = new(uuid.UUID)
            set_attribute(made, "int", value)
            set_attribute(made, "is_safe", safe)
            yield made
