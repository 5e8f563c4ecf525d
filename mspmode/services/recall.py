"""Context recall, wired to the database: gather what is remembered about a client, project,
hosts and a query, let the engine score it (``engine/recall.py``), count what was used; and
save new contexts — compressed (``engine/compress.py``), redacted, audited.

    recall(rt, actor, RecallRequest(client="Acme", query="gpo dc01", hosts=("DC01",)))
    save_context(rt, actor, ContextIn(title=..., text=..., client="Acme"), supersedes=old_id)
    save_transcript(rt, actor, lines, client="Acme")     # a Claude Code transcript (JSONL)

Candidates come from every recall table: conversation contexts (full-text search through
``db/search.py`` when there is a query, plus the client's most important and newest), context
snippets (the standing facts; a host's hard constraints by its infrastructure id), decisions,
project states, open pending tasks and environmental insights of the hosts in play. Superseded
or inactive rows are never recalled; replacing a fact marks the old row (``superseded_by``), it
does not delete it.

Usage counters (``usage_count``, ``last_used_at``) are statistics, bumped in their own short
transaction without an audit row per recall (the audit log records changes of content). A
caller that answers someone (the API, ``msp recall``) recalls with ``touch=False`` and calls
:func:`mark_used` after answering: nobody waits for the bookkeeping.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from mspmode.db import search
from mspmode.engine import compress as compressor
from mspmode.engine.memory import host_key, host_name
from mspmode.engine.recall import (
    DEFAULT_BUDGET_TOKENS,
    DEFAULT_HALF_LIFE_DAYS,
    MAX_CHARS,
    Candidate,
    RecallQuery,
    RecallResult,
)
from mspmode.engine.recall import recall as rank_and_assemble
from mspmode.errors import NotFoundError, ValidationError
from mspmode.models import core, infrastructure, learning, recall
from mspmode.services import capture, crud
from mspmode.services.actor import Actor
from mspmode.services.crud import ResourceSpec
from mspmode.services.resources import SPECS
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of
from mspmode.vault.redact import redact

CONTEXTS = SPECS["conversation-contexts"]
SNIPPETS = SPECS["context-snippets"]
PROJECT_STATES = SPECS["project-states"]
DECISIONS = SPECS["decision-logs"]

MAX_BUDGET_TOKENS = MAX_CHARS // 4
# How many rows of each kind reach the scorer: enough that the best are among them, few
# enough that recall over 100k contexts stays a handful of indexed queries.
SEARCH_LIMIT = 30
# SQLite: the newest this many matches of the query are looked at for the client's (bounded
# cost for common words; recall favours recent facts anyway).
SEARCH_WINDOW = 5000
RECENT_LIMIT = 20
SNIPPET_LIMIT = 30
QUERY_WORDS = 8
# Words of a prompt that say nothing about what to recall.
_STOPWORDS = frozenset(
    "the and for are was were has have had not but you your our this that these those with from into "
    "what why how when where who which can could would should will does did doing done please again "
    "also just some any all there here then than them they its it's let let's now check fix make need "
    "want see look use using get got about after before over under more most very".split()
)
OPEN_TASK_STATUSES = ("pending", "in_progress", "blocked")
HOST_CONSTRAINT = "constraint"


@dataclass(frozen=True)
class RecallRequest:
    """What to recall for: client and project by name or id, host names, a free-text query
    (a prompt or a command), wanted tags, and the budget in tokens (≤ 2,500: 10,000 chars)."""

    client: str | None = None
    project: str | None = None
    query: str = ""
    hosts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    touch: bool = True
    now: datetime | None = None


@dataclass
class Recalled:
    """The engine's result plus what the request resolved to."""

    result: RecallResult
    client_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    host_ids: list[uuid.UUID] = field(default_factory=list)
    candidates: int = 0

    @property
    def markdown(self) -> str:
        return self.result.markdown

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.result.to_dict(),
            "client_id": str(self.client_id) if self.client_id else None,
            "project_id": str(self.project_id) if self.project_id else None,
            "host_ids": [str(h) for h in self.host_ids],
            "candidates": self.candidates,
        }


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text).strip())
    except ValueError:
        return None


def _visible(actor: Actor, model: Any) -> list[Any]:
    return crud.visible_to(actor, table_of(model))


def resolve_client(session: Session, actor: Actor, ref: str) -> core.Client:
    """A client by id or name (case-insensitive), among those the actor may see."""
    c = core.Client
    ident = _uuid(ref)
    cond = c.id == ident if ident else func.lower(c.name) == ref.strip().lower()
    row = session.scalars(select(c).where(cond, *_visible(actor, c))).first()
    if row is None:
        raise NotFoundError(f"no client {ref!r}")
    return row


def resolve_project(session: Session, actor: Actor, ref: str, client_id: uuid.UUID | None) -> core.Project:
    p = core.Project
    ident = _uuid(ref)
    cond = p.id == ident if ident else func.lower(p.name) == ref.strip().lower()
    stmt = select(p).where(cond, *_visible(actor, p))
    if client_id is not None:
        stmt = stmt.where(p.client_id == client_id)
    rows = list(session.scalars(stmt.limit(2)))
    if not rows:
        raise NotFoundError(f"no project {ref!r}" + (" for that client" if client_id else ""))
    if len(rows) > 1:
        raise ValidationError(f"several projects are called {ref!r}: give the client or the project's id")
    return rows[0]


def resolve_hosts(
    session: Session, actor: Actor, names: Iterable[str], client_id: uuid.UUID | None
) -> list[infrastructure.Infrastructure]:
    """Hosts answering to any of ``names`` (hostname, FQDN, IP or id); unknown names are
    skipped — a prompt may name hosts nobody recorded."""
    given = [n for n in names if n and n.strip()]
    # As host_key compares them, and as the database's lower() folds a stored NFKC name.
    wanted = sorted({host_key(n) for n in given} | {host_name(n).lower() for n in given})
    if not wanted:
        return []
    h = infrastructure.Infrastructure
    ids = [u for u in (_uuid(n) for n in wanted) if u]
    conds = [func.lower(h.hostname).in_(wanted), func.lower(h.fqdn).in_(wanted), h.ip_address.in_(wanted)]
    if ids:
        conds.append(h.id.in_(ids))
    stmt = select(h).where(or_(*conds), *_visible(actor, h))
    if client_id is not None:
        stmt = stmt.where(or_(h.client_id == client_id, h.client_id.is_(None)))
    return list(session.scalars(stmt.limit(50)))


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _tags(value: Any) -> tuple[str, ...]:
    return tuple(str(t) for t in value) if isinstance(value, list) else ()


def _context_ids(session: Session, query: str, client_id: uuid.UUID | None) -> list[uuid.UUID]:
    """The newest contexts (of the client, when there is one) with any of the query's
    significant words, by the backend's full-text index. Any word, not all: a prompt rarely
    repeats all the words of what it should recall; the engine ranks by how many match."""
    words = [w for w in search.query_words(query) if len(w) >= 3 and w.lower() not in _STOPWORDS]
    words = sorted(dict.fromkeys(words), key=len, reverse=True)[:QUERY_WORDS]
    if not words:
        return []
    filters: dict[str, Any] = {"is_active": True}
    if client_id is not None:
        filters["client_id"] = client_id
    hits = search.search(
        session,
        "conversation_contexts",
        " ".join(words),
        limit=SEARCH_LIMIT,
        filters=filters,
        order="recent",
        match="any",
        snippets=False,
        window=SEARCH_WINDOW,
    )
    return [h.id for h in hits]


def _live_by_owner(
    session: Session,
    actor: Actor,
    model: Any,
    client_id: uuid.UUID | None,
    order: Sequence[Any],
    limit: int,
    more: Sequence[Any] = (),
) -> list[Any]:
    """Active, not superseded rows of ``model`` for the client and general ones (no client),
    plus those matching any of ``more``: one query per condition, each on its own index (an
    OR, or the is_active flag in SQL, makes the planner walk another index over every row)."""
    conds = [model.client_id == client_id] if client_id is not None else []
    out: dict[Any, Any] = {}
    for cond in [*conds, model.client_id.is_(None), *more]:
        # Plain rows, not ORM objects: only read, and many.
        stmt = select(table_of(model)).where(cond, *_visible(actor, model)).order_by(*order).limit(limit)
        for row in session.execute(stmt):
            if row.is_active and row.superseded_by is None:
                out.setdefault(row.id, row)
    return list(out.values())


def _candidates(
    session: Session,
    actor: Actor,
    req: RecallRequest,
    client_id: uuid.UUID | None,
    project_id: uuid.UUID | None,
    hosts: Sequence[infrastructure.Infrastructure],
) -> list[Candidate]:
    out: list[Candidate] = []
    host_name = {h.id: h.hostname for h in hosts}
    host_ids = list(host_name)

    cc = recall.ConversationContext
    cols = (
        cc.id,
        cc.title,
        cc.dense_summary,
        cc.importance,
        cc.updated_at,
        cc.usage_count,
        cc.tags,
        cc.client_id,
        cc.project_id,
        cc.is_active,
        cc.superseded_by,
    )
    ids = _context_ids(session, req.query, client_id) if req.query else []
    # Only the client (or no client) and scope in SQL, so the planner walks the client_id
    # index; replaced and inactive rows, rare, are dropped below. The client's and the general
    # ones in two queries: an OR of the two would walk the importance index over every row.
    rows = []
    for owner in [client_id, None] if client_id is not None else [None]:
        recent = (
            select(*cols)
            .where(cc.client_id.is_(None) if owner is None else cc.client_id == owner, *_visible(actor, cc))
            .order_by(cc.importance.desc(), cc.updated_at.desc())
            .limit(RECENT_LIMIT)
        )
        rows += list(session.execute(recent))
    seen = {r.id for r in rows}
    ids = [i for i in ids if i not in seen]
    if ids:
        rows += list(session.execute(select(*cols).where(cc.id.in_(ids), *_visible(actor, cc))))
    rows = [r for r in rows if r.is_active and r.superseded_by is None]
    for r in rows:
        out.append(
            Candidate(
                id=f"context:{r.id}",
                kind="context",
                title=r.title,
                body=r.dense_summary,
                importance=r.importance,
                updated_at=r.updated_at,
                usage_count=r.usage_count,
                tags=_tags(r.tags),
                client=_s(r.client_id),
                project=_s(r.project_id),
            )
        )

    sn = recall.ContextSnippet
    by_host = [sn.infrastructure_id.in_(host_ids)] if host_ids else []
    snippets = _live_by_owner(
        session, actor, sn, client_id, (sn.importance.desc(), sn.updated_at.desc()), SNIPPET_LIMIT, by_host
    )
    for snip in snippets:
        host = host_name.get(snip.infrastructure_id) if snip.infrastructure_id else None
        if snip.infrastructure_id and host is None:
            continue  # a constraint of a host not in play
        out.append(
            Candidate(
                id=f"snippet:{snip.id}",
                kind=HOST_CONSTRAINT
                if host and (snip.category == "constraint" or not snip.decays)
                else "snippet",
                title=snip.title,
                body=snip.dense_content,
                importance=snip.importance,
                updated_at=snip.updated_at,
                usage_count=snip.usage_count,
                tags=_tags(snip.tags),
                client=_s(snip.client_id),
                project=_s(snip.project_id),
                host=host,
                decays=snip.decays,
            )
        )

    dl = recall.DecisionLog
    decisions = _live_by_owner(session, actor, dl, client_id, (dl.updated_at.desc(),), RECENT_LIMIT)
    impact = {"low": 3, "medium": 5, "high": 7, "critical": 9}
    for dec in decisions:
        body = dec.decision_text if not dec.rationale else f"{dec.decision_text} — because {dec.rationale}"
        out.append(
            Candidate(
                id=f"decision:{dec.id}",
                kind="decision",
                title=f"{dec.decision_type} decision",
                body=body,
                importance=impact.get(dec.impact, 5),
                updated_at=dec.updated_at,
                tags=_tags(dec.tags),
                client=_s(dec.client_id),
                project=_s(dec.project_id),
            )
        )

    ps = recall.ProjectState
    p = core.Project
    states = select(ps, p.name, p.client_id).join(p, p.id == ps.project_id).where(*_visible(actor, ps))
    if project_id is not None:
        states = states.where(ps.project_id == project_id)
    elif client_id is not None:
        states = states.where(p.client_id == client_id, p.status == "active")
    else:
        states = states.where(p.id.is_(None))
    for st, name, owner in session.execute(states.limit(5)):
        parts = [f"phase {st.current_phase}" if st.current_phase else "", f"{st.progress_percentage}% done"]
        if st.blockers:
            parts.append("blockers: " + "; ".join(map(str, st.blockers)))
        if st.next_actions:
            parts.append("next: " + "; ".join(map(str, st.next_actions)))
        if st.context_summary:
            parts.append(st.context_summary)
        out.append(
            Candidate(
                id=f"project_state:{st.id}",
                kind="project_state",
                title=f"Project {name}",
                body=", ".join(x for x in parts if x),
                importance=7,
                updated_at=st.updated_at,
                client=_s(owner),
                project=_s(st.project_id),
            )
        )

    pt = core.PendingTask
    if client_id is not None or project_id is not None:
        tasks = select(pt).where(pt.status.in_(OPEN_TASK_STATUSES), *_visible(actor, pt))
        tasks = (
            tasks.where(pt.project_id == project_id) if project_id else tasks.where(pt.client_id == client_id)
        )
        for task in session.scalars(tasks.order_by(pt.updated_at.desc()).limit(20)):
            pri = {"low": 3, "medium": 5, "high": 7, "urgent": 9, "critical": 9}.get(
                (task.priority or "").lower(), 5
            )
            body = task.description or ""
            if task.status == "blocked" and task.blocked_by:
                body = f"blocked by {task.blocked_by}. {body}"
            out.append(
                Candidate(
                    id=f"task:{task.id}",
                    kind="task",
                    title=f"[{task.status}] {task.title}",
                    body=body,
                    importance=pri,
                    updated_at=task.updated_at,
                    client=_s(task.client_id),
                    project=_s(task.project_id),
                )
            )

    ei = learning.EnvironmentalInsight
    if host_ids or client_id is not None:
        conds: list[Any] = []
        if host_ids:
            conds.append(ei.infrastructure_id.in_(host_ids))
        if client_id is not None:
            conds.append((ei.client_id == client_id) & ei.infrastructure_id.is_(None))
        insights = select(ei).where(
            ei.is_active.is_(True), ei.superseded_by.is_(None), or_(*conds), *_visible(actor, ei)
        )
        for ins in session.scalars(insights.order_by(ei.priority.desc()).limit(RECENT_LIMIT)):
            out.append(
                Candidate(
                    id=f"insight:{ins.id}",
                    kind="insight",
                    title=ins.insight_title,
                    body=ins.insight_description,
                    importance=ins.priority,
                    updated_at=ins.last_verified or ins.updated_at,
                    client=_s(ins.client_id),
                    host=host_name.get(ins.infrastructure_id) if ins.infrastructure_id else None,
                    # What a host cannot do stays true until someone changes the host.
                    decays=False,
                )
            )
    return out


def recall_context(rt: Runtime, actor: Actor, req: RecallRequest) -> Recalled:
    """Recalled context as markdown within the budget, best facts first; counts the contexts
    and snippets used. An unknown client or project is a NotFoundError; unknown hosts are
    ignored."""
    if not 1 <= req.budget_tokens <= MAX_BUDGET_TOKENS:
        raise ValidationError(f"budget must be between 1 and {MAX_BUDGET_TOKENS} tokens")
    if len(req.query) > 20_000:
        raise ValidationError("query is too long (at most 20,000 characters)")
    with rt.db.read() as session:
        client = resolve_client(session, actor, req.client) if req.client else None
        client_id = client.id if client else None
        project = resolve_project(session, actor, req.project, client_id) if req.project else None
        if project is not None and client_id is None:
            client_id = project.client_id
        hosts = resolve_hosts(session, actor, req.hosts, client_id)
        candidates = _candidates(session, actor, req, client_id, project.id if project else None, hosts)
    query = RecallQuery(
        query=req.query,
        client=_s(client_id),
        project=_s(project.id) if project else None,
        hosts=tuple(h.hostname for h in hosts),
        tags=req.tags,
        now=req.now,
        half_life_days=req.half_life_days,
        budget_tokens=req.budget_tokens,
    )
    result = rank_and_assemble(candidates, query)
    if req.touch and result.used:
        mark_used(rt, result.used)
    return Recalled(
        result, client_id, project.id if project else None, [h.id for h in hosts], candidates=len(candidates)
    )


def mark_used(rt: Runtime, used: Iterable[str]) -> None:
    """Bump usage of the recalled contexts and snippets (ids as ``kind:uuid``); nothing to do
    for none."""
    by_kind: dict[str, list[uuid.UUID]] = {}
    for item in used:
        kind, _, ident = item.partition(":")
        u = _uuid(ident)
        if u is not None:
            by_kind.setdefault(kind, []).append(u)
    if not by_kind:
        return
    now = datetime.now(UTC)
    with rt.db.write() as session:
        connection = session.connection()  # Core, not the ORM: a recall's write is on its clock
        for kind, stmt in _BUMP.items():
            ids = by_kind.get(kind)
            if ids:
                connection.execute(stmt, {"ids": ids, "now": now})


def _bump(model: Any) -> Any:
    table = table_of(model)
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .values(usage_count=table.c.usage_count + 1, last_used_at=bindparam("now"))
    )


_BUMP = {"context": _bump(recall.ConversationContext), "snippet": _bump(recall.ContextSnippet)}


# ---- saving -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextIn:
    """A context to remember. ``text`` longer than ``COMPRESS_OVER`` characters is compressed
    (decisions, commands, errors, paths, hosts and credential names are kept)."""

    title: str
    text: str
    client: str | None = None
    project: str | None = None
    context_type: str = "general_context"
    importance: int = 5
    tags: tuple[str, ...] = ()
    session_id: uuid.UUID | None = None


COMPRESS_OVER = 2000


def _scope_ids(session: Session, actor: Actor, client: str | None, project: str | None) -> dict[str, Any]:
    client_id = resolve_client(session, actor, client).id if client else None
    project_row = resolve_project(session, actor, project, client_id) if project else None
    if project_row is not None and client_id is None:
        client_id = project_row.client_id
    return {"client_id": client_id, "project_id": project_row.id if project_row else None}


def save_context(rt: Runtime, actor: Actor, ctx: ContextIn, *, supersedes: uuid.UUID | None = None) -> Any:
    """Store a conversation context (redacted, audited); when it replaces an earlier one, the
    earlier row is marked ``superseded_by`` and inactive, not deleted. Returns the new row."""
    if not ctx.title.strip() or not ctx.text.strip():
        raise ValidationError("a context needs a title and some text")
    known = rt.known_secrets
    text = ctx.text
    source_tokens = compressed_tokens = None
    if len(text) > COMPRESS_OVER:
        packed = compressor.compress_text(text, redact=lambda s: redact(s, known))
        if packed.facts.commands or packed.facts.decisions or packed.facts.errors:
            source_tokens, compressed_tokens = packed.source_tokens, packed.compressed_tokens
            text = packed.summary
    with rt.db.read() as session:
        scope = _scope_ids(session, actor, ctx.client, ctx.project)
    values = {
        **scope,
        "session_id": ctx.session_id,
        "context_type": ctx.context_type,
        "title": ctx.title.strip()[:500],
        "dense_summary": text,
        "importance": ctx.importance,
        "tags": list(ctx.tags) or None,
        "source_tokens": source_tokens,
        "compressed_tokens": compressed_tokens,
    }
    row = crud.create_row(rt, actor, CONTEXTS, values)
    if supersedes is not None:
        supersede(rt, actor, CONTEXTS, supersedes, row.id)
    return row


def supersede(rt: Runtime, actor: Actor, spec: ResourceSpec, old_id: uuid.UUID, new_id: uuid.UUID) -> Any:
    """Mark ``old_id`` replaced by ``new_id`` (same table); audited like any update."""
    if old_id == new_id:
        raise ValidationError("a row cannot supersede itself")
    return crud.update_row(rt, actor, spec, old_id, {"superseded_by": new_id, "is_active": False})


def save_transcript(
    rt: Runtime,
    actor: Actor,
    lines: Iterable[Any],
    *,
    title: str | None = None,
    client: str | None = None,
    project: str | None = None,
    session_id: uuid.UUID | None = None,
    importance: int = 5,
) -> Any:
    """Compress a Claude Code transcript (JSONL lines) into a ``session_summary`` context.
    Hosts known to the database are recognised where the prompt or prose names them."""
    known = rt.known_secrets
    with rt.db.read() as session:
        h = infrastructure.Infrastructure
        names = [n for (n,) in session.execute(select(h.hostname).where(*_visible(actor, h)).limit(2000))]
    packed = compressor.compress_transcript(lines, redact=lambda s: redact(s, known), known_hosts=names)
    facts = packed.facts
    heading = title or (facts.prompts[0] if facts.prompts else f"Session {facts.session_id or ''}".strip())
    with rt.db.read() as session:
        scope = _scope_ids(session, actor, client, project)
    values = {
        **scope,
        "session_id": session_id,
        "context_type": "session_summary",
        "title": capture.clean_text(rt, heading[:500]) or "Session",
        "dense_summary": packed.summary,
        "key_decisions": facts.decisions or None,
        "current_state": {
            "hosts": facts.hosts,
            "files": facts.files,
            "open": facts.todos,
            "failed_commands": sum(1 for c in facts.commands if c.failed),
        },
        "tags": facts.hosts[:10] or None,
        "importance": importance,
        "source_tokens": packed.source_tokens,
        "compressed_tokens": packed.compressed_tokens,
    }
    return crud.create_row(rt, actor, CONTEXTS, values)
