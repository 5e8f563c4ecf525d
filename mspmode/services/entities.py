"""The MSP's world for a person at a terminal: find clients, sites, hosts and services by the
names people use, show a host with what is known about it, and run the daily work loop
(start a session, log work, stop it).

Writes go through the generic CRUD service (``services/crud.py``) with the same resource
declarations the API uses, so the work rules of seed 002, scoping and the audit log apply
exactly as they do over HTTP. A name that matches nothing is answered with the closest
existing names (``difflib``), in one line.
"""

from __future__ import annotations

import difflib
import platform
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mspmode.engine.memory import host_key
from mspmode.errors import NotFoundError, ValidationError
from mspmode.models import core, infrastructure, learning, work
from mspmode.services import crud
from mspmode.services import current_session as current
from mspmode.services.actor import Actor
from mspmode.services.resources import SPECS
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of
from mspmode.settings import display_url

# ---- finding things by name ---------------------------------------------------------------------


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def not_found(kind: str, wanted: str, names: Iterable[str], *, where: str = "") -> NotFoundError:
    """ "no host 'dc1' for Acme; closest: DC01, DC02" — or the first few names when nothing is
    close, or how to add one when there are none."""
    pool = sorted({n for n in names if n})
    by_lower: dict[str, str] = {}
    for name in pool:
        by_lower.setdefault(name.lower(), name)
    close = [by_lower[m] for m in difflib.get_close_matches(wanted.lower(), list(by_lower), n=3, cutoff=0.5)]
    suffix = f" {where}" if where else ""
    if close:
        hint = f"closest: {', '.join(close)}"
    elif pool:
        shown = ", ".join(pool[:5]) + (f" (and {len(pool) - 5} more)" if len(pool) > 5 else "")
        hint = f"nothing close; known: {shown}"
    else:
        hint = f"there are none yet: add one with `msp {kind} add`"
    return NotFoundError(f"no {kind} {wanted!r}{suffix}; {hint}")


def _visible(actor: Actor, model: Any) -> list[Any]:
    return crud.visible_to(actor, table_of(model))


def find_client(session: Session, actor: Actor, ref: str) -> core.Client:
    """A client by id or by name (case does not matter)."""
    visible = _visible(actor, core.Client)
    rows = list(session.scalars(select(core.Client).where(*visible)))
    ident = _as_uuid(ref)
    for row in rows:
        if row.id == ident or row.name.lower() == ref.strip().lower():
            return row
    raise not_found("client", ref, (r.name for r in rows))


def find_project(session: Session, actor: Actor, client: core.Client, ref: str) -> core.Project:
    rows = list(session.scalars(select(core.Project).where(core.Project.client_id == client.id)))
    ident = _as_uuid(ref)
    for row in rows:
        if row.id == ident or row.name.lower() == ref.strip().lower() or (row.slug or "") == ref:
            return row
    raise not_found("project", ref, (r.name for r in rows), where=f"for {client.name}")


def find_site(session: Session, actor: Actor, client: core.Client, ref: str) -> infrastructure.Site:
    rows = list(
        session.scalars(select(infrastructure.Site).where(infrastructure.Site.client_id == client.id))
    )
    ident = _as_uuid(ref)
    for row in rows:
        if row.id == ident or row.name.lower() == ref.strip().lower():
            return row
    raise not_found("site", ref, (r.name for r in rows), where=f"for {client.name}")


def host_names(host: infrastructure.Infrastructure) -> list[str]:
    """Every name a host answers to: hostname, FQDN, IP address and aliases."""
    names = [host.hostname, host.fqdn, host.ip_address, *(str(a) for a in host.aliases or [])]
    return [n for n in names if n]


def find_host(
    session: Session, actor: Actor, ref: str, client: core.Client | None = None
) -> infrastructure.Infrastructure:
    """A host by id, hostname, FQDN, IP address or alias; within one client when given. Two
    clients' hosts with the same name need the client to tell them apart."""
    host_t = infrastructure.Infrastructure
    stmt = select(host_t).where(*_visible(actor, host_t))
    if client is not None:
        stmt = stmt.where(host_t.client_id == client.id)
    rows = list(session.scalars(stmt))
    ident = _as_uuid(ref)
    wanted = host_key(ref)
    hits = [r for r in rows if r.id == ident or wanted in (host_key(n) for n in host_names(r))]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ValidationError(f"{len(hits)} hosts answer to {ref!r}: give --client or the host's id")
    where = f"for {client.name}" if client is not None else ""
    raise not_found("host", ref, (r.hostname for r in rows), where=where)


def find_service(
    session: Session, actor: Actor, host: infrastructure.Infrastructure, ref: str
) -> infrastructure.Service:
    svc = infrastructure.Service
    rows = list(session.scalars(select(svc).where(svc.infrastructure_id == host.id)))
    ident = _as_uuid(ref)
    for row in rows:
        if row.id == ident or row.name.lower() == ref.strip().lower():
            return row
    raise not_found("service", ref, (r.name for r in rows), where=f"on {host.hostname}")


def find_tag(session: Session, actor: Actor, ref: str) -> core.Tag:
    rows = list(session.scalars(select(core.Tag)))
    ident = _as_uuid(ref)
    for row in rows:
        if row.id == ident or row.name.lower() == ref.strip().lower():
            return row
    raise not_found("tag", ref, (r.name for r in rows))


def resolve(rt: Runtime, actor: Actor, finder: Any, *args: Any) -> Any:
    """Run a ``find_*`` in a read transaction (rows come back detached and loaded)."""
    with rt.db.read() as session:
        return finder(session, actor, *args)


# ---- a host, with what is known about it --------------------------------------------------------


@dataclass(frozen=True)
class HostOverview:
    host: infrastructure.Infrastructure
    client_name: str | None
    site_name: str | None
    services: list[infrastructure.Service]
    insights: list[learning.EnvironmentalInsight]
    patterns: list[learning.FailurePattern]
    recent_failures: list[work.CommandRun]


def host_overview(rt: Runtime, actor: Actor, host_ref: str, client_ref: str | None = None) -> HostOverview:
    """Everything ``msp host show`` prints: traits, services, environmental notes, the active
    insights, the failure patterns seen on the host and its latest failed commands."""
    with rt.db.read() as session:
        client = find_client(session, actor, client_ref) if client_ref else None
        host = find_host(session, actor, host_ref, client)
        owner = session.get(core.Client, host.client_id) if host.client_id else None
        site = session.get(infrastructure.Site, host.site_id) if host.site_id else None
        svc = infrastructure.Service
        services = list(
            session.scalars(select(svc).where(svc.infrastructure_id == host.id).order_by(svc.name))
        )
        ins = learning.EnvironmentalInsight
        insights = list(
            session.scalars(
                select(ins)
                .where(ins.infrastructure_id == host.id, ins.is_active.is_(True))
                .order_by(ins.priority.desc(), ins.insight_title)
                .limit(20)
            )
        )
        fp = learning.FailurePattern
        patterns = list(
            session.scalars(
                select(fp)
                .where(fp.infrastructure_id == host.id, fp.is_active.is_(True))
                .order_by(fp.occurrence_count.desc(), fp.last_seen.desc())
                .limit(10)
            )
        )
        cmd = work.CommandRun
        failures = list(
            session.scalars(
                select(cmd)
                .where(cmd.infrastructure_id == host.id, cmd.success.is_(False))
                .order_by(cmd.executed_at.desc(), cmd.id)
                .limit(10)
            )
        )
    return HostOverview(
        host=host,
        client_name=owner.name if owner else None,
        site_name=site.name if site else None,
        services=services,
        insights=insights,
        patterns=patterns,
        recent_failures=failures,
    )


# ---- the work loop ------------------------------------------------------------------------------


def this_machine(rt: Runtime, actor: Actor) -> uuid.UUID:
    """The ``machines`` row of the computer msp runs on, added the first time it is needed."""
    hostname = socket.gethostname() or "localhost"
    with rt.db.read() as session:
        found = session.scalars(
            select(core.Machine.id).where(core.Machine.hostname == hostname).order_by(core.Machine.created_at)
        ).first()
    if found is not None:
        return found
    system = platform.system().lower()
    kind = {"linux": "linux", "darwin": "macos", "windows": "windows"}.get(system, "other")
    if kind == "linux" and "microsoft" in platform.release().lower():
        kind = "wsl"
    row = crud.create_row(
        rt,
        actor,
        SPECS["machines"],
        {"hostname": hostname, "platform": kind, "os_version": platform.release()[:100], "agent": "msp"},
    )
    return row.id


def running_session(rt: Runtime) -> current.CurrentSession | None:
    """The current session if it belongs to this database (a file left by another database
    is an error that names it, so work is not logged to a row that is not there)."""
    found = current.read(rt.settings)
    if found is None:
        return None
    here = display_url(rt.db.url)
    if found.database and found.database != here:
        raise ValidationError(
            f"the current session was started on {found.database}, not {here}: "
            "run `msp session stop --force` to forget it"
        )
    return found


def start_session(
    rt: Runtime,
    actor: Actor,
    *,
    client_ref: str,
    project_ref: str | None = None,
    title: str | None = None,
    billable: bool = True,
    working_directory: str | None = None,
    now: datetime | None = None,
) -> tuple[core.Session, current.CurrentSession]:
    """Open a session for a client (and project) and remember it as this machine's current one."""
    existing = running_session(rt)
    if existing is not None:
        raise ValidationError(
            f"session {existing.session_id} is already running since {existing.started_at}: "
            "`msp session stop` it first"
        )
    with rt.db.read() as session:
        client = find_client(session, actor, client_ref)
        project = find_project(session, actor, client, project_ref) if project_ref else None
    machine_id = this_machine(rt, actor)
    started = (now or datetime.now(UTC)).replace(microsecond=0)
    name = project.name if project else client.name
    row = crud.create_row(
        rt,
        actor,
        SPECS["sessions"],
        {
            "client_id": client.id,
            "project_id": project.id if project else None,
            "machine_id": machine_id,
            "session_title": (title or f"{name} {started:%Y-%m-%d %H:%M}")[:500],
            "status": "active",
            "started_at": started,
            "is_billable": billable,
            "working_directory": working_directory or str(Path.cwd()),
        },
    )
    remembered = current.CurrentSession(
        session_id=str(row.id),
        client_id=str(client.id),
        project_id=str(project.id) if project else None,
        machine_id=str(machine_id),
        started_at=started.isoformat(),
        database=display_url(rt.db.url),
    )
    current.write(rt.settings, remembered)
    return row, remembered


def stop_session(
    rt: Runtime, actor: Actor, *, summary: str | None = None, now: datetime | None = None
) -> core.Session:
    """End the current session (its duration and billable hours are derived) and forget it."""
    found = running_session(rt)
    if found is None:
        raise ValidationError("no session is running: start one with `msp session start --client C`")
    values: dict[str, Any] = {
        "ended_at": (now or datetime.now(UTC)).replace(microsecond=0),
        "status": "completed",
    }
    if summary:
        values["summary"] = summary
    try:
        row = crud.update_row(rt, actor, SPECS["sessions"], found.session_uuid, values)
    except NotFoundError:
        current.clear(rt.settings)
        raise NotFoundError(
            f"session {found.session_id} no longer exists; forgot it (start a new one)"
        ) from None
    current.clear(rt.settings)
    return row


def forget_session(rt: Runtime) -> bool:
    """Drop the current-session file without touching the database (``--force``)."""
    return current.clear(rt.settings)


def add_work(
    rt: Runtime,
    actor: Actor,
    text: str,
    *,
    category: str | None = None,
    minutes: int | None = None,
    billable: bool | None = None,
    session_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> work.WorkItem:
    """Log a finished piece of work in the current session (or ``session_id``).

    Its time is ``minutes`` when given; otherwise it ran from the end of the session's previous
    item (or the session's start) until now — seed 002's "start when created, end when
    completed". Billable and category follow the seed's rules unless given.
    """
    text = text.strip()
    if not text:
        raise ValidationError('say what was done: msp work add "Renewed the certificate on WEB1"')
    if minutes is not None and minutes < 0:
        raise ValidationError("--minutes cannot be negative")
    if session_id is None:
        found = running_session(rt)
        if found is None:
            raise ValidationError(
                "no session is running: `msp session start --client C` first, or give --session"
            )
        session_id = found.session_uuid
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    with rt.db.read() as session:
        ws = crud.get_row(rt, actor, SPECS["sessions"], session_id)
        wi = work.WorkItem
        last_end, count = session.execute(
            select(func.max(wi.completed_at), func.count()).where(wi.session_id == session_id)
        ).one()
    if minutes is not None:
        start = end - timedelta(minutes=minutes)
    else:
        start = max(_aware(ws.started_at), _aware(last_end)) if last_end else _aware(ws.started_at)
        start = min(start, end)
    values: dict[str, Any] = {
        "session_id": session_id,
        "title": text.splitlines()[0][:500],
        "description": text,
        "status": "completed",
        "started_at": start,
        "completed_at": end,
        "item_order": int(count or 0) + 1,
    }
    if category:
        values["category"] = category
    if billable is not None:
        values["is_billable"] = billable
    return crud.create_row(rt, actor, SPECS["work-items"], values)


def _aware(value: datetime) -> datetime:
    # SQLite and MariaDB hand back naive datetimes; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def names_of(rt: Runtime, model: Any, ids: Iterable[uuid.UUID | None]) -> Mapping[uuid.UUID, str]:
    """id → display name for clients, projects, hosts…: one query for a whole table."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    label = {core.Client: "name", core.Project: "name", infrastructure.Site: "name"}.get(model, "hostname")
    column = getattr(model, label)
    with rt.db.read() as session:
        return dict(session.execute(select(model.id, column).where(model.id.in_(wanted))).all())
