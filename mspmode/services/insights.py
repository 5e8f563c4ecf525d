"""Environmental insights over the database: written from the active failure patterns and the
hosts' facts, kept current, and rendered as a client's insights.md.

    refresh(rt, actor)                    msp insights, GET /api/clients/{id}/insights.md
    insights_markdown(rt, actor, client)  the file, after a refresh
    refresh_in(session)                   the same, in the caller's transaction

An insight is one pattern's lesson about one host, resting on the host's facts when it was
learned (``engine.insights.basis_of``). Its id is derived from pattern, host and those facts,
so a refresh updates the same rows (``verification_count`` and ``last_verified`` follow the
failures seen; nothing is incremented) and:

- **creates** the insight when a pattern fails on a host often enough to be worth one;
- **verifies** it: every failure on that host raises ``verification_count`` and moves
  ``last_verified``; priority follows severity × frequency × recency;
- **supersedes** it when a better insight on the same host and subject (the culprit) appears —
  a confirmed one, one with a known alternative: the old row points at the new one;
- **deactivates** it when the host's facts change (its PowerShell is upgraded) or the pattern
  is no longer active. It comes back, on the new facts, only if the failure happens again.

Insights without ``source_pattern_id`` were written by a person and are never touched. Each
host's ``limitations`` and ``environmental_notes`` get the titles of its active insights: the
learned entries carry a ``[learned]`` mark and the notes a marked block, so what a technician
wrote there is kept.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mspmode.db import bulk
from mspmode.db.base import utcnow
from mspmode.engine import insights as engine_insights
from mspmode.errors import NotFoundError, PermissionDeniedError
from mspmode.models.core import Client
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import EnvironmentalInsight, FailurePattern
from mspmode.models.work import CommandRun
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of

_NAMESPACE = uuid.UUID("a4f0c6de-2b7e-4c51-8f3d-91e8b5a2c7f4")
_INS = table_of(EnvironmentalInsight)
_HOST = table_of(Infrastructure)
_PAT = table_of(FailurePattern)
_CMD = table_of(CommandRun)
LEARNED = "[learned] "
NOTES_START = "<!-- msp:insights -->"
NOTES_END = "<!-- /msp:insights -->"


def insight_id(pattern_id: uuid.UUID, host_id: uuid.UUID, basis: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{pattern_id}|{host_id}|{basis}")


def _facts(h: Any) -> engine_insights.HostFacts:
    return engine_insights.HostFacts(
        name=h.hostname,
        ip_address=h.ip_address,
        os=h.os,
        os_version=h.os_version,
        shell_type=h.shell_type,
        powershell_version=h.powershell_version,
    )


def refresh_in(session: Session, client_id: uuid.UUID | None = None) -> dict[str, int]:
    """Bring the learned insights (of ``client_id``'s hosts, or all) up to date; counts."""
    now = utcnow()
    host_stmt = select(_HOST)
    if client_id is not None:
        host_stmt = host_stmt.where(_HOST.c.client_id == client_id)
    hosts = {h.id: h for h in session.execute(host_stmt)}
    report = {"created": 0, "updated": 0, "deactivated": 0, "superseded": 0, "hosts_noted": 0}
    if not hosts:
        return report
    host_ids = list(hosts)
    # Evidence per (pattern, host): the failures recorded there.
    evidence: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, datetime]] = {}
    ev_stmt = (
        select(
            _CMD.c.failure_pattern_id, _CMD.c.infrastructure_id, func.count(), func.max(_CMD.c.executed_at)
        )
        .where(_CMD.c.success.is_(False), _CMD.c.failure_pattern_id.is_not(None))
        .group_by(_CMD.c.failure_pattern_id, _CMD.c.infrastructure_id)
    )
    if client_id is not None:
        ev_stmt = ev_stmt.where(_CMD.c.infrastructure_id.in_(host_ids))
    else:
        ev_stmt = ev_stmt.where(_CMD.c.infrastructure_id.is_not(None))
    for pid, hid, count, last in session.execute(ev_stmt):
        if hid in hosts:
            evidence[(pid, hid)] = (int(count), last)
    # Patterns entered for one host (by a person, or an operation's pattern) count as evidence too.
    direct = select(_PAT).where(_PAT.c.infrastructure_id.in_(host_ids))
    patterns = {p.id: p for p in session.execute(direct)}
    for row in patterns.values():
        evidence.setdefault((row.id, row.infrastructure_id), (int(row.occurrence_count or 1), row.last_seen))
    missing = list({pid for pid, _ in evidence} - set(patterns))
    for i in range(0, len(missing), 500):
        for row in session.execute(select(_PAT).where(_PAT.c.id.in_(missing[i : i + 500]))):
            patterns[row.id] = row
    existing = {
        r.id: r
        for r in session.execute(
            select(_INS).where(_INS.c.source_pattern_id.is_not(None), _INS.c.infrastructure_id.in_(host_ids))
        )
    }
    by_pair: dict[tuple[uuid.UUID, uuid.UUID], list[Any]] = defaultdict(list)
    for r in existing.values():
        by_pair[(r.source_pattern_id, r.infrastructure_id)].append(r)

    wanted: dict[uuid.UUID, dict[str, Any]] = {}
    subjects: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
    for (pid, hid), (count, last) in evidence.items():
        p = patterns.get(pid)
        if p is None or not p.is_active:
            continue
        host = _facts(hosts[hid])
        facts = engine_insights.PatternFacts(
            id=str(pid),
            failure_class=p.failure_class or p.pattern_type,
            pattern_signature=p.pattern_signature,
            severity=p.severity,
            confidence_level=p.confidence_level,
            culprit=p.culprit,
            root_cause=p.root_cause or "",
            recommended_solution=p.recommended_solution or "",
            workaround_commands=tuple(str(w) for w in p.workaround_commands or []),
            triggering_commands=tuple(str(c) for c in p.triggering_commands or []),
            typical_error_messages=tuple(str(m) for m in p.typical_error_messages or []),
            is_transient=bool(p.is_transient),
            occurrences=count,
            last_seen=last,
        )
        d = engine_insights.draft(facts, host, now)
        if d is None:
            continue
        iid = insight_id(pid, hid, d.basis)
        if iid not in existing:
            # A host whose facts changed since: learned again only from a failure seen since.
            stale = [r for r in by_pair.get((pid, hid), []) if r.id != iid]
            if stale and all(r.last_verified is not None and last <= r.last_verified for r in stale):
                continue
        wanted[iid] = {
            "id": iid,
            "client_id": hosts[hid].client_id,
            "infrastructure_id": hid,
            "insight_category": d.category,
            "insight_title": d.title,
            "insight_description": d.description,
            "examples": d.examples,
            "affected_operations": d.affected_operations,
            "source_pattern_id": pid,
            "confidence_level": d.confidence_level,
            "verification_count": d.verification_count,
            "last_verified": d.last_verified,
            "priority": d.priority,
            "is_active": True,
            "superseded_by": None,
            "updated_at": now,
        }
        subjects[iid] = (hid, (p.culprit or p.pattern_signature).strip().lower())
    # One active insight per host and subject: the best supersedes the rest.
    groups: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = defaultdict(list)
    for iid, key in subjects.items():
        groups[key].append(iid)

    def rank(iid: uuid.UUID) -> tuple[str | None, bool, int, datetime | None]:
        w = wanted[iid]
        has_fix = bool(patterns[w["source_pattern_id"]].workaround_commands)
        return (w["confidence_level"], has_fix, w["priority"], w["last_verified"])

    for members in groups.values():
        if len(members) < 2:
            continue
        best = members[0]
        for m in members[1:]:
            if engine_insights.better(rank(m), rank(best)):
                best = m
        for m in members:
            if m != best:
                wanted[m]["is_active"], wanted[m]["superseded_by"] = False, best
                report["superseded"] += int(existing.get(m) is None or existing[m].superseded_by != best)
    new = [dict(w, created_at=now) for iid, w in wanted.items() if iid not in existing]
    changed = [w for iid, w in wanted.items() if iid in existing and _differs(existing[iid], w)]
    gone = [
        {"id": r.id, "is_active": False, "updated_at": now}
        for r in existing.values()
        if r.id not in wanted and r.is_active
    ]
    connection = session.connection()
    # New rows first: an update may point superseded_by at one of them.
    bulk.insert_many(connection, _INS, [dict(w, superseded_by=None) for w in new])
    pointers = [{"id": w["id"], "superseded_by": w["superseded_by"]} for w in new if w["superseded_by"]]
    bulk.update_many(connection, _INS, changed)
    bulk.update_many(connection, _INS, pointers)
    bulk.update_many(connection, _INS, gone)
    report["created"], report["updated"], report["deactivated"] = len(new), len(changed), len(gone)
    noted = [pid for pid, _ in evidence if any(w["source_pattern_id"] == pid for w in wanted.values())]
    if noted:
        flags = [
            {"id": pid, "added_to_insights": True}
            for pid in set(noted)
            if not patterns[pid].added_to_insights
        ]
        bulk.update_many(connection, _PAT, flags)
    report["hosts_noted"] = _note_hosts(session, hosts, wanted)
    return report


def _differs(row: Any, values: dict[str, Any]) -> bool:
    return any(getattr(row, k) != v for k, v in values.items() if k not in ("updated_at",))


def _note_hosts(
    session: Session, hosts: dict[uuid.UUID, Any], wanted: dict[uuid.UUID, dict[str, Any]]
) -> int:
    titles: dict[uuid.UUID, list[tuple[int, str]]] = defaultdict(list)
    for w in wanted.values():
        if w["is_active"]:
            titles[w["infrastructure_id"]].append((w["priority"], w["insight_title"]))
    updates = []
    for hid, h in hosts.items():
        mine = [t for _, t in sorted(titles.get(hid, []), key=lambda x: (-x[0], x[1]))]
        kept = [x for x in (h.limitations or []) if not (isinstance(x, str) and x.startswith(LEARNED))]
        limitations = kept + [LEARNED + t for t in mine]
        notes = _notes_with(h.environmental_notes, mine)
        if limitations != (h.limitations or []) or notes != h.environmental_notes:
            updates.append({"id": hid, "limitations": limitations or None, "environmental_notes": notes})
    bulk.update_many(session.connection(), _HOST, updates)
    return len(updates)


def _notes_with(notes: str | None, titles: list[str]) -> str | None:
    text = notes or ""
    start, end = text.find(NOTES_START), text.find(NOTES_END)
    if start != -1 and end > start:
        text = (text[:start].rstrip() + "\n" + text[end + len(NOTES_END) :].lstrip()).strip()
    if titles:
        block = "\n".join([NOTES_START, "Learned from failures:", *(f"- {t}" for t in titles), NOTES_END])
        text = f"{text}\n\n{block}" if text else block
    return text or None


# --------------------------------------------------------------------------------------------
# Service calls


def _require_reader(actor: Actor) -> None:
    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")


def refresh(rt: Runtime, actor: Actor, client_id: uuid.UUID | None = None) -> dict[str, int]:
    """Refresh the learned insights (one client's, or all) in one audited transaction."""
    _require_reader(actor)
    if not actor.has_role("technician"):
        raise PermissionDeniedError(f"role {actor.role} may not update insights (needs technician)")
    if client_id is None and actor.client_scope is not None:
        out: dict[str, int] = defaultdict(int)
        for cid in sorted(actor.client_scope):
            for k, v in refresh(rt, actor, cid).items():
                out[k] += v
        return dict(out)
    if client_id is not None and actor.client_scope is not None and client_id not in actor.client_scope:
        raise NotFoundError(f"no client {client_id}")
    with rt.db.write() as s:
        report = refresh_in(s, client_id)
        if any(report[k] for k in ("created", "updated", "deactivated", "superseded")):
            audit.record(
                s,
                rt.audit_signer,
                actor,
                "update",
                "environmental_insights",
                None,
                {**report, "client_id": client_id, "source": "insights refresh"},
            )
    return report


def resolve_client(rt: Runtime, actor: Actor, ident: str | uuid.UUID) -> tuple[uuid.UUID, str]:
    """A client visible to ``actor`` by id or name (case-insensitive); NotFoundError naming
    the clients that exist otherwise."""
    _require_reader(actor)
    with rt.db.read() as s:
        stmt = select(Client.id, Client.name)
        if actor.client_scope is not None:
            stmt = stmt.where(Client.id.in_(list(actor.client_scope)))
        clients = list(s.execute(stmt.order_by(Client.name)))
    text = str(ident).strip()
    for cid, name in clients:
        if str(cid) == text.lower() or name.lower() == text.lower():
            return cid, name
    names = ", ".join(name for _, name in clients[:50]) or "none"
    raise NotFoundError(f"no client {text!r}; clients: {names}")


def insights_markdown(
    rt: Runtime, actor: Actor, client: str | uuid.UUID, *, refresh_first: bool = True
) -> str:
    """The client's insights.md (seed 000's shape): refreshed first when the actor may write."""
    cid, name = resolve_client(rt, actor, client)
    if refresh_first and actor.has_role("technician"):
        from mspmode.services import recovery

        recovery.catch_up(rt, actor)
        refresh(rt, actor, cid)
    with rt.db.read() as s:
        hosts = list(s.execute(select(_HOST).where(_HOST.c.client_id == cid).order_by(_HOST.c.hostname)))
        rows = list(
            s.execute(
                select(_INS)
                .where(_INS.c.client_id == cid, _INS.c.is_active.is_(True))
                .order_by(_INS.c.priority.desc(), _INS.c.insight_title)
            )
        )
    per_host: dict[uuid.UUID | None, list[tuple[str, str, str, list[str], int]]] = defaultdict(list)
    for r in rows:
        per_host[r.infrastructure_id].append(
            (
                r.insight_category,
                r.insight_title,
                r.insight_description,
                [str(e) for e in r.examples or []],
                r.priority,
            )
        )
    sections = [
        engine_insights.HostSection(
            host=_facts(h),
            insights=per_host.get(h.id, []),
            limitations=[
                x for x in (h.limitations or []) if isinstance(x, str) and not x.startswith(LEARNED)
            ],
        )
        for h in hosts
    ]
    if per_host.get(None):
        sections.insert(
            0,
            engine_insights.HostSection(
                host=engine_insights.HostFacts(name="All hosts"), insights=per_host[None]
            ),
        )
    return engine_insights.render_markdown(name, sections, utcnow())


__all__ = ["insight_id", "insights_markdown", "refresh", "refresh_in", "resolve_client"]
