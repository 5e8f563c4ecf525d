"""Plain factory functions that build a valid row of any table from its metadata.

Every column is filled (nullable ones too, so a round trip covers every type on every
backend); a CHECK vocabulary supplies its first value, a range its low end, and each foreign
key gets a freshly built parent of its own, so deleting that parent touches only this row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    inspect,
)
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

import mspmode.models  # noqa: F401  (registers every table)
from mspmode.db.base import Base, JSONObject, UTCDateTime

_serial = count(1)
FIXED_TIME = datetime(2026, 1, 15, 12, 30, 45, 123456, tzinfo=UTC)


def serial() -> int:
    """A number no other row of this process is built with: values made from it (``value_for``)
    cannot meet a unique column's value of a row built before."""
    return next(_serial)


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def vocabularies(t: Table) -> dict[str, dict[str, Any]]:
    """column name -> the CHECK constraint's info ({"values": …} or {"range": …})."""
    return {
        c.info["column"]: c.info
        for c in t.constraints
        if isinstance(c, CheckConstraint) and "column" in c.info
    }


def value_for(t: Table, column: Column[Any], n: int) -> Any:
    vocab = vocabularies(t).get(column.name)
    if vocab and "values" in vocab:
        return vocab["values"][0]
    if vocab and "range" in vocab:
        return vocab["range"][0]
    ctype = column.type
    if isinstance(ctype, UTCDateTime):
        return FIXED_TIME
    if isinstance(ctype, Uuid):
        return uuid.uuid4()
    if isinstance(ctype, Boolean):
        return True
    if isinstance(ctype, BigInteger):
        return 10**12 + n  # clear of small counters such as audit sequences
    if isinstance(ctype, Integer):
        return n % 1000 + 1
    if isinstance(ctype, Numeric) and not isinstance(ctype, Float):
        return Decimal("1.50")
    if isinstance(ctype, Float):
        return 0.5
    if isinstance(ctype, LargeBinary):
        return b"\x00\x01ciphertext\xff"
    if isinstance(ctype, JSONObject):
        return {"alpha": [n], "n": n}
    if isinstance(ctype, JSON):
        return ["alpha", {"n": n}]
    if isinstance(ctype, Text):
        return f"text of {t.name}.{column.name} #{n}"
    if isinstance(ctype, String):
        length = ctype.length or 255
        return f"{column.name[:8]}{n}"[:length]
    raise AssertionError(f"no test value for {t.name}.{column.name} of type {ctype!r}")


def build_row(
    conn: Connection,
    name: str,
    _building: frozenset[str] = frozenset(),
    *,
    as_stored: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Insert one valid row of table ``name`` (and any parents it needs); return its values.
    ``as_stored``: only the columns the live table has (a database at an older revision)."""
    t = table(name)
    n = serial()
    values: dict[str, Any] = {}
    stored = {c["name"] for c in inspect(conn).get_columns(name)} if as_stored else None
    for column in t.columns:
        if stored is not None and column.name not in stored:
            continue
        if column.name in overrides:
            values[column.name] = overrides[column.name]
            continue
        fks = list(column.foreign_keys)
        if fks:
            parent = fks[0].column.table.name
            if parent == name or parent in _building:
                # A self-reference or a cycle: leave it empty (such columns are nullable).
                assert column.nullable, f"{name}.{column.name} closes a cycle but is NOT NULL"
                values[column.name] = None
                continue
            parent_row = build_row(conn, parent, _building | {name}, as_stored=as_stored)
            values[column.name] = parent_row[fks[0].column.name]
            continue
        if column.name in ("created_at", "updated_at"):
            values[column.name] = FIXED_TIME
            continue
        values[column.name] = value_for(t, column, n)
    # An older table gets exactly these columns, without the models' defaults for newer ones.
    target = t if stored is None else sa_table(name, *(sa_column(c, t.c[c].type) for c in values))
    conn.execute(target.insert().values(**values))
    return values
