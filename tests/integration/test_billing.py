"""The billing report on every backend, against hours computed by hand: client work billable by
default, an item marked not billable, internal work not billable unless said so, a session
marked not billable, and the edges of the date range."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from mspmode.db.session import Database
from mspmode.errors import NotFoundError, ValidationError
from mspmode.services import crud, entities, reports
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from tests.api.conftest import make_runtime

S = entities.SPECS
DAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


@pytest.fixture
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_runtime(tmp_path_factory.mktemp("keys"), migrated_db)


def session(rt: Runtime, client_id: uuid.UUID, start: datetime, billable: bool = True) -> uuid.UUID:
    row = crud.create_row(
        rt,
        local_actor(),
        S["sessions"],
        {
            "client_id": client_id,
            "session_title": f"at {start}",
            "started_at": start,
            "is_billable": billable,
        },
    )
    return row.id


def work(
    rt: Runtime, session_id: uuid.UUID, minutes: int, billable: bool | None = None, at: datetime = DAY
) -> None:
    entities.add_work(
        rt,
        local_actor(),
        f"work {minutes}",
        minutes=minutes,
        billable=billable,
        session_id=session_id,
        now=at + timedelta(hours=12),
    )


def test_billing_hours_by_hand(rt: Runtime) -> None:
    actor = local_actor()
    name = f"Acme {uuid.uuid4().hex[:8]}"
    acme = crud.create_row(rt, actor, S["clients"], {"name": name, "default_hourly_rate": Decimal("120.00")})
    ours = crud.create_row(
        rt, actor, S["clients"], {"name": f"MSP {uuid.uuid4().hex[:8]}", "client_type": "internal"}
    )

    # Day 1, one session: 50 + 40 billable, 20 marked not billable.
    s1 = session(rt, acme.id, DAY + timedelta(hours=9))
    work(rt, s1, 50)
    work(rt, s1, 40)
    work(rt, s1, 20, billable=False)
    # Day 3, last minute of the range: 7 minutes billable → 0.12 h (7/60 = 0.1166…).
    s2 = session(rt, acme.id, DAY + timedelta(days=2, hours=23, minutes=59))
    work(rt, s2, 7, at=DAY + timedelta(days=2))
    # Day 3, a goodwill session marked not billable: its 30 billable-by-default minutes do not count.
    s3 = session(rt, acme.id, DAY + timedelta(days=2, hours=10), billable=False)
    work(rt, s3, 30, at=DAY + timedelta(days=2))
    # Day 4: outside the range.
    s4 = session(rt, acme.id, DAY + timedelta(days=3))
    work(rt, s4, 600, at=DAY + timedelta(days=3))
    # Internal work: not billable by default, and not this client's anyway.
    s5 = session(rt, ours.id, DAY + timedelta(hours=9))
    work(rt, s5, 45)
    work(rt, s5, 15, billable=True)

    report = reports.billing(rt, actor, name, date(2026, 3, 2), date(2026, 3, 4))
    assert [len(s.items) for s in report.sessions] == [3, 1, 1]
    by_session = {s.id: s.billable_hours for s in report.sessions}
    assert by_session == {s1: Decimal("1.50"), s2: Decimal("0.12"), s3: Decimal("0.50")}
    assert report.billable_hours == Decimal("1.62")  # s1 + s2; s3 is not billed
    assert report.billable_minutes == 97
    assert report.non_billable_minutes == 20 + 30
    assert report.amount == Decimal("194.40")  # 1.62 × 120
    assert reports.billing_rows(report)[-1][-2:] == [97, "1.62"]

    internal = reports.billing(rt, actor, ours.name, date(2026, 3, 2), date(2026, 3, 2))
    assert internal.billable_hours == Decimal("0.25") and internal.non_billable_minutes == 45
    assert internal.amount is None

    one_day = reports.billing(rt, actor, name, date(2026, 3, 5), date(2026, 3, 5))
    assert one_day.billable_hours == Decimal("10.00")

    with pytest.raises(ValidationError, match="wrong way round"):
        reports.billing(rt, actor, name, date(2026, 3, 4), date(2026, 3, 2))
    with pytest.raises(NotFoundError, match="closest: " + name):
        reports.billing(rt, actor, name + "x", date(2026, 3, 2), date(2026, 3, 4))
