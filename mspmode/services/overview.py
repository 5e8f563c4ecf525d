"""Read models for the pages a person looks at: what is happening now, a client at a glance, the
hosts and a host's command timeline. Every query is limited to what the actor may see, as the
API's are (another client's rows do not exist for a scoped actor).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from mspmode.db.base import utcnow
from mspmode.errors import NotFoundError, PermissionDeniedError
from mspmode.models import core, infrastructure, learning, work
from mspmode.services import crud, reports
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of

RECENT = timedelta(days=7)


def _visible(actor: Actor, model: Any) -> list[Any]:
    return crud.visible_to(actor, table_of(model))


def _require_reader(actor: Actor) -> None:
    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first")


@dataclass(frozen=True)
class Home:
    running: list[tuple[core.Session, str | None]]
    commands_today: int
    failed_today: int
    new_patterns: list[learning.FailurePattern]
    fixes_learned: list[learning.FailurePattern]
    stopped_today: int = 0
    warned_today: int = 0
    verdicts_today: list[learning.CheckVerdict] = field(default_factory=list)


def home(rt: Runtime, actor: Actor, now: datetime | None = None) -> Home:
    """Sessions still running, today's commands and failures, the commands pre-checks stopped or
    warned about today, patterns first seen and fixes learned in the last week."""
    _require_reader(actor)
    now = now or utcnow()
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    ws, cl, cmd, fp = core.Session, core.Client, work.CommandRun, learning.FailurePattern
    cv = learning.CheckVerdict
    with rt.db.read() as s:
        running: list[tuple[core.Session, str | None]] = [
            (row[0], row[1])
            for row in s.execute(
                select(ws, cl.name)
                .outerjoin(cl, cl.id == ws.client_id)
                .where(ws.ended_at.is_(None), *_visible(actor, ws))
                .order_by(ws.started_at.desc())
                .limit(20)
            )
        ]
        counted = s.execute(
            # SUM(CASE …), not COUNT(*) FILTER: MariaDB has no FILTER clause.
            select(func.count(), func.sum(case((cmd.success.is_(False), 1), else_=0))).where(
                cmd.executed_at >= today, *_visible(actor, cmd)
            )
        ).one()
        new = list(
            s.scalars(
                select(fp)
                .where(fp.first_seen >= now - RECENT, *_visible(actor, fp))
                .order_by(fp.first_seen.desc())
                .limit(10)
            )
        )
        fixes = list(
            s.scalars(
                select(fp)
                .where(fp.last_fix_at >= now - RECENT, *_visible(actor, fp))
                .order_by(fp.last_fix_at.desc())
                .limit(10)
            )
        )
        judged: dict[str, int] = {
            str(verdict): int(n)
            for verdict, n in s.execute(
                select(cv.verdict, func.count())
                .where(cv.created_at >= today, *_visible(actor, cv))
                .group_by(cv.verdict)
            )
        }
        verdicts = list(
            s.scalars(
                select(cv)
                .where(cv.created_at >= today, *_visible(actor, cv))
                .order_by(cv.created_at.desc(), cv.id.desc())
                .limit(20)
            )
        )
    return Home(
        running,
        int(counted[0]),
        int(counted[1] or 0),
        new,
        fixes,
        stopped_today=int(judged.get("block", 0)),
        warned_today=int(judged.get("warn", 0)),
        verdicts_today=verdicts,
    )


FeedCursor = tuple[datetime, uuid.UUID]


@dataclass(frozen=True)
class FeedItem:
    """One line of the live feed: a recorded command, or a command a pre-check stopped or
    warned about before it ran."""

    kind: str  # "command" or "verdict"
    id: uuid.UUID
    created_at: datetime
    at: datetime  # when it ran or was checked
    host: str | None
    command: str
    outcome: str  # ok, failed, unknown (a command); stopped, warned (a verdict)
    exit_code: int | None = None
    reason: str | None = None
    pattern_id: uuid.UUID | None = None

    @property
    def cursor(self) -> FeedCursor:
        return (self.created_at, self.id)


def _command_item(run: work.CommandRun) -> FeedItem:
    outcome = "ok" if run.success else "failed" if run.success is False else "unknown"
    return FeedItem(
        "command",
        run.id,
        run.created_at,
        run.executed_at,
        run.host,
        run.command_text,
        outcome,
        exit_code=run.exit_code,
        pattern_id=run.failure_pattern_id,
    )


def _verdict_item(v: learning.CheckVerdict) -> FeedItem:
    outcome = "stopped" if v.verdict == "block" else "warned"
    return FeedItem(
        "verdict",
        v.id,
        v.created_at,
        v.created_at,
        v.host,
        v.command,
        outcome,
        reason=v.reason,
        pattern_id=v.failure_pattern_id,
    )


def feed(rt: Runtime, actor: Actor, after: FeedCursor | None = None, *, limit: int = 20) -> list[FeedItem]:
    """What the agents recorded and what pre-checks stopped or warned about, after ``after``
    (a ``(created_at, id)`` cursor over both), oldest first; without a cursor the latest
    ``limit``, oldest first. What the live feed on Home shows."""
    _require_reader(actor)
    out: list[FeedItem] = []
    with rt.db.read() as s:
        for model, item in ((work.CommandRun, _command_item), (learning.CheckVerdict, _verdict_item)):
            stmt: Any = select(model).where(*_visible(actor, model))
            if after is None:
                stmt = stmt.order_by(model.created_at.desc(), model.id.desc())
            else:
                at, last = after
                later = or_(model.created_at > at, and_(model.created_at == at, model.id > last))
                stmt = stmt.where(later).order_by(model.created_at, model.id)
            out += [item(row) for row in s.scalars(stmt.limit(limit))]
    out.sort(key=lambda i: i.cursor)
    # Each kind gave its first ``limit``: the first ``limit`` of both are among them.
    return out[-limit:] if after is None else out[:limit]


@dataclass(frozen=True)
class ClientSummary:
    client: core.Client
    hosts: int
    open_tasks: int


def clients(rt: Runtime, actor: Actor) -> list[ClientSummary]:
    """Every client the actor may see, by name, with its host and open-task counts."""
    _require_reader(actor)
    cl, host, task = core.Client, infrastructure.Infrastructure, core.PendingTask
    hosts = select(func.count()).where(host.client_id == cl.id).scalar_subquery()
    tasks = (
        select(func.count())
        .where(task.client_id == cl.id, task.status.in_(("pending", "in_progress", "blocked")))
        .scalar_subquery()
    )
    with rt.db.read() as s:
        rows = s.execute(select(cl, hosts, tasks).where(*_visible(actor, cl)).order_by(cl.name))
        return [ClientSummary(r[0], int(r[1]), int(r[2])) for r in rows]


@dataclass(frozen=True)
class ClientOverview:
    client: core.Client
    sites: list[infrastructure.Site]
    hosts: list[infrastructure.Infrastructure]
    open_tasks: list[core.PendingTask]
    sessions: list[core.Session]
    billable_hours_this_month: Decimal


def client_overview(
    rt: Runtime, actor: Actor, client_id: uuid.UUID, today: date | None = None
) -> ClientOverview:
    """A client at a glance: sites, hosts, open tasks, recent sessions and this month's
    billable hours (the same sum as ``msp report billing``)."""
    _require_reader(actor)
    cl, site, host, task, ws = (
        core.Client,
        infrastructure.Site,
        infrastructure.Infrastructure,
        core.PendingTask,
        core.Session,
    )
    with rt.db.read() as s:
        client = s.scalars(select(cl).where(cl.id == client_id, *_visible(actor, cl))).one_or_none()
        if client is None:
            raise NotFoundError(f"no client {client_id}")
        sites = list(s.scalars(select(site).where(site.client_id == client_id).order_by(site.name)))
        hosts = list(s.scalars(select(host).where(host.client_id == client_id).order_by(host.hostname)))
        open_tasks = list(
            s.scalars(
                select(task)
                .where(task.client_id == client_id, task.status.in_(("pending", "in_progress", "blocked")))
                .order_by(task.due_date, task.title)
                .limit(50)
            )
        )
        sessions = list(
            s.scalars(select(ws).where(ws.client_id == client_id).order_by(ws.started_at.desc()).limit(10))
        )
    today = today or utcnow().date()
    month = reports.billing(rt, actor, str(client_id), today.replace(day=1), today)
    return ClientOverview(client, sites, hosts, open_tasks, sessions, month.billable_hours)


@dataclass(frozen=True)
class HostFilter:
    client_id: uuid.UUID | None = None
    os: str | None = None
    os_version: str | None = None
    shell: str | None = None
    trait: str | None = None  # PowerShell version, init system, package manager, type, or a note's word


def hosts(
    rt: Runtime, actor: Actor, where: HostFilter, *, limit: int = 100, offset: int = 0
) -> tuple[list[tuple[infrastructure.Infrastructure, str | None]], int]:
    """Hosts matching the filter, by name, with their client's name; and how many match."""
    _require_reader(actor)
    host, cl = infrastructure.Infrastructure, core.Client
    cond: list[Any] = list(_visible(actor, host))
    if where.client_id:
        cond.append(host.client_id == where.client_id)
    if where.os:
        cond.append(func.lower(host.os) == where.os.lower())
    if where.os_version:
        cond.append(func.lower(host.os_version) == where.os_version.lower())
    if where.shell:
        cond.append(func.lower(host.shell_type) == where.shell.lower())
    if where.trait:
        trait = where.trait.lower()
        cond.append(
            or_(
                func.lower(host.powershell_version) == trait,
                func.lower(host.init_system) == trait,
                func.lower(host.package_manager) == trait,
                func.lower(host.asset_type) == trait,
                func.lower(host.environmental_notes).like(f"%{trait}%"),
            )
        )
    with rt.db.read() as s:
        total = s.scalar(select(func.count()).select_from(host).where(*cond)) or 0
        rows = s.execute(
            select(host, cl.name)
            .outerjoin(cl, cl.id == host.client_id)
            .where(*cond)
            .order_by(host.hostname, host.id)
            .limit(limit)
            .offset(offset)
        )
        return [(r[0], r[1]) for r in rows], int(total)


def host_facets(rt: Runtime, actor: Actor) -> dict[str, list[str]]:
    """The OS names, releases and shells in use, for the hosts page's filters."""
    _require_reader(actor)
    host = infrastructure.Infrastructure
    out: dict[str, list[str]] = {}
    with rt.db.read() as s:
        for name, col in (("os", host.os), ("os_version", host.os_version), ("shell", host.shell_type)):
            stmt = select(col).where(col.is_not(None), *_visible(actor, host)).distinct().order_by(col)
            out[name] = [str(v) for v in s.scalars(stmt.limit(200))]
    return out


def host_timeline(rt: Runtime, actor: Actor, host_id: uuid.UUID, *, limit: int = 50) -> list[work.CommandRun]:
    """The host's latest commands, newest first, with their exit codes."""
    _require_reader(actor)
    cmd = work.CommandRun
    with rt.db.read() as s:
        return list(
            s.scalars(
                select(cmd)
                .where(cmd.infrastructure_id == host_id, *_visible(actor, cmd))
                .order_by(cmd.executed_at.desc(), cmd.id)
                .limit(limit)
            )
        )


def sessions(
    rt: Runtime, actor: Actor, *, client_id: uuid.UUID | None = None, limit: int = 50
) -> list[tuple[core.Session, str | None]]:
    """Sessions newest first with their client's name."""
    _require_reader(actor)
    ws, cl = core.Session, core.Client
    cond: list[Any] = list(_visible(actor, ws))
    if client_id:
        cond.append(ws.client_id == client_id)
    with rt.db.read() as s:
        rows = s.execute(
            select(ws, cl.name)
            .outerjoin(cl, cl.id == ws.client_id)
            .where(*cond)
            .order_by(ws.started_at.desc())
            .limit(limit)
        )
        return [(r[0], r[1]) for r in rows]


@dataclass(frozen=True)
class SessionDetail:
    session: core.Session
    client_name: str | None
    items: list[work.WorkItem]
    commands: list[work.CommandRun]


def session_detail(rt: Runtime, actor: Actor, session_id: uuid.UUID) -> SessionDetail:
    """One session with its work items and commands."""
    _require_reader(actor)
    ws, cl, wi, cmd = core.Session, core.Client, work.WorkItem, work.CommandRun
    with rt.db.read() as s:
        row = s.scalars(select(ws).where(ws.id == session_id, *_visible(actor, ws))).one_or_none()
        if row is None:
            raise NotFoundError(f"no session {session_id}")
        client = s.get(cl, row.client_id) if row.client_id else None
        items = list(s.scalars(select(wi).where(wi.session_id == session_id).order_by(wi.created_at, wi.id)))
        commands = list(
            s.scalars(
                select(cmd)
                .where(cmd.session_id == session_id)
                .order_by(cmd.executed_at.desc(), cmd.id)
                .limit(200)
            )
        )
    return SessionDetail(row, client.name if client else None, items, commands)


# ---- what works where ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixCell:
    state: str  # "failed", "worked" or "unknown": the latest outcome recorded on that platform
    failed: int = 0
    worked: int = 0


@dataclass(frozen=True)
class WorksWhere:
    platforms: list[str]  # "Windows Server 2008 R2", "PowerShell 2.0", "BusyBox", …
    rows: list[tuple[str, list[MatrixCell]]]  # a culprit and its cell per platform


def platforms_of(host: infrastructure.Infrastructure) -> list[str]:
    """The matrix columns a host belongs to: its OS release, its PowerShell version, BusyBox."""
    out = []
    if host.os:
        out.append(f"{host.os} {host.os_version}".strip() if host.os_version else host.os)
    if host.powershell_version:
        out.append(f"PowerShell {host.powershell_version}")
    traits = host.traits or {}
    if traits.get("busybox") or (host.shell_type or "").lower() in ("ash", "busybox"):
        out.append("BusyBox")
    return out


def _platform_order(name: str) -> tuple[int, str]:
    return (1 if name.startswith("PowerShell ") else 2 if name == "BusyBox" else 0, name)


def _latest(cell: list[Any]) -> str:
    failed_at, worked_at = cell[2], cell[3]
    if worked_at is None or (failed_at is not None and failed_at > worked_at):
        return "failed"
    return "worked"


# The matrix reads every command run (a success names its culprit only in its text), so it is
# kept per runtime and client scope until the record changes: a command recorded or deleted,
# or a host edited (its platform). Checking that is two indexed aggregates.
_MATRICES: weakref.WeakKeyDictionary[Runtime, dict[Any, tuple[Any, WorksWhere]]] = weakref.WeakKeyDictionary()
_MATRICES_LOCK = threading.Lock()
_MATRICES_KEPT = 32  # client scopes per runtime


def works_where(rt: Runtime, actor: Actor, *, culprits: int = 40) -> WorksWhere:
    """Commands and culprits × platforms, learned from the record: for the ``culprits`` that
    failed most often, per OS release, PowerShell version and BusyBox, whether the latest run
    containing it there failed or worked, or nothing was recorded (unknown)."""
    _require_reader(actor)
    cmd, host = work.CommandRun, infrastructure.Infrastructure
    with rt.db.read() as s:
        stamp = (
            *s.execute(select(func.count(), func.max(cmd.created_at))).one(),
            s.scalar(select(func.max(host.updated_at))),
        )
    key = (actor.client_scope, culprits)
    with _MATRICES_LOCK:
        kept = _MATRICES.setdefault(rt, {}).get(key)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    matrix = _works_where(rt, actor, culprits)
    with _MATRICES_LOCK:
        matrices = _MATRICES.setdefault(rt, {})
        if len(matrices) >= _MATRICES_KEPT:
            matrices.clear()
        matrices[key] = (stamp, matrix)
    return matrix


def _works_where(rt: Runtime, actor: Actor, culprits: int) -> WorksWhere:
    cmd, host = work.CommandRun, infrastructure.Infrastructure
    with rt.db.read() as s:
        top = [
            str(row[0])
            for row in s.execute(
                select(cmd.culprit, func.count())
                .where(cmd.success.is_(False), cmd.culprit.is_not(None), *_visible(actor, cmd))
                .group_by(cmd.culprit)
                .order_by(func.count().desc(), cmd.culprit)
                .limit(culprits)
            )
        ]
        if not top:
            return WorksWhere([], [])
        # Counted in the database, per host: a failure names its culprit, a success only holds
        # it in its text (the first of the culprits it contains).
        named = cmd.culprit.in_(top)
        contained = case(*((cmd.command_text.contains(c, autoescape=True), c) for c in top), else_=None)
        tallies = []
        for success, key, cond in ((False, cmd.culprit, named), (True, contained, contained.is_not(None))):
            runs = (
                select(
                    key.label("culprit"), cmd.infrastructure_id.label("host_id"), cmd.executed_at.label("at")
                )
                .where(
                    cmd.success.is_(success), cmd.infrastructure_id.is_not(None), cond, *_visible(actor, cmd)
                )
                .subquery()
            )
            tallies += [
                (success, *row)
                for row in s.execute(
                    select(runs.c.culprit, runs.c.host_id, func.count(), func.max(runs.c.at)).group_by(
                        runs.c.culprit, runs.c.host_id
                    )
                )
            ]
        host_ids = {t[2] for t in tallies}
        platforms_by_host = (
            {
                h.id: platforms_of(h)
                for h in s.scalars(select(host).where(host.id.in_(host_ids), *_visible(actor, host)))
            }
            if host_ids
            else {}
        )
    # (culprit, platform) → [failed, worked, latest failure, latest success]
    cells: dict[tuple[str, str], list[Any]] = {}
    for success, culprit, host_id, count, latest in tallies:
        for platform in platforms_by_host.get(host_id, []):
            cell = cells.setdefault((str(culprit), platform), [0, 0, None, None])
            cell[1 if success else 0] += int(count)
            slot = 3 if success else 2
            if latest is not None and (cell[slot] is None or latest > cell[slot]):
                cell[slot] = latest
    platforms = sorted({p for _, p in cells}, key=_platform_order)
    rows = [
        (
            culprit,
            [
                MatrixCell(_latest(c), c[0], c[1])
                if (c := cells.get((culprit, p)))
                else MatrixCell("unknown")
                for p in platforms
            ],
        )
        for culprit in top
    ]
    return WorksWhere(platforms, rows)
