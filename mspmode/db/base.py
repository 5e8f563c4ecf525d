"""The declarative base every model shares, and the column vocabulary they are written in.

One place decides how a UUID key, a UTC timestamp, a JSON list, a boolean flag, a foreign key
and a CHECK vocabulary look on SQLite, PostgreSQL and MariaDB, so the model modules read like
the seeds' schema and the three backends get the same tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    MetaData,
    Uuid,
    false,
    true,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator

# Constraint and index names come from here, never from a model: Alembic needs stable names to
# drop or alter a constraint later, and MariaDB and PostgreSQL cap identifiers at 64/63 bytes
# (SQLAlchemy shortens a longer generated name with a hash, the same way every time).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime: the only clock models use."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and always read back timezone-aware.

    PostgreSQL keeps it as ``timestamptz``; SQLite and MariaDB have no zone-aware type, so the
    value is normalised to UTC and stored naive (MariaDB with microseconds: its plain DATETIME
    would drop them and reorder events recorded within the same second). A naive datetime is
    refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given: timestamps must carry a timezone")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class now_utc(FunctionElement[datetime]):
    """Server-side default for timestamps, so rows written with raw SQL (the hooks' sqlite3
    path, a DBA's INSERT) still get one, in UTC on every backend."""

    type = DateTime()
    inherit_cache = True


@compiles(now_utc, "sqlite")
def _now_utc_sqlite(element: now_utc, compiler: Any, **kw: Any) -> str:
    # Microseconds, and the same text shape SQLAlchemy writes, so ORDER BY stays chronological.
    return "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


@compiles(now_utc, "postgresql")
def _now_utc_pg(element: now_utc, compiler: Any, **kw: Any) -> str:
    return "now()"


@compiles(now_utc, "mysql")
@compiles(now_utc, "mariadb")
def _now_utc_mysql(element: now_utc, compiler: Any, **kw: Any) -> str:
    # The connection's time_zone is pinned to +00:00 (db/engine.py), so this is UTC.
    return "CURRENT_TIMESTAMP(6)"


class JSONObject(JSON):
    """A JSON column that holds an object: the API refuses a list or a scalar for it, so code
    reading ``traits.get(...)`` never meets another shape (the DDL is plain JSON)."""

    cache_ok = True


class JSONArray(JSON):
    """A JSON column that holds a list (tags, steps, scopes)."""

    cache_ok = True


# Column info: a value no person or agent wrote — a hash, a MAC, an HMAC'd key, a key prefix, a
# regex built from text redacted already — stored exactly as computed, never redacted by the
# write path (``db/redaction.py``), which redacts every other text and JSON column.
VERBATIM: dict[str, Any] = {"verbatim": True}
# Table info: rows signed by their writer (the audit log), who redacts them before signing
# (``redaction.redact_object``): redacting after would break the signature.
SIGNED: dict[str, Any] = {"signed": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONObject(),
        list[Any]: JSONArray(),
        list[str]: JSONArray(),
    }

    def __repr__(self) -> str:
        key = getattr(self, "id", None)
        return f"<{type(self).__name__} {key}>"


class UUIDPrimaryKey:
    """A random UUID key, generated by the application so it is known before the INSERT."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4, sort_order=-100)


class CreatedAt:
    """For append-only records (logs, audit rows): when it was written, never updated."""

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=now_utc(), nullable=False, sort_order=100
    )


class Timestamps(CreatedAt):
    """For records that are edited: when created and when last changed."""

    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=utcnow,
        onupdate=utcnow,
        server_default=now_utc(),
        nullable=False,
        sort_order=101,
    )


def fk(
    target: str,
    *,
    ondelete: str | None,
    nullable: bool = True,
    index: bool = True,
    **kw: Any,
) -> Any:
    """A UUID foreign key to ``target`` ("table.column").

    ``ondelete`` must be chosen every time (CASCADE, SET NULL, RESTRICT or None for the
    backend default): what happens to a child row when its parent goes is a domain decision,
    and the seeds spell it out per column.
    """
    return mapped_column(Uuid(), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index, **kw)


def flag(default: bool, **kw: Any) -> Any:
    """A NOT NULL boolean with the same default in Python and in the database."""
    return mapped_column(
        Boolean(), default=default, server_default=true() if default else false(), nullable=False, **kw
    )


def one_of(column: str, values: Iterable[str], *, nullable: bool = True) -> CheckConstraint:
    """A CHECK vocabulary for ``column``, named ``ck_<table>_<column>`` by the convention.

    Every backend enforces it (MariaDB since 10.2), so a value outside the vocabulary is
    rejected by the database even when it comes from raw SQL.
    """
    values = tuple(values)
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    expr = f"{column} IN ({quoted})"
    if nullable:
        expr = f"{column} IS NULL OR {expr}"
    # info lets schemas and tests read the vocabulary back without parsing SQL.
    return CheckConstraint(expr, name=column, info={"column": column, "values": values})


def between(column: str, low: int, high: int, *, nullable: bool = True) -> CheckConstraint:
    """A CHECK range for an integer ``column`` (inclusive)."""
    expr = f"{column} BETWEEN {low} AND {high}"
    if nullable:
        expr = f"{column} IS NULL OR {expr}"
    return CheckConstraint(expr, name=column, info={"column": column, "range": (low, high)})


class HasSecrets:
    """For models with vault-encrypted ``<field>_encrypted`` columns: which are set, without
    touching their content."""

    @property
    def secret_fields_set(self) -> list[str]:
        table = self.__table__  # type: ignore[attr-defined]
        return [
            c.key.removesuffix("_encrypted")
            for c in table.columns
            if c.key.endswith("_encrypted") and getattr(self, c.key) is not None
        ]
