"""Using what was learned: pre-check a command, list, show and explain failure patterns, and
re-run the analysis over the whole history (``msp learn``).

Reads go through the caller's state (``state``, held by ``cache``): an actor limited to some
clients gets a state built from those clients' hosts and commands only, so another client's
failures, fixes and hosts never reach its pre-checks or explanations. A host of another
client is, to it, a host nobody recorded: a pre-check naming one answers exactly as for an
unknown name (``hosts``), so it cannot tell which names and addresses another client uses.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mspmode import engine
from mspmode.db.repository import Page, Repository
from mspmode.engine.explain import verdict_lines
from mspmode.engine.learn import take_touched
from mspmode.engine.memory import LOCAL, HostScope
from mspmode.engine.recovery import is_catastrophic
from mspmode.errors import NotFoundError, PermissionDeniedError, ValidationError
from mspmode.models.learning import CHECK_VERDICTS
from mspmode.models.learning import FailurePattern as PatternRow
from mspmode.models.work import CommandRun
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.capture import clean_text
from mspmode.services.learning import cache, hosts, persist, state, verdicts
from mspmode.services.learning.recorder import derived_values, resolution_text
from mspmode.services.learning.state import LearningState
from mspmode.services.learning.text import prepare_label, storable
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import scope_clause, table_of

_PATTERNS = Repository(PatternRow)
_COMMANDS = table_of(CommandRun)
MAX_CHECK_BATCH = 1_000


def _require_reader(actor: Actor) -> None:
    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")


# --------------------------------------------------------------------------------------------
# Pre-check


def check(
    rt: Runtime,
    actor: Actor,
    host: str | None,
    command: str,
    *,
    session_id: uuid.UUID | None = None,
    session: str | None = None,
) -> dict[str, Any]:
    """The ``msp check --json`` contract object for ``command`` on ``host``; the session it
    belongs to (``session_id`` or its ``session`` label), if given, says whose host a name
    several clients use means (a session the actor cannot see says nothing: a check is a
    question, and a hook whose session was deleted must still get its answer)."""
    return check_many(rt, actor, [(host, command)], session_id=session_id, session=session)[0]


def check_many(
    rt: Runtime,
    actor: Actor,
    items: list[tuple[str | None, str]],
    *,
    session_id: uuid.UUID | None = None,
    session: str | None = None,
) -> list[dict[str, Any]]:
    """Pre-check each (host, command) in order. The command is redacted before it is matched,
    as it was before it was stored, and the answer repeats it redacted: a check result is
    pasted into agent transcripts and hook logs, so it must not carry a secret either."""
    _require_reader(actor)
    if len(items) > MAX_CHECK_BATCH and actor.type != "cli":
        raise ValidationError(f"at most {MAX_CHECK_BATCH} checks in one request")
    out: list[dict[str, Any]] = []
    client = None
    label = prepare_label(session, 255)
    if session_id is not None or label:
        with rt.db.read() as s:
            client = hosts.session_client(s, actor, session_id=session_id, label=label)
    scope = hosts.host_scope(actor.client_scope, client)
    stopped: list[dict[str, Any]] = []
    with cache.lock_for(rt):
        st = cache.unchanged(rt, actor.client_scope)
        if st is None:
            with rt.db.read() as s:
                st = cache.current(rt, s, actor.client_scope)
        for host, command in items:
            host = host.strip() if isinstance(host, str) and host.strip() else None
            redacted = clean_text(rt, command) or ""
            result = engine.check(st.memory, host, storable(redacted), scope).to_dict()
            result["command"] = redacted
            out.append(result)
            if result["verdict"] in CHECK_VERDICTS:
                stopped.append(_verdict_row(st, scope, actor, result))
    verdicts.keep(rt, stopped)
    cache.save_state(rt)
    return out


def keep_verdicts(rt: Runtime, actor: Actor, results: list[dict[str, Any]]) -> int:
    """Keep the blocks and warnings a hook gave without the service (from its index, while the
    service was down), as :func:`check_many` keeps its own; the number kept. ``results`` are
    check answers (``engine.check(...).to_dict()``), with ``client``: the session's client."""
    rows: list[dict[str, Any]] = []
    with cache.lock_for(rt):
        with rt.db.read() as s:
            st = cache.current(rt, s, actor.client_scope)
        for result in results:
            if result.get("verdict") not in CHECK_VERDICTS:
                continue
            client = None
            if isinstance(result.get("client"), str):
                try:
                    client = uuid.UUID(result["client"])
                except ValueError:
                    client = None
            scope = hosts.host_scope(actor.client_scope, client)
            cleaned = {
                **result,
                "command": clean_text(rt, str(result.get("command") or "")) or "",
                "reason": clean_text(rt, str(result.get("reason") or "")) or "",
            }
            rows.append(_verdict_row(st, scope, actor, cleaned))
    verdicts.keep(rt, rows)
    return len(rows)


def _verdict_row(st: LearningState, scope: HostScope, actor: Actor, result: dict[str, Any]) -> dict[str, Any]:
    """What ``check_verdicts`` keeps of a block or warn: the checked host's client owns it."""
    ref = hosts.find(st, result["host"], scope) if result.get("host") else None
    client = ref.client_id if ref is not None and ref.client_id else None
    if client is None and scope.client:
        client = uuid.UUID(scope.client)
    host_id = ref.id if ref is not None else None
    return verdicts.row_for(result, actor, client_id=client, infrastructure_id=host_id)


# --------------------------------------------------------------------------------------------
# Patterns


def _state(rt: Runtime, session: Session, actor: Actor) -> LearningState:
    return cache.current(rt, session, actor.client_scope)


def resolve_pattern_id(rt: Runtime, actor: Actor, ident: str) -> uuid.UUID:
    """A pattern's id from its full UUID or an unambiguous start of it (``msp patterns show 3f2a``)."""
    _require_reader(actor)
    raw = ident.strip().lower()
    try:
        return uuid.UUID(raw)
    except ValueError:
        pass
    if len(raw) < 4 or any(c not in "0123456789abcdef-" for c in raw):
        raise NotFoundError(f"no failure pattern {ident!r}")
    with cache.lock_for(rt), rt.db.read() as s:
        st = _state(rt, s, actor)
        found = [pid for pid in st.memory.patterns if pid.startswith(raw)]
    if not found:
        raise NotFoundError(f"no failure pattern {ident!r}")
    if len(found) > 1:
        raise ValidationError(f"{ident!r} starts {len(found)} pattern ids: give more of it")
    return uuid.UUID(found[0])


def list_patterns(
    rt: Runtime,
    actor: Actor,
    *,
    include_inactive: bool = False,
    failure_class: str | None = None,
    host: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[PatternRow]:
    """Patterns newest first; only active ones unless asked; on ``host`` if given."""
    _require_reader(actor)
    with cache.lock_for(rt), rt.db.read() as s:
        where: list[Any] = []
        if actor.client_scope is not None:
            where.append(scope_clause(table_of(PatternRow), actor.client_scope))
        if host:
            st = _state(rt, s, actor)
            refs = st.candidates(host)
            if not refs:
                raise NotFoundError(f"no host {host!r}")
            keys = {r.key for r in refs}
            ids = [uuid.UUID(p.id) for p in st.memory.patterns.values() if keys & set(p.hosts)]
            where.append(PatternRow.id.in_(ids))
        filters: dict[str, Any] = {}
        if not include_inactive:
            filters["is_active"] = True
        if failure_class:
            filters["failure_class"] = failure_class
        return _PATTERNS.list(
            s, filters=filters, sort=["-last_seen"], limit=limit, offset=offset, where=where
        )


def get_pattern(rt: Runtime, actor: Actor, pattern_id: uuid.UUID) -> PatternRow:
    _require_reader(actor)
    where = []
    if actor.client_scope is not None:
        where.append(scope_clause(table_of(PatternRow), actor.client_scope))
    with rt.db.read() as s:
        return _PATTERNS.get(s, pattern_id, where=where)


def explain(rt: Runtime, actor: Actor, pattern_id: uuid.UUID) -> dict[str, Any]:
    """What contributed to a pattern's fingerprint, what failed and where, and why a pre-check
    blocks, warns or allows because of it."""
    _require_reader(actor)
    with cache.lock_for(rt), rt.db.read() as s:
        st = _state(rt, s, actor)
        pattern = st.memory.patterns.get(str(pattern_id))
        if pattern is None:
            where = []
            if actor.client_scope is not None:
                where.append(scope_clause(table_of(PatternRow), actor.client_scope))
            return _explain_row(_PATTERNS.get(s, pattern_id, where=where))
        take_touched(st.memory)  # the columns explained must be current
        return _explain(st, pattern)


def _name(st: LearningState, key: str) -> str:
    if key == LOCAL:
        return "the local machine"
    ref = st.hosts.get(key)
    return ref.hostname if ref else key


def _explain(st: LearningState, p: engine.FailurePattern) -> dict[str, Any]:
    names = lambda key: _name(st, key)  # noqa: E731
    verdict = verdict_lines(p, names)
    culprit = None
    if p.culprit is not None:
        culprit = {
            "kind": p.culprit.kind,
            "text": p.culprit.text,
            "key": p.culprit.key,
            "program": p.culprit.program,
            "rule": p.culprit.rule,
            "description": p.culprit.describe(),
        }
    fp = p.fingerprint
    return {
        "id": p.id,
        "signature": p.pattern_signature,
        "failure_class": p.failure_class,
        "pattern_type": p.pattern_type,
        "transient": p.is_transient,
        "severity": p.severity,
        "confidence": p.confidence_level,
        "active": p.is_active,
        "occurrences": p.occurrence_count,
        "culprit": culprit,
        "fingerprint": {
            "hash": fp.hash,
            "message_hash": fp.message_hash,
            "strategy": fp.strategy,
            "normalized_message": fp.normalized_message,
            "components": [
                {"name": c.name, "value": c.value, "contributes": c.contributes, "hint": c.hint}
                for c in fp.components
            ],
        },
        "hosts": [
            {
                "host": names(key),
                "failures": ev.count,
                "first_seen": ev.first_seen,
                "last_seen": ev.last_seen,
                "last_command": ev.last_command,
                "resolved_at": ev.resolved_at,
            }
            for key, ev in p.hosts.items()
        ],
        "worked_on": sorted(names(h) for h in p.success_hosts),
        "distinguishing_traits": dict(p.distinguishing_traits),
        "fixes": [
            {
                "host": names(f.host),
                "failed_command": f.failed_command,
                "fix_command": f.fix_command,
                "at": f.at,
                "similarity": round(f.similarity, 3),
            }
            for f in p.fixes[-10:]
        ],
        "verdict": verdict,
        "text": engine.explain_pattern(p) + "\nverdict:\n" + "\n".join(f"  {line}" for line in verdict),
    }


def _explain_row(row: PatternRow) -> dict[str, Any]:
    """A pattern the engine does not hold (entered by hand): its columns, no fingerprint."""
    verdict = ["Not learned from recorded commands: the pre-check does not use it."]
    lines = [
        row.pattern_signature,
        f"  class: {row.failure_class or row.pattern_type}, confidence {row.confidence_level}",
        f"  root cause: {row.root_cause}",
        f"  do instead: {row.recommended_solution}",
    ]
    return {
        "id": str(row.id),
        "signature": row.pattern_signature,
        "failure_class": row.failure_class,
        "pattern_type": row.pattern_type,
        "transient": row.is_transient,
        "severity": row.severity,
        "confidence": row.confidence_level,
        "active": row.is_active,
        "occurrences": row.occurrence_count,
        "culprit": {"kind": row.culprit_kind, "text": row.culprit} if row.culprit else None,
        "fingerprint": None,
        "hosts": [{"host": h} for h in row.affected_systems or []],
        "worked_on": [],
        "distinguishing_traits": dict(row.distinguishing_traits or {}),
        "fixes": [{"fix_command": c} for c in row.workaround_commands or []],
        "verdict": verdict,
        "text": "\n".join([*lines, "verdict:", *(f"  {v}" for v in verdict)]),
    }


# --------------------------------------------------------------------------------------------
# Relearn


@dataclass
class LearnReport:
    commands: int = 0
    commands_changed: int = 0
    patterns: int = 0
    patterns_new: int = 0
    drafts: int = 0
    patterns_not_learned: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "commands_changed": self.commands_changed,
            "patterns": self.patterns,
            "patterns_new": self.patterns_new,
            "drafts": self.drafts,
            "patterns_not_learned": self.patterns_not_learned,
            "seconds": round(self.seconds, 3),
        }


_COMPARED = (
    "failure_pattern_id",
    "success",
    "error_message",
    "failure_category",
    "is_transient",
    "culprit",
    "fingerprint",
)


# Replays of ``msp learn`` tried in a read transaction before one is done under the lock.
RELEARN_TRIES = 3


@dataclass
class _Replay:
    """What a replay of the whole history concludes, before any of it is written."""

    sequence: int | None  # the audit chain's, when the replay began
    st: LearningState
    changes: dict[uuid.UUID, dict[str, Any]]
    pairs: set[tuple[str, str]]
    patterns: list[Any]


def _replay(s: Session) -> _Replay:
    # The sequence first: a replay that began after it has seen at least what it counts.
    sequence = state.chain_sequence(s)
    st = LearningState(scope=None, identity=state.database_identity(s))
    state.load_clients(s, st)
    state.load_hosts(s, st)
    columns = [*state.REPLAY_COLUMNS, *(_COMMANDS.c[c] for c in _COMPARED)]
    columns += [_COMMANDS.c.resolved, _COMMANDS.c.resolution]
    stmt = select(*columns).order_by(_COMMANDS.c.created_at, _COMMANDS.c.id)
    changes: dict[uuid.UUID, dict[str, Any]] = {}
    stored: dict[uuid.UUID, Any] = {}
    for row in s.execute(stmt):
        learned = state.replay_row(s, st, row)
        if learned is None:
            continue
        stored[row.id] = row
        fresh = derived_values(learned, row.output_summary or "")
        diff = {k: v for k, v in fresh.items() if getattr(row, k) != v}
        if diff:
            changes[row.id] = diff
    resolved: dict[uuid.UUID, str] = {}
    pairs: set[tuple[str, str]] = set()
    for p in st.memory.patterns.values():
        for fix in p.fixes:
            if 0 <= fix.failed_index < len(st.row_ids):
                resolved[st.row_ids[fix.failed_index]] = resolution_text(fix.fix_command)
            pairs.add((p.id, fix.host))
    for row_id, resolution in resolved.items():
        was = stored.get(row_id)
        if was is not None and (not was.resolved or was.resolution != resolution):
            changes.setdefault(row_id, {}).update(resolved=True, resolution=resolution)
    return _Replay(sequence, st, changes, pairs, take_touched(st.memory))


def relearn(rt: Runtime, actor: Actor) -> LearnReport:
    """Replay the whole history through the engine and write back what it concludes: every
    pattern, every command's classification, every draft. Pattern ids are derived from what
    groups a failure, so a replay updates the same rows; what the engine no longer concludes
    is counted, never deleted (a technician may have entered it).

    The replay reads the whole history: it runs in a read transaction, and the writer is
    taken only to write what it concluded — if nothing was recorded meanwhile (the audit
    chain's sequence did not move); otherwise it is replayed again, and the last try replays
    under the lock."""
    _require_reader(actor)
    if not actor.has_role("technician"):
        raise PermissionDeniedError(f"role {actor.role} may not re-run the analysis (needs technician)")
    report = LearnReport()
    started = time.perf_counter()
    with cache.lock_for(rt):
        try:
            for attempt in range(RELEARN_TRIES):
                plan: _Replay | None = None
                if attempt < RELEARN_TRIES - 1:
                    with rt.db.read() as r:
                        plan = _replay(r)
                with rt.db.write() as s:
                    sequence = state.chain_sequence(s, lock=True)
                    if plan is None:
                        plan = _replay(s)
                    elif plan.sequence != sequence:
                        continue  # recorded meanwhile: what the replay concluded is behind
                    st = plan.st
                    report.patterns_new = persist.upsert_patterns(s, st, plan.patterns)
                    report.patterns = len(plan.patterns)
                    report.drafts = persist.upsert_drafts(s, st, plan.pairs)
                    if plan.changes:
                        s.execute(update(CommandRun), [{"id": k, **v} for k, v in plan.changes.items()])
                    report.commands = len(st.row_ids)
                    report.commands_changed = len(plan.changes)
                    known = {uuid.UUID(pid) for pid in st.memory.patterns}
                    all_ids = set(s.scalars(select(PatternRow.id)))
                    report.patterns_not_learned = len(all_ids - known)
                    entry = audit.record(
                        s,
                        rt.audit_signer,
                        actor,
                        "update",
                        "failure_patterns",
                        None,
                        {"patterns": report.patterns, "commands": report.commands, "source": "msp learn"},
                    )
                    state.prune(st)
                break
        except BaseException:
            cache.invalidate(rt)
            raise
        st.audit_seq = entry.sequence
        st.changed = True
        cache.replace(rt, st)
        cache.save_state(rt)
    report.seconds = time.perf_counter() - started
    return report


def prepare_pattern(session: Session, values: dict[str, Any], row: PatternRow | None) -> None:
    """A failure pattern written by hand (``/api/failure-patterns``): its ``error_pattern`` must
    be a regex that cannot backtrack without end (the engine only makes escaped literals)."""
    regex = values.get("error_pattern")
    if regex and is_catastrophic(regex):
        raise ValidationError(
            "error_pattern is not a safe regular expression (invalid, or a repeat nested in a "
            "repeat such as (a+)+): use escaped literals with bounded gaps like .{0,200}?"
        )
