"""The audit chain on every backend: every mutation through the API writes one row, and
``msp audit verify`` (a real subprocess) catches each kind of tampering done directly in the
database, naming the first broken row."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from mspmode.models.operations import AuditChainHead, AuditLog
from tests.api.conftest import Api


def verify(api: Api) -> tuple[int, dict[str, Any]]:
    env = {
        "PATH": "/usr/bin:/bin",
        "MSP_HOME": str(api.rt.settings.home),
        "MSP_DATABASE_URL": api.db.url.render_as_string(hide_password=False),
    }
    result = subprocess.run(
        [sys.executable, "-m", "mspmode", "audit", "verify", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def audit_rows(api: Api) -> list[dict[str, Any]]:
    with api.db.reader.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(AuditLog.__table__).order_by(AuditLog.sequence)).mappings()
        ]


@pytest.fixture
def chain(api: Api) -> Iterator[list[dict[str, Any]]]:
    """A few real mutations, the chain as it was, and the chain put back afterwards."""
    client = api.as_("tech")
    made = client.post("/api/clients", json={"name": f"Audited {uuid.uuid4()}"}).json()
    client.patch(f"/api/clients/{made['id']}", json={"notes": "changed"})
    client.post("/api/tags", json={"name": f"tag-{uuid.uuid4().hex[:8]}"})
    client.delete(f"/api/clients/{made['id']}")
    rows = audit_rows(api)
    with api.db.reader.connect() as conn:
        head = dict(conn.execute(select(AuditChainHead.__table__)).mappings().one())
    yield rows
    with api.db.writer.begin() as conn:
        conn.execute(delete(AuditLog.__table__))
        conn.execute(insert(AuditLog.__table__), rows)
        conn.execute(update(AuditChainHead.__table__).values({k: v for k, v in head.items() if k != "id"}))


def test_each_mutation_writes_one_row(api: Api) -> None:
    before = len(audit_rows(api))
    client = api.as_("tech")
    made = client.post("/api/clients", json={"name": f"Counted {uuid.uuid4()}"}).json()
    client.patch(f"/api/clients/{made['id']}", json={"notes": "one"})
    client.patch(f"/api/clients/{made['id']}", json={"notes": "one"})  # no change: no row
    client.delete(f"/api/clients/{made['id']}")
    client.post("/api/clients", json={"name": 1})  # refused: no row
    rows = audit_rows(api)[before:]
    assert [(r["action"], r["entity_type"]) for r in rows] == [
        ("create", "clients"),
        ("update", "clients"),
        ("delete", "clients"),
    ]
    assert rows[1]["changes"] == {"notes": {"from": None, "to": "one"}}
    assert all(r["actor_name"] == "tech/tech key" and r["actor_type"] == "api_key" for r in rows)
    assert all(r["client_address"] == "127.0.0.1" and r["request_id"] for r in rows)


def test_an_intact_chain_verifies(api: Api, chain: list[dict[str, Any]]) -> None:
    code, report = verify(api)
    assert code == 0 and report["ok"] is True and report["rows"] == len(chain)


def test_an_edited_row_is_named(api: Api, chain: list[dict[str, Any]]) -> None:
    target = chain[-2]
    with api.db.writer.begin() as conn:
        conn.execute(
            update(AuditLog.__table__).where(AuditLog.id == target["id"]).values(actor_name="someone else")
        )
    code, report = verify(api)
    assert code == 1 and report["sequence"] == target["sequence"]
    assert "edited" in report["problem"] and str(target["id"]) in report["problem"]


def test_a_deleted_row_is_named(api: Api, chain: list[dict[str, Any]]) -> None:
    target = chain[-3]
    with api.db.writer.begin() as conn:
        conn.execute(delete(AuditLog.__table__).where(AuditLog.id == target["id"]))
    code, report = verify(api)
    assert code == 1 and report["sequence"] == target["sequence"] + 1
    assert f"row(s) {target['sequence']} were deleted" in report["problem"]


def test_deleting_the_newest_rows_is_caught(api: Api, chain: list[dict[str, Any]]) -> None:
    with api.db.writer.begin() as conn:
        conn.execute(delete(AuditLog.__table__).where(AuditLog.sequence >= chain[-2]["sequence"]))
    code, report = verify(api)
    assert code == 1 and "newest rows were deleted" in report["problem"]


def test_reordered_rows_are_named(api: Api, chain: list[dict[str, Any]]) -> None:
    a, b = chain[-3], chain[-2]
    with api.db.writer.begin() as conn:
        t = AuditLog.__table__
        conn.execute(update(t).where(t.c.id == a["id"]).values(sequence=-1))
        conn.execute(update(t).where(t.c.id == b["id"]).values(sequence=a["sequence"]))
        conn.execute(update(t).where(t.c.id == a["id"]).values(sequence=b["sequence"]))
    code, report = verify(api)
    assert code == 1 and report["sequence"] == a["sequence"]
    assert "reordered" in report["problem"]


def test_an_inserted_row_is_named(api: Api, chain: list[dict[str, Any]]) -> None:
    last = chain[-1]
    with api.db.writer.begin() as conn:
        t = AuditLog.__table__
        # Make room in the middle, as a forger would, and slip a row in with a plausible MAC.
        conn.execute(update(t).where(t.c.sequence == last["sequence"]).values(sequence=last["sequence"] + 1))
        forged = {**chain[-2], "id": uuid.uuid4(), "sequence": last["sequence"], "prev_mac": chain[-2]["mac"]}
        forged["mac"] = "0" * 64
        conn.execute(insert(t), [forged])
        conn.execute(
            update(AuditChainHead.__table__).values(sequence=func.coalesce(AuditChainHead.sequence, 0) + 1)
        )
    code, report = verify(api)
    assert code == 1 and report["sequence"] == last["sequence"]
    assert str(forged["id"]) in report["problem"]
