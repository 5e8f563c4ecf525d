"""Reports a technician hands on or reads: billable time per client, what was done, what
keeps failing and how often it was recovered.

Billing follows seed 002 as ``services/work.py`` applies it: an item's minutes come from its
start and end (or were given), client work is billable unless marked otherwise, internal work
is not, and a session's ``billable_hours`` is its billable minutes / 60 rounded to cents of an
hour. The report's total is the sum of those session figures — the numbers an invoice uses —
over the sessions marked billable; per-item hours are shown for reading and may differ from the
total in the last digit by rounding.

CSV is written for spreadsheets: UTF-8 with a byte-order mark (Excel reads it as UTF-8), CRLF
line ends, one header row, ISO dates, decimal points, and text cells that would start a
formula (``=``, ``+``, ``-``, ``@``) prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select

from mspmode.errors import ValidationError
from mspmode.models import core, infrastructure, learning, recovery, work
from mspmode.services import crud, psa
from mspmode.services.actor import Actor
from mspmode.services.entities import find_client
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of

CENT = Decimal("0.01")


def hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / Decimal(60)).quantize(CENT, rounding=ROUND_HALF_UP)


def date_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Inclusive dates → [start 00:00 UTC, day after end 00:00 UTC); refuses a reversed range."""
    if start and end and start > end:
        raise ValidationError(
            "the date range is the wrong way round: "
            f"--from {start.isoformat()} is after --to {end.isoformat()}"
        )
    lo = datetime.combine(start, time(), tzinfo=UTC) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC) if end else None
    return lo, hi


def _within(column: Any, lo: datetime | None, hi: datetime | None) -> list[Any]:
    return [c for c in ((column >= lo) if lo else None, (column < hi) if hi else None) if c is not None]


def _visible(actor: Actor, model: Any) -> list[Any]:
    return crud.visible_to(actor, table_of(model))


# ---- billing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillingItem:
    id: uuid.UUID
    title: str
    category: str
    is_billable: bool
    minutes: int

    @property
    def hours(self) -> Decimal:
        return hours(self.minutes)


@dataclass(frozen=True)
class BillingSession:
    id: uuid.UUID
    title: str
    started_at: datetime
    ended_at: datetime | None
    is_billable: bool
    billable_hours: Decimal
    items: list[BillingItem]
    # Minutes of time entries posted to the PSA, and owed to it (queued or failed).
    psa_posted_minutes: int = 0
    psa_unposted_minutes: int = 0

    @property
    def billable_minutes(self) -> int:
        return sum(i.minutes for i in self.items if i.is_billable)


@dataclass(frozen=True)
class BillingReport:
    client: str
    client_type: str
    start: date
    end: date
    hourly_rate: Decimal | None
    sessions: list[BillingSession]

    @property
    def billed_sessions(self) -> list[BillingSession]:
        return [s for s in self.sessions if s.is_billable]

    @property
    def billable_hours(self) -> Decimal:
        return sum((s.billable_hours for s in self.billed_sessions), Decimal("0.00"))

    @property
    def billable_minutes(self) -> int:
        return sum(s.billable_minutes for s in self.billed_sessions)

    @property
    def non_billable_minutes(self) -> int:
        total = sum(i.minutes for s in self.sessions for i in s.items)
        return total - self.billable_minutes

    @property
    def psa_posted_minutes(self) -> int:
        return sum(s.psa_posted_minutes for s in self.sessions)

    @property
    def psa_unposted_minutes(self) -> int:
        return sum(s.psa_unposted_minutes for s in self.sessions)

    @property
    def amount(self) -> Decimal | None:
        if self.hourly_rate is None:
            return None
        return (self.billable_hours * self.hourly_rate).quantize(CENT, rounding=ROUND_HALF_UP)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "client_type": self.client_type,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "hourly_rate": _num(self.hourly_rate),
            "billable_hours": _num(self.billable_hours),
            "billable_minutes": self.billable_minutes,
            "non_billable_minutes": self.non_billable_minutes,
            "amount": _num(self.amount),
            "psa_posted_minutes": self.psa_posted_minutes,
            "psa_unposted_minutes": self.psa_unposted_minutes,
            "sessions": [
                {
                    "id": str(s.id),
                    "title": s.title,
                    "started_at": s.started_at.isoformat(),
                    "ended_at": s.ended_at.isoformat() if s.ended_at else None,
                    "is_billable": s.is_billable,
                    "billable_hours": _num(s.billable_hours),
                    "psa_posted_minutes": s.psa_posted_minutes,
                    "psa_unposted_minutes": s.psa_unposted_minutes,
                    "items": [
                        {
                            "id": str(i.id),
                            "title": i.title,
                            "category": i.category,
                            "is_billable": i.is_billable,
                            "minutes": i.minutes,
                            "hours": _num(i.hours),
                        }
                        for i in s.items
                    ],
                }
                for s in self.sessions
            ],
        }


def _num(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def billing(rt: Runtime, actor: Actor, client_ref: str, start: date, end: date) -> BillingReport:
    """Billable time for one client's sessions that started between two dates (inclusive)."""
    lo, hi = date_range(start, end)
    ws, wi = core.Session, work.WorkItem
    with rt.db.read() as session:
        client = find_client(session, actor, client_ref)
        sessions = list(
            session.scalars(
                select(ws)
                .where(ws.client_id == client.id, *_within(ws.started_at, lo, hi), *_visible(actor, ws))
                .order_by(ws.started_at, ws.id)
            )
        )
        items: dict[uuid.UUID, list[BillingItem]] = {s.id: [] for s in sessions}
        if sessions:
            rows = session.scalars(
                select(wi)
                .where(wi.session_id.in_(list(items)))
                .order_by(wi.session_id, wi.item_order, wi.started_at, wi.created_at, wi.id)
            )
            for row in rows:
                items[row.session_id].append(
                    BillingItem(row.id, row.title, row.category, row.is_billable, row.actual_minutes or 0)
                )
        posted = psa.time_posting(session, items)
    return BillingReport(
        client=client.name,
        client_type=client.client_type,
        start=start,
        end=end,
        hourly_rate=client.default_hourly_rate,
        sessions=[
            BillingSession(
                s.id,
                s.session_title,
                s.started_at,
                s.ended_at,
                s.is_billable,
                s.billable_hours,
                items[s.id],
                posted.get(s.id, psa.PostedTime()).posted,
                posted.get(s.id, psa.PostedTime()).queued + posted.get(s.id, psa.PostedTime()).failed,
            )
            for s in sessions
        ],
    )


BILLING_COLUMNS = (
    "date",
    "session",
    "session_billable",
    "work_item",
    "category",
    "billable",
    "minutes",
    "hours",
)


def billing_rows(report: BillingReport) -> list[list[Any]]:
    """One row per work item, then the session subtotals' sum as the total row."""
    rows: list[list[Any]] = []
    for s in report.sessions:
        for i in s.items:
            rows.append(
                [
                    s.started_at.date().isoformat(),
                    s.title,
                    _yn(s.is_billable),
                    i.title,
                    i.category,
                    _yn(i.is_billable),
                    i.minutes,
                    f"{i.hours:.2f}",
                ]
            )
    rows.append(
        [
            "",
            "TOTAL billable (sum of session hours)",
            "",
            "",
            "",
            "",
            report.billable_minutes,
            f"{report.billable_hours:.2f}",
        ]
    )
    return rows


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


# ---- what was done --------------------------------------------------------------------------


@dataclass
class WorkLine:
    client: str
    category: str
    items: int = 0
    minutes: int = 0
    billable_minutes: int = 0
    titles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "category": self.category,
            "items": self.items,
            "minutes": self.minutes,
            "hours": f"{hours(self.minutes):.2f}",
            "billable_minutes": self.billable_minutes,
            "titles": self.titles,
        }


WORK_COLUMNS = ("client", "category", "items", "minutes", "hours", "billable_minutes")


def work_summary(
    rt: Runtime,
    actor: Actor,
    *,
    client_ref: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[WorkLine]:
    """Work items per client and category (sessions started in the range), most time first."""
    lo, hi = date_range(start, end)
    ws, wi, cl = core.Session, work.WorkItem, core.Client
    with rt.db.read() as session:
        stmt = (
            select(cl.name, wi.category, wi.title, wi.actual_minutes, wi.is_billable)
            .join(ws, ws.id == wi.session_id)
            .join(cl, cl.id == ws.client_id)
            .where(*_within(ws.started_at, lo, hi), *_visible(actor, ws))
            .order_by(ws.started_at, wi.item_order, wi.created_at)
        )
        if client_ref:
            stmt = stmt.where(ws.client_id == find_client(session, actor, client_ref).id)
        lines: dict[tuple[str, str], WorkLine] = {}
        for name, category, title, minutes, billable in session.execute(stmt):
            line = lines.setdefault((name, category), WorkLine(name, category))
            line.items += 1
            line.minutes += minutes or 0
            line.billable_minutes += (minutes or 0) if billable else 0
            line.titles.append(title)
    return sorted(lines.values(), key=lambda w: (w.client.lower(), -w.minutes, w.category))


# ---- what keeps failing -----------------------------------------------------------------------


@dataclass(frozen=True)
class PatternLine:
    id: uuid.UUID
    culprit: str | None
    failure_class: str | None
    signature: str
    host: str | None
    client: str | None
    confidence: str
    occurrences: int
    hosts: int
    failed: int
    recovered: int
    fix: str | None

    @property
    def recovery_rate(self) -> float | None:
        return round(self.recovered / self.failed, 3) if self.failed else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "culprit": self.culprit,
            "failure_class": self.failure_class,
            "signature": self.signature,
            "host": self.host,
            "client": self.client,
            "confidence": self.confidence,
            "occurrences": self.occurrences,
            "hosts": self.hosts,
            "failed_commands": self.failed,
            "recovered": self.recovered,
            "recovery_rate": self.recovery_rate,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class FailureReport:
    failed: int
    recovered: int
    transient: int
    attempts: int
    attempts_succeeded: int
    patterns: list[PatternLine]

    @property
    def recovery_rate(self) -> float | None:
        return round(self.recovered / self.failed, 3) if self.failed else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "failed_commands": self.failed,
            "recovered": self.recovered,
            "transient": self.transient,
            "recovery_rate": self.recovery_rate,
            "recovery_attempts": self.attempts,
            "recovery_attempts_succeeded": self.attempts_succeeded,
            "top_patterns": [p.as_dict() for p in self.patterns],
        }


FAILURE_COLUMNS = (
    "culprit",
    "failure_class",
    "host",
    "client",
    "confidence",
    "occurrences",
    "hosts",
    "failed_commands",
    "recovered",
    "recovery_rate",
    "fix",
)


def failures(
    rt: Runtime,
    actor: Actor,
    *,
    client_ref: str | None = None,
    start: date | None = None,
    end: date | None = None,
    top: int = 10,
) -> FailureReport:
    """Failed commands in the range, how many were later recovered (a fix was observed for
    them), and the patterns that failed most. A command counts as recovered when the learner
    marked it resolved: a later command on the same host did the job."""
    lo, hi = date_range(start, end)
    cmd, fp = work.CommandRun, learning.FailurePattern
    with rt.db.read() as session:
        where = [cmd.success.is_(False), *_within(cmd.executed_at, lo, hi), *_visible(actor, cmd)]
        if client_ref:
            client = find_client(session, actor, client_ref)
            where.append(
                cmd.session_id.in_(select(core.Session.id).where(core.Session.client_id == client.id))
            )
        recovered_sum = _count_true(cmd.resolved)
        transient_sum = _count_true(cmd.is_transient)
        failed, recovered, transient = session.execute(
            select(func.count(), recovered_sum, transient_sum).where(*where)
        ).one()
        per_pattern = session.execute(
            select(cmd.failure_pattern_id, func.count(), recovered_sum)
            .where(*where, cmd.failure_pattern_id.is_not(None))
            .group_by(cmd.failure_pattern_id)
            .order_by(func.count().desc(), cmd.failure_pattern_id)
            .limit(top)
        ).all()
        ids = [row[0] for row in per_pattern]
        patterns = {p.id: p for p in session.scalars(select(fp).where(fp.id.in_(ids)))} if ids else {}
        host_names = _names(
            session, infrastructure.Infrastructure.hostname, (p.infrastructure_id for p in patterns.values())
        )
        client_names = _names(session, core.Client.name, (p.client_id for p in patterns.values()))
        ra = recovery.RecoveryAttempt
        attempt_where = [*_within(ra.started_at, lo, hi), *_visible(actor, ra)]
        attempts, succeeded = session.execute(
            select(func.count(), _count_true(ra.success)).where(*attempt_where)
        ).one()
    lines = []
    for pattern_id, count, rec in per_pattern:
        p = patterns[pattern_id]
        lines.append(
            PatternLine(
                id=p.id,
                culprit=p.culprit,
                failure_class=p.failure_class,
                signature=p.pattern_signature,
                host=host_names.get(p.infrastructure_id) if p.infrastructure_id else None,
                client=client_names.get(p.client_id) if p.client_id else None,
                confidence=p.confidence_level,
                occurrences=p.occurrence_count,
                hosts=p.host_count,
                failed=int(count),
                recovered=int(rec or 0),
                fix=p.recommended_solution if p.fix_observed else None,
            )
        )
    return FailureReport(
        failed=int(failed or 0),
        recovered=int(recovered or 0),
        transient=int(transient or 0),
        attempts=int(attempts or 0),
        attempts_succeeded=int(succeeded or 0),
        patterns=lines,
    )


def _count_true(column: Any) -> Any:
    return func.sum(case((column.is_(True), 1), else_=0))


def _names(session: Any, column: Any, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    model_id = column.class_.id
    return dict(session.execute(select(model_id, column).where(model_id.in_(wanted))).all())


# ---- CSV --------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text that a spreadsheet opens cleanly (write it with encoding ``utf-8-sig``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_safe_cell(v) for v in row])
    return buffer.getvalue()
