"""Schemas generated from a table: the columns' types, lengths, CHECK vocabularies and ranges
become pydantic constraints, so a bad value is a 422 naming the field before any SQL runs."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, create_model
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Uuid,
)

from mspmode.db.base import JSONArray, JSONObject, UTCDateTime
from mspmode.services.crud import ResourceSpec

# Integers are bounded so a huge number is a 422, not a database overflow (500).
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# Numbers bounded by what they measure, read from the column's last word where its CHECK
# gives no range, so a new column of the same kind is bounded too: no duration, size, count,
# amount, rate or score is negative, and a port is 1-65535. (low, high); None keeps the
# type's own bound.
QUANTITIES: tuple[tuple[re.Pattern[str], int, int | None], ...] = (
    (re.compile(r"(?:^|_)(?:minutes|hours|seconds|ms|bytes|count|tokens|rate|affected|score)$"), 0, None),
    (re.compile(r"^port$"), 1, 65535),
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadBase(BaseModel):
    model_config = ConfigDict(from_attributes=True)


@dataclass(frozen=True)
class Schemas:
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    page: type[BaseModel]


def _storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate (valid in JSON's \uXXXX escapes)
    # cannot be encoded by any driver: refuse both here as a 422, not later as a 500.
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


StorableText = Annotated[str, AfterValidator(_storable_text)]


def _storable_json(value: Any) -> Any:
    # Python's json reads 1e400 as inf, which no backend's JSON holds; strings inside follow
    # the text rule. Walked with a stack: a deep document is no recursion error.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (no NaN, Infinity or overflow such as 1e400)")
        if isinstance(item, str):
            _storable_text(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


StorableJson = Annotated[list[Any] | dict[str, Any], AfterValidator(_storable_json)]
StorableObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
StorableArray = Annotated[list[Any], AfterValidator(_storable_json)]
# MariaDB's FLOAT is single precision: a larger magnitude is refused there (out of range).
FLOAT_MAX = 3.4e38


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def _checks(table: Table) -> dict[str, dict[str, Any]]:
    return {
        c.info["column"]: c.info
        for c in table.constraints
        if isinstance(c, CheckConstraint) and "column" in c.info
    }


def python_type(table: Table, column: Column[Any], *, for_input: bool) -> Any:
    """The pydantic type of a column's value (without None)."""
    info = _checks(table).get(column.name, {})
    if "values" in info:
        return Literal[tuple(info["values"])]  # type: ignore[valid-type]
    ctype = column.type
    if isinstance(ctype, UTCDateTime):
        return AwareDatetime if for_input else datetime
    if isinstance(ctype, Uuid):
        return uuid.UUID
    if isinstance(ctype, Boolean):
        return bool
    if isinstance(ctype, (Integer, BigInteger)):
        if not for_input:
            return int
        width = INT64 if isinstance(ctype, BigInteger) else INT32
        low, high = info.get("range") or _quantity(column.name, width)
        return Annotated[int, Field(ge=low, le=high)]
    if isinstance(ctype, Float):
        if not for_input:
            return float
        # NaN, the infinities and what MariaDB's FLOAT cannot hold: a 422, never a 500.
        low, high = _quantity(column.name, (-FLOAT_MAX, FLOAT_MAX))
        return Annotated[float, Field(ge=low, le=high, allow_inf_nan=False)]
    if isinstance(ctype, Numeric):
        if not for_input:
            return Decimal
        digits = ctype.precision or 18
        places = ctype.scale or 0
        low, high = _quantity(column.name, (None, None))
        return Annotated[Decimal, Field(max_digits=digits, decimal_places=places, ge=low, le=high)]
    if isinstance(ctype, JSONObject):
        return StorableObject if for_input else dict[str, Any]
    if isinstance(ctype, JSONArray):
        return StorableArray if for_input else list[Any]
    if isinstance(ctype, JSON):
        return StorableJson if for_input else list[Any] | dict[str, Any]
    if isinstance(ctype, String):
        if not for_input:
            return str
        return Annotated[StorableText, Field(max_length=ctype.length)] if ctype.length else StorableText
    return str


def _quantity(name: str, bounds: tuple[float | None, float | None]) -> tuple[float | None, float | None]:
    low, high = bounds
    for pattern, at_least, at_most in QUANTITIES:
        if pattern.search(name):
            return at_least, at_most if at_most is not None else high
    return low, high


def build(spec: ResourceSpec) -> Schemas:
    table = spec.table
    base = camel(table.name)
    create_fields: dict[str, Any] = {}
    update_fields: dict[str, Any] = {}
    for name in spec.writable_fields:
        column = table.c[name]
        typ = python_type(table, column, for_input=True)
        required = not column.nullable and column.default is None and column.server_default is None
        if required:
            create_fields[name] = (typ, ...)
        else:
            create_fields[name] = (
                typ | None if column.nullable else typ,
                None if column.nullable else _default(column),
            )
        update_fields[name] = (typ | None if column.nullable else typ, None)
    read_fields: dict[str, Any] = {}
    for name in spec.readable_fields:
        typ = python_type(table, table.c[name], for_input=False)
        read_fields[name] = (typ | None if table.c[name].nullable else typ, ...)
    if any(c.name.endswith("_encrypted") for c in table.columns):
        # Which secrets are stored, never what they are (models.HasSecrets).
        read_fields["secret_fields_set"] = (list[str], ...)
    create = create_model(f"{base}Create", __base__=Strict, **create_fields)
    update = create_model(f"{base}Update", __base__=Strict, **update_fields)
    read = create_model(f"{base}Read", __base__=ReadBase, **read_fields)
    page = create_model(
        f"{base}Page",
        __base__=BaseModel,
        items=(list[read], ...),  # type: ignore[valid-type]
        total=(int, ...),
        limit=(int, ...),
        offset=(int, ...),
        next=(str | None, None),
    )
    return Schemas(create=create, update=update, read=read, page=page)


def _default(column: Column[Any]) -> Any:
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return default.arg  # type: ignore[attr-defined]
    return None
