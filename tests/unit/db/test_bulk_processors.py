"""``bulk.sqlite_processor`` stores exactly what SQLAlchemy's own bind processors store, for
every column type of the schema: the bulk insert and the ORM must never disagree on a value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, Boolean, Uuid
from sqlalchemy.dialects import sqlite

import mspmode.models  # noqa: F401  (registers every table)
from mspmode.db.base import Base, UTCDateTime
from mspmode.db.bulk import sqlite_processor

DIALECT = sqlite.dialect()
COLUMN_TYPES = {repr(c.type): c.type for t in Base.metadata.tables.values() for c in t.columns}  # one of each


def sqlalchemy_processor(column_type: Any) -> Any:
    return column_type.dialect_impl(DIALECT).bind_processor(DIALECT)


def stored(processor: Any, value: Any) -> Any:
    return value if processor is None else processor(value)


SAMPLES: dict[str, list[Any]] = {
    "String": ["", "plain", "ünïcode ✓", "x" * 300],
    "Text": ["", "line\nline", "ünïcode ✓"],
    "Integer": [0, -1, 2**31 - 1],
    "BigInteger": [0, 2**62],
    "Boolean": [True, False],
    "Float": [0.0, 1.5, -2.25],
    "Numeric": [1.25, 0, 99999999.99],
    "JSON": [{}, [], {"a": [1, "b", None]}, "text"],
    "LargeBinary": [b"", b"\x00\xff"],
    "Uuid": [uuid.UUID(int=0), uuid.uuid4()],
    "UTCDateTime": [datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)],
}


@pytest.mark.parametrize("name", sorted(COLUMN_TYPES))
def test_every_column_type_is_stored_as_sqlalchemy_stores_it(name: str) -> None:
    column_type = COLUMN_TYPES[name]
    samples = SAMPLES["JSON" if isinstance(column_type, JSON) else type(column_type).__name__]
    for value in samples:
        assert stored(sqlite_processor(column_type, DIALECT), value) == stored(
            sqlalchemy_processor(column_type), value
        ), (name, value)


zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9000, 1, 1), timezones=zones))
def test_aware_times_are_stored_as_sqlalchemy_stores_them(value: datetime) -> None:
    column_type = UTCDateTime()
    assert sqlite_processor(column_type, DIALECT)(value) == sqlalchemy_processor(column_type)(value)  # type: ignore[misc]


def test_a_naive_time_is_refused_as_the_orm_refuses_it() -> None:
    fast = sqlite_processor(UTCDateTime(), DIALECT)
    assert fast is not None
    with pytest.raises(ValueError, match="naive datetime"):
        fast(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        sqlalchemy_processor(UTCDateTime())(datetime(2026, 1, 1))


@given(st.uuids())
def test_uuids_are_stored_as_sqlalchemy_stores_them(value: uuid.UUID) -> None:
    assert sqlite_processor(Uuid(), DIALECT)(value) == sqlalchemy_processor(Uuid())(value)  # type: ignore[misc]


@given(st.one_of(st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3)))
def test_booleans_are_stored_and_refused_as_sqlalchemy_does(value: Any) -> None:
    fast, theirs = sqlite_processor(Boolean(), DIALECT), sqlalchemy_processor(Boolean())
    assert fast is not None
    try:
        expected = theirs(value)
    except (TypeError, ValueError):
        with pytest.raises(ValueError):
            fast(value)
        return
    assert fast(value) == expected and type(fast(value)) is type(expected)


def test_time_ordered_ids_are_version_7_uuids_of_now_and_all_different() -> None:
    import time

    from mspmode.db.bulk import time_ordered_ids

    before = time.time_ns() // 1_000_000
    ids = time_ordered_ids(batch=64)
    made = [next(ids) for _ in range(1_000)]  # several random-byte batches
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == len(made)
    for value in made:
        same = uuid.UUID(str(value))
        assert (value.version, value.variant) == (7, uuid.RFC_4122)
        assert value == same and hash(value) == hash(same) and value.hex == same.hex
        assert before <= value.int >> 80 <= after
    stamps = [value.int >> 80 for value in made]
    assert stamps == sorted(stamps)  # neighbouring keys for rows written together
