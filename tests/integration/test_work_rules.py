"""Seed 002's work-tracking rules on every backend, with hours computed by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mspmode.db.session import Database
from mspmode.errors import ValidationError
from mspmode.services import crud
from mspmode.services.actor import local_actor
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from mspmode.services.work import infer_category
from tests.api.conftest import make_runtime

SPEC = {s.name: s for s in RESOURCES}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_runtime(tmp_path_factory.mktemp("keys"), migrated_db)


def make(rt: Runtime, resource: str, **values: object) -> Any:
    return crud.create_row(rt, local_actor(), SPEC[resource], values)


def hours(rt: Runtime, session_id: uuid.UUID) -> Decimal:
    return crud.get_row(rt, local_actor(), SPEC["sessions"], session_id).billable_hours


def item(
    rt: Runtime,
    session_id: uuid.UUID,
    title: str,
    start: int | None = None,
    end: int | None = None,
    **kw: object,
) -> Any:
    times = {}
    if start is not None and end is not None:
        times = {"started_at": T0 + timedelta(minutes=start), "completed_at": T0 + timedelta(minutes=end)}
    return make(rt, "work-items", session_id=session_id, title=title, description=title, **times, **kw)


def test_billable_hours_follow_the_seed_rules(rt: Runtime) -> None:
    acme = make(rt, "clients", name=f"Acme {uuid.uuid4()}", client_type="msp_client")
    msp = make(rt, "clients", name=f"Our MSP {uuid.uuid4()}", client_type="internal")
    s1 = make(rt, "sessions", client_id=acme.id, session_title="Acme visit", started_at=T0)
    s2 = make(rt, "sessions", client_id=msp.id, session_title="Internal", started_at=T0)

    # Client work: billable unless said otherwise.
    a = item(rt, s1.id, "Renew certificate", 0, 90)
    b = item(rt, s1.id, "Goodwill fix", 90, 135, is_billable=False)
    c = item(rt, s1.id, "Phone call", actual_minutes=20)
    assert (a.is_billable, b.is_billable, c.is_billable) == (True, False, True)
    assert (a.actual_minutes, b.actual_minutes) == (90, 45)
    assert hours(rt, s1.id) == Decimal("1.83")  # (90 + 20) / 60

    # Internal work: not billable unless said otherwise.
    d = item(rt, s2.id, "Patch our own server", 0, 60)
    e = item(rt, s2.id, "Billed to a client after all", 60, 90, is_billable=True)
    assert (d.is_billable, e.is_billable) == (False, True)
    assert hours(rt, s2.id) == Decimal("0.50")

    # Changes keep the totals current.
    crud.update_row(
        rt, local_actor(), SPEC["work-items"], a.id, {"completed_at": T0 + timedelta(minutes=120)}
    )
    assert hours(rt, s1.id) == Decimal("2.33")  # (120 + 20) / 60
    crud.delete_row(rt, local_actor(), SPEC["work-items"], c.id)
    assert hours(rt, s1.id) == Decimal("2.00")
    crud.update_row(rt, local_actor(), SPEC["work-items"], a.id, {"session_id": s2.id})
    assert hours(rt, s1.id) == Decimal("0.00")
    assert hours(rt, s2.id) == Decimal("2.50")  # (30 + 120) / 60
    crud.update_row(rt, local_actor(), SPEC["work-items"], e.id, {"is_billable": False})
    assert hours(rt, s2.id) == Decimal("2.00")


def test_billable_hours_cannot_be_set_by_hand(rt: Runtime) -> None:
    with pytest.raises(ValidationError, match="billable_hours"):
        make(rt, "sessions", session_title="x", started_at=T0, billable_hours=Decimal("9"))


def test_a_session_without_a_client_is_not_billable(rt: Runtime) -> None:
    s = make(rt, "sessions", session_title="Lab", started_at=T0, ended_at=T0 + timedelta(minutes=75))
    assert s.duration_minutes == 75
    assert item(rt, s.id, "Try things", 0, 30).is_billable is False


def test_times_the_wrong_way_round_are_refused(rt: Runtime) -> None:
    s = make(rt, "sessions", session_title="x", started_at=T0)
    with pytest.raises(ValidationError, match="ends before it starts"):
        item(rt, s.id, "Backwards", 30, 10)


def test_a_missing_category_is_inferred_and_reported(rt: Runtime) -> None:
    s = make(rt, "sessions", session_title="x", started_at=T0)
    inferred = item(rt, s.id, "Clean up old backup files and patch the server")
    assert (inferred.category, inferred.category_inferred) == ("maintenance", True)
    chosen = item(rt, s.id, "Clean up old backup files", category="documentation")
    assert (chosen.category, chosen.category_inferred) == ("documentation", False)
    corrected = crud.update_row(rt, local_actor(), SPEC["work-items"], inferred.id, {"category": "security"})
    assert (corrected.category, corrected.category_inferred) == ("security", False)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Website shows an SSL error, not working since Monday", "troubleshooting"),
        ("Configure the new VLAN and modify DHCP scope", "configuration"),
        ("Implement the onboarding script", "development"),
        ("Investigate possible malware and unauthorized logins", "security"),
        ("ssh into the server and restart the network service", "infrastructure"),
        ("Update and patch all workstations; cleanup temp files", "maintenance"),
        ("Lunch with the client", "infrastructure"),
    ],
)
def test_keyword_triggers(text: str, category: str) -> None:
    assert infer_category(text) == category
