"""Generic persistence for any model: get, list (filter, sort, page), create, update, delete.

Services call it inside their unit of work; it never commits. Field names coming from a
caller (filters, sort keys, values) are checked against the model's columns, so a typo is a
ValidationError naming the field, never SQL and never a silent no-op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, inspect, select
from sqlalchemy.orm import Session

from mspmode.db.base import Base
from mspmode.errors import NotFoundError, ValidationError

M = TypeVar("M", bound=Base)

MAX_LIMIT = 500


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of a list: the rows, how many match in all, and where the page starts."""

    items: list[M]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        nxt = self.offset + len(self.items)
        return nxt if nxt < self.total and self.items else None


class Repository(Generic[M]):
    def __init__(self, model: type[M]) -> None:
        self.model = model
        mapper = inspect(model)
        self.columns = {c.key: c for c in mapper.columns}
        self.key_columns = [getattr(model, str(c.key)) for c in mapper.primary_key]
        self.label = model.__tablename__

    def key_condition(self, ident: Any) -> list[ColumnElement[bool]]:
        """``ident`` is the primary key: one value, or a tuple for a composite key."""
        values = ident if isinstance(ident, tuple) else (ident,)
        if len(values) != len(self.key_columns):
            raise ValidationError(f"{self.label} is keyed by {len(self.key_columns)} value(s)")
        return [col == value for col, value in zip(self.key_columns, values, strict=True)]

    def _column(self, name: str, purpose: str) -> Any:
        try:
            return getattr(self.model, name) if name in self.columns else self._unknown(name, purpose)
        except AttributeError:
            return self._unknown(name, purpose)

    def _unknown(self, name: str, purpose: str) -> Any:
        raise ValidationError(f"{self.label} has no field {name!r} to {purpose}")

    def get(self, session: Session, id: Any, *, where: Sequence[ColumnElement[bool]] = ()) -> M:
        """The row with this key, or NotFoundError (also when ``where`` hides it)."""
        stmt = select(self.model).where(*self.key_condition(id), *where)
        row = session.scalars(stmt).one_or_none()
        if row is None:
            shown = "/".join(str(v) for v in id) if isinstance(id, tuple) else id
            raise NotFoundError(f"no {self.label} with id {shown}")
        return row

    def list(
        self,
        session: Session,
        *,
        filters: Mapping[str, Any] | None = None,
        sort: Sequence[str] = (),
        limit: int = 50,
        offset: int = 0,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Page[M]:
        """Rows matching ``filters`` (equality; a list means any of; None means IS NULL) and
        ``where``, ordered by ``sort`` keys ("name", "-created_at") then id, one page."""
        if limit < 1 or limit > MAX_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        if offset < 0:
            raise ValidationError(f"offset must not be negative, got {offset}")
        conditions = list(where)
        for name, value in (filters or {}).items():
            column = self._column(name, "filter on")
            if value is None:
                conditions.append(column.is_(None))
            elif isinstance(value, (list, tuple, set, frozenset)):
                conditions.append(column.in_(list(value)))
            else:
                conditions.append(column == value)
        order = []
        for key in sort:
            column = self._column(key.lstrip("-"), "sort by")
            order.append(column.desc() if key.startswith("-") else column.asc())
        # The key breaks ties so pages never repeat or skip a row between requests.
        order.extend(col.asc() for col in self.key_columns)
        total = session.scalar(select(func.count()).select_from(self.model).where(*conditions)) or 0
        stmt = select(self.model).where(*conditions).order_by(*order).limit(limit).offset(offset)
        return Page(items=list(session.scalars(stmt)), total=int(total), limit=limit, offset=offset)

    def create(self, session: Session, values: Mapping[str, Any]) -> M:
        self._check_fields(values, "set")
        row = self.model(**values)
        session.add(row)
        session.flush()
        # Load what the database filled in (columns left unset, server defaults), so the row
        # is complete after the unit of work closes.
        session.refresh(row)
        return row

    def update(
        self,
        session: Session,
        id: Any,
        values: Mapping[str, Any],
        *,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> M:
        self._check_fields(values, "set")
        if "id" in values:
            raise ValidationError(f"the id of a {self.label} cannot be changed")
        row = self.get(session, id, where=where)
        for name, value in values.items():
            setattr(row, name, value)
        session.flush()
        return row

    def delete(self, session: Session, id: Any, *, where: Sequence[ColumnElement[bool]] = ()) -> None:
        session.delete(self.get(session, id, where=where))
        session.flush()

    def _check_fields(self, values: Mapping[str, Any], purpose: str) -> None:
        for name in values:
            if name not in self.columns:
                self._unknown(name, purpose)
