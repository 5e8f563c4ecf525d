"""The PSA integration on every backend, against a local fake of each of the five PSAs: a
ticket linked, the session's note and time posted in the PSA's own units, exactly once (posting
twice, an answer lost after the PSA stored the entry), 429 with Retry-After, 401, a timeout and
a ticket that does not exist. No test talks to a real PSA."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mspmode.db.session import Database
from mspmode.errors import NotFoundError
from mspmode.integrations.psa import PsaError, marker
from mspmode.models.integrations import ExternalIntegration, IntegrationCredential, PsaPost, TicketLink
from mspmode.services import crud, entities, psa
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from tests.api.conftest import make_runtime
from tests.fakes.psa import VENDORS, Vendor
from tests.fakes.psa.base import FakePsa

S = entities.SPECS
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
QUICK = httpx.Timeout(1.0, connect=1.0)


@pytest.fixture
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_runtime(tmp_path_factory.mktemp("keys"), migrated_db)


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> Iterator[tuple[Vendor, FakePsa]]:
    v = VENDORS[str(request.param)]
    fake = v.make()
    with fake.serve():
        yield v, fake


def connect(rt: Runtime, v: Vendor, fake: FakePsa) -> IntegrationCredential:
    opts = v.options
    return psa.add_integration(
        rt,
        local_actor(),
        v.kind,
        name=f"{v.kind}-{uuid.uuid4().hex[:8]}",
        url=fake.base_url + v.path,
        secrets=psa.parse_secrets(v.kind, v.secrets),
        username=opts.get("username"),
        client_id=opts.get("client_id"),
        settings=opts.get("settings"),
    )


def number_of(v: Vendor, raw: dict[str, Any]) -> str:
    if v.kind == "autotask":
        return str(raw["ticketNumber"])
    if v.kind == "itflow":
        return f"TCK-{raw['ticket_number']}"
    return str(raw.get("number", raw.get("id")))


def worked_session(rt: Runtime, minutes: tuple[int, ...] = (47, 13), unbilled: int = 10) -> uuid.UUID:
    actor = local_actor()
    client = crud.create_row(rt, actor, S["clients"], {"name": f"Acme {uuid.uuid4().hex[:6]}"})
    ws = crud.create_row(
        rt,
        actor,
        S["sessions"],
        {"client_id": client.id, "session_title": "Printer fleet", "started_at": START},
    )
    for i, m in enumerate(minutes):
        entities.add_work(
            rt,
            actor,
            f"Fixed print spooler {i}",
            minutes=m,
            session_id=ws.id,
            now=START + timedelta(minutes=sum(minutes[: i + 1])),
        )
    if unbilled:
        entities.add_work(rt, actor, "Showed Bob the VPN", minutes=unbilled, billable=False, session_id=ws.id)
    return ws.id


def linked(rt: Runtime, v: Vendor, fake: FakePsa, **kw: Any) -> tuple[uuid.UUID, IntegrationCredential, str]:
    row = connect(rt, v, fake)
    raw = fake.add_ticket(4711 + len(fake.tickets), "Printers offline at the front desk", "New")
    sid = worked_session(rt, **kw)
    number = number_of(v, raw)
    psa.link_ticket(rt, local_actor(), number, session_id=sid, integration=row.integration_name)
    return sid, row, number


def minutes_posted(v: Vendor, entry: dict[str, Any]) -> int:
    """The time entry's length in minutes, read in the PSA's own unit."""
    from mspmode.integrations.psa import units

    if v.kind == "syncro":
        return units.from_seconds(entry["active_duration"])
    if v.kind == "autotask":
        return units.from_hours(entry["hoursWorked"])
    if v.kind == "connectwise":
        return units.from_hours(entry["actualHours"])
    if v.kind == "halopsa":
        return units.from_hours(entry["timetaken"])
    return units.from_hms(entry["ticket_reply_time_worked"])


def posts_of(rt: Runtime, sid: uuid.UUID) -> list[PsaPost]:
    with rt.db.read() as s:
        return list(s.scalars(select(PsaPost).where(PsaPost.session_id == sid).order_by(PsaPost.kind)))


def test_the_note_and_the_billable_time_reach_the_ticket(rt: Runtime, vendor: tuple[Vendor, FakePsa]) -> None:
    v, fake = vendor
    sid, row, number = linked(rt, v, fake)
    with rt.db.read() as s:
        link = s.scalars(select(TicketLink).where(TicketLink.session_id == sid)).one()
    assert link.ticket_number == number and link.integration_credential_id == row.id
    assert link.ticket_subject == "Printers offline at the front desk" and link.ticket_status == "New"

    queued = psa.queue_session(rt, local_actor(), sid)
    assert sorted(p.kind for p in queued) == ["note", "time"]
    delivery = psa.deliver(rt, local_actor(), [p.id for p in queued])
    assert len(delivery.posted) == 2 and not (delivery.queued or delivery.failed)
    assert len(fake.notes) == 1 and len(fake.times) == 1
    note = next(text for text in fake.notes[0].values() if isinstance(text, str) and "[msp:" in text)
    assert "Fixed print spooler 0 (47 min, billable)" in note and "Showed Bob the VPN" in note
    assert minutes_posted(v, fake.times[0]) == 60  # 47 + 13; the unbilled 10 minutes are not posted
    posts = posts_of(rt, sid)
    assert [p.status for p in posts] == ["posted", "posted"] and all(p.external_id for p in posts)
    assert {p.external_id for p in posts} == {
        str(fake.notes[0].get("id", fake.notes[0].get("ticket_reply_id"))),
        str(fake.times[0].get("id", fake.times[0].get("ticket_reply_id"))),
    }
    with rt.db.read() as s:
        calls = list(s.scalars(select(ExternalIntegration).where(ExternalIntegration.session_id == sid)))
    assert calls and {c.integration_type for c in calls} == {v.kind}
    assert any(c.action == "created" and c.status == "success" for c in calls)
    dumped = repr([(c.external_url, c.request_data, c.response_data, c.error_message) for c in calls])
    for secret in v.all_secrets:
        assert secret not in dumped
    assert "authorization" not in dumped.lower() or v.kind == "halopsa"


def test_posting_twice_posts_once(rt: Runtime, vendor: tuple[Vendor, FakePsa]) -> None:
    v, fake = vendor
    sid, _, _ = linked(rt, v, fake)
    first = psa.queue_session(rt, local_actor(), sid)
    assert psa.queue_session(rt, local_actor(), sid) == []  # the same keys: nothing new
    psa.deliver(rt, local_actor(), [p.id for p in first])
    assert psa.deliver(rt, local_actor(), [p.id for p in first]).done == 0
    # Our record lost after the PSA stored the entries (a restore, a crash): sent again, each is
    # found on the ticket by its key and not posted a second time.
    with rt.db.write() as s:
        for p in s.scalars(select(PsaPost).where(PsaPost.session_id == sid)):
            p.status, p.external_id = "queued", None
    again = psa.deliver(rt, local_actor(), [p.id for p in first])
    assert len(again.already) == 2 and not again.posted
    assert fake.posts() == 2
    assert {p.external_id for p in posts_of(rt, sid)} == {p.external_id for p in again.already}


def test_an_answer_lost_after_the_psa_stored_the_entry_is_found_on_retry(
    rt: Runtime, vendor: tuple[Vendor, FakePsa]
) -> None:
    v, fake = vendor
    sid, _, _ = linked(rt, v, fake, unbilled=0)
    queued = psa.queue_session(rt, local_actor(), sid)
    note = next(p for p in queued if p.kind == "note")
    fake.hold_after_create = threading.Event()
    try:
        lost = psa.deliver(rt, local_actor(), [note.id], timeout=QUICK)
    finally:
        fake.hold_after_create.set()
        fake.hold_after_create = None
    assert [p.id for p in lost.queued] == [note.id] and "in time" in str(lost.queued[0].last_error)
    assert len(fake.notes) == 1  # the PSA has it; we do not know
    retried = psa.deliver(rt, local_actor(), [p.id for p in queued])
    assert [p.id for p in retried.already] == [note.id] and [p.kind for p in retried.posted] == ["time"]
    assert len(fake.notes) == 1 and len(fake.times) == 1


def test_429_waits_for_retry_after(rt: Runtime, vendor: tuple[Vendor, FakePsa]) -> None:
    v, fake = vendor
    sid, _, _ = linked(rt, v, fake)
    psa.queue_session(rt, local_actor(), sid)
    fake.fail_next(429, {"Retry-After": "120"})
    before = datetime.now(UTC)
    first = psa.deliver(rt, local_actor())
    limited = [p for p in first.queued if p.last_http_status == 429]
    assert len(limited) == 1 and "rate limited" in str(limited[0].last_error)
    assert limited[0].next_attempt_at is not None
    assert limited[0].next_attempt_at >= before + timedelta(seconds=119)
    seen = len(fake.requests)
    assert psa.deliver(rt, local_actor(), ignore_backoff=True).done == 0  # Retry-After still holds
    assert len(fake.requests) == seen
    later = psa.deliver(rt, local_actor(), clock=lambda: datetime.now(UTC) + timedelta(seconds=121))
    assert [p.id for p in later.posted] == [limited[0].id]
    assert fake.posts() == 2


def test_401_is_one_message_naming_the_integration(rt: Runtime, vendor: tuple[Vendor, FakePsa]) -> None:
    v, fake = vendor
    sid, row, _ = linked(rt, v, fake)
    psa.queue_session(rt, local_actor(), sid)
    fake.fail_next(401, times=4)  # a token renewal (HaloPSA) is refused as well
    got = psa.deliver(rt, local_actor())
    refused = got.queued[0]
    assert refused.last_http_status == 401
    assert row.integration_name in str(refused.last_error) and "msp psa test" in str(refused.last_error)
    assert fake.posts() == 0
    fake.script.clear()
    assert psa.deliver(rt, local_actor(), ignore_backoff=True).done == 2


def test_wrong_credentials_fail_the_test_with_the_integration_named(
    rt: Runtime, vendor: tuple[Vendor, FakePsa]
) -> None:
    v, fake = vendor
    wrong = {k: "x" + val for k, val in psa.parse_secrets(v.kind, v.secrets).items()}
    row = psa.add_integration(
        rt,
        local_actor(),
        v.kind,
        name=f"bad-{uuid.uuid4().hex[:6]}",
        url=fake.base_url + v.path,
        secrets=wrong,
        username=v.options.get("username"),
        client_id=v.options.get("client_id"),
        settings=v.options.get("settings"),
    )
    (result,) = psa.test_integration(rt, local_actor(), row.integration_name)
    assert not result.ok and row.integration_name in result.detail
    good = connect(rt, v, fake)
    (ok,) = psa.test_integration(rt, local_actor(), good.integration_name)
    assert ok.ok, ok.detail
    with rt.db.read() as s:
        assert s.get(IntegrationCredential, row.id).last_test_status == "failed"  # type: ignore[union-attr]


def test_a_psa_that_does_not_answer_leaves_the_post_queued(
    rt: Runtime, vendor: tuple[Vendor, FakePsa]
) -> None:
    v, fake = vendor
    sid, _, _ = linked(rt, v, fake)
    queued = psa.queue_session(rt, local_actor(), sid)
    fake.delay_s = 3.0
    slow = psa.deliver(rt, local_actor(), [p.id for p in queued], timeout=QUICK)
    assert len(slow.queued) == 2 and all("in time" in str(p.last_error) for p in slow.queued)
    fake.delay_s = 0
    assert psa.deliver(rt, local_actor(), ignore_backoff=True).done == 2
    assert fake.posts() == 2


def test_a_ticket_that_does_not_exist_is_refused_and_nothing_is_linked(
    rt: Runtime, vendor: tuple[Vendor, FakePsa]
) -> None:
    v, fake = vendor
    row = connect(rt, v, fake)
    sid = worked_session(rt)
    with pytest.raises(PsaError) as caught:
        psa.link_ticket(rt, local_actor(), "999999", session_id=sid, integration=row.integration_name)
    assert caught.value.status_code == 404 and "999999" in str(caught.value)
    with rt.db.read() as s:
        assert s.scalars(select(TicketLink).where(TicketLink.session_id == sid)).first() is None


def test_a_ticket_deleted_after_linking_fails_the_post_for_good(rt: Runtime) -> None:
    v = VENDORS["connectwise"]
    fake = v.make()
    with fake.serve():
        sid, _, number = linked(rt, v, fake)
        psa.queue_session(rt, local_actor(), sid)
        del fake.tickets[int(number)]
        got = psa.deliver(rt, local_actor())
        assert len(got.failed) == 2 and all(p.status == "failed" for p in got.failed)
        assert psa.pending(rt, local_actor(), status="failed")
        fake.add_ticket(int(number), "Back again")
        assert psa.retry_failed(rt, local_actor()) >= 2
        assert psa.deliver(rt, local_actor()).done == 2


def test_log_time_posts_a_work_item_and_the_session_post_leaves_it_out(rt: Runtime) -> None:
    v = VENDORS["halopsa"]
    fake = v.make()
    with fake.serve():
        sid, _, number = linked(rt, v, fake, minutes=(30,), unbilled=0)
        item, post = psa.log_time(rt, local_actor(), 25, "Replaced the toner", session_id=sid)
        assert post is not None and post.minutes == 25 and post.work_item_id == item.id
        assert psa.deliver(rt, local_actor(), [post.id]).done == 1
        queued = psa.queue_session(rt, local_actor(), sid)
        time_post = next(p for p in queued if p.kind == "time")
        assert time_post.minutes == 30  # the 25 minutes went already
        psa.deliver(rt, local_actor())
        assert sorted(minutes_posted(v, t) for t in fake.times) == [25, 30]
        assert fake.tickets[int(number)]


def test_a_week_of_decimal_hours_adds_up_to_its_minutes(rt: Runtime) -> None:
    v = VENDORS["autotask"]
    fake = v.make()
    with fake.serve():
        row = connect(rt, v, fake)
        raw = fake.add_ticket(5000, "Weekly maintenance")
        minutes = [7, 11, 13, 1, 59, 22, 17, 8, 1, 44]
        actor = local_actor()
        client = crud.create_row(rt, actor, S["clients"], {"name": f"Weekly {uuid.uuid4().hex[:6]}"})
        for i, m in enumerate(minutes):
            ws = crud.create_row(
                rt,
                actor,
                S["sessions"],
                {
                    "client_id": client.id,
                    "session_title": f"day {i}",
                    "started_at": START + timedelta(hours=9 * i),
                },
            )
            entities.add_work(rt, actor, f"patching {i}", minutes=m, session_id=ws.id)
            psa.link_ticket(
                rt, actor, raw["ticketNumber"], session_id=ws.id, integration=row.integration_name
            )
            psa.queue_session(rt, actor, ws.id)
        psa.deliver(rt, actor)
        hours = [Decimal(str(t["hoursWorked"])) for t in fake.times]
        assert len(hours) == len(minutes)
        assert sum(hours) == (Decimal(sum(minutes)) / 60).quantize(Decimal("0.01"))
        assert round(sum(hours) * 60) == sum(minutes)


def test_an_unknown_integration_names_the_known_ones(rt: Runtime) -> None:
    v = VENDORS["syncro"]
    fake = v.make()
    with fake.serve():
        row = connect(rt, v, fake)
        sid = worked_session(rt)
        with pytest.raises(NotFoundError, match=row.integration_name):
            psa.link_ticket(rt, local_actor(), "1", session_id=sid, integration="nope")
    assert marker("k") == "[msp:k]"
