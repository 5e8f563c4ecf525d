"""``db/bulk.py`` on every backend: what ``insert_many`` and ``update_many`` write is what was
given (every column type of the row, NULLs included), past the rows one SQLite statement holds,
and an update touches only the rows it names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from mspmode.db import bulk
from mspmode.db.session import Database
from mspmode.models.core import Client
from tests.rows import table

CLIENTS = table("clients")
WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def client_rows(prefix: str, count: int) -> list[dict[str, object]]:
    return [
        {
            "id": uuid.uuid4(),
            "name": f"{prefix}-{i:05d} ünïcode ✓",
            "client_type": "msp_client",
            "domain_name": None if i % 3 else f"c{i}.example.test",
            "notes": "line one\nline 'two'" if i % 2 else None,
            "default_hourly_rate": Decimal("125.50") if i % 5 == 0 else None,
            "is_active": i % 7 != 0,
            "created_at": WHEN + timedelta(seconds=i),
            "updated_at": WHEN,
        }
        for i in range(count)
    ]


def stored(db: Database, prefix: str) -> dict[uuid.UUID, Client]:
    with db.read() as s:
        rows = s.scalars(select(Client).where(Client.name.like(f"{prefix}-%"))).all()
        s.expunge_all()
    return {r.id: r for r in rows}


def test_insert_many_stores_every_row_past_one_statement(migrated_db: Database) -> None:
    # 9 columns: 3,640 rows fill SQLite's 32,766 parameters of one statement; 4,000 need two.
    rows = client_rows("ins", 4_000)
    with migrated_db.write() as s:
        bulk.insert_many(s.connection(), CLIENTS, rows)
    found = stored(migrated_db, "ins")
    assert len(found) == len(rows)
    for row in rows[:5] + rows[3_638:3_645] + rows[-3:]:
        got = found[row["id"]]  # type: ignore[index]
        assert got.name == row["name"]
        assert got.domain_name == row["domain_name"]
        assert got.notes == row["notes"]
        assert got.default_hourly_rate == row["default_hourly_rate"]
        assert got.is_active is row["is_active"]
        assert got.created_at == row["created_at"]


def test_update_many_changes_only_the_rows_named_and_the_last_value_given_wins(migrated_db: Database) -> None:
    rows = client_rows("upd", 3_700)
    with migrated_db.write() as s:
        bulk.insert_many(s.connection(), CLIENTS, rows)
    later = WHEN + timedelta(days=1)
    changes = [
        {"id": row["id"], "notes": f"changed {i}", "domain_name": None, "updated_at": later}
        for i, row in enumerate(rows)
        if i % 2 == 0
    ]
    last = {"id": rows[0]["id"], "notes": "given last", "domain_name": "last.test", "updated_at": later}
    changes.append(last)
    with migrated_db.write() as s:
        bulk.update_many(s.connection(), CLIENTS, changes)
    found = stored(migrated_db, "upd")
    assert found[rows[0]["id"]].notes == "given last"  # type: ignore[index]
    assert found[rows[0]["id"]].domain_name == "last.test"  # type: ignore[index]
    for i, row in enumerate(rows):
        got = found[row["id"]]  # type: ignore[index]
        if i == 0:
            continue
        if i % 2 == 0:
            assert (got.notes, got.domain_name, got.updated_at) == (f"changed {i}", None, later), i
        else:
            assert (got.notes, got.domain_name, got.updated_at) == (row["notes"], row["domain_name"], WHEN), i
        assert got.name == row["name"]
