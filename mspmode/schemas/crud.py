"""Schemas generated from a table: the columns' types, lengths, CHECK vocabularies and ranges
become pydantic constraints, so a bad value is a 422 naming the field before any SQL runs."""

from __future__ import annotations

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
        low, high = info.get("range", INT64 if isinstance(ctype, BigInteger) else INT32)
        return Annotated[int, Field(ge=low, le=high)] if for_input else int
    if isinstance(ctype, Float):
        return float
    if isinstance(ctype, Numeric):
        digits = ctype.precision or 18
        places = ctype.scale or 0
        return Annotated[Decimal, Field(max_digits=digits, decimal_places=places)] if for_input else Decimal
    if isinstance(ctype, JSONObject):
        return dict[str, Any]
    if isinstance(ctype, JSONArray):
        return list[Any]
    if isinstance(ctype, JSON):
        return list[Any] | dict[str, Any]
    if isinstance(ctype, String):
        if not for_input:
            return str
        return Annotated[StorableText, Field(max_length=ctype.length)] if ctype.length else StorableText
    return str


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
