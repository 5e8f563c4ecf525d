"""The service half of the Claude Code hooks: ``POST /api/hooks/{event}`` runs here, in the
local service of ``MSP_HOME`` or in a team's ``msp serve`` alike, with the learning state warm.

    handle_event(rt, actor, event, payload)   the hook's JSON answer for one event
    replay_journal(rt, actor)                 what hooks journaled while the service was down
    IndexKeeper                               keeps the on-disk index (``hooks/index.py``) in
                                              step with what was learned, off the request path
    warm(rt, actor)                           what the local service does before it answers

The hooks themselves (``mspmode/hooks``) only read the event, post it, and fall back on the
index and the journal when the service cannot answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select

from mspmode.engine.memory import host_candidates, host_key
from mspmode.engine.recall import MAX_CHARS, Candidate, RecallQuery, RecallResult, recall
from mspmode.hooks import config as hook_config
from mspmode.hooks import events, index
from mspmode.hooks import service as hook_files
from mspmode.models.core import Project
from mspmode.models.core import Session as WorkSession
from mspmode.models.learning import FailurePattern
from mspmode.models.work import CommandRun
from mspmode.services import crud, learning
from mspmode.services import recall as recall_service
from mspmode.services.actor import Actor
from mspmode.services.learning import cache
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of

log = logging.getLogger("mspmode.hooks")
FAILURE_CANDIDATES = 500  # patterns scored for SessionStart's known failures
RECALL_BUDGET = 1500  # tokens in all SessionStart injects (≤ 10,000 characters)
FAILURE_BUDGET = 400  # of which the known failures section
PROMPT_BUDGET = 600  # tokens of known failures a prompt naming hosts gets


def index_path(rt: Runtime) -> Path:
    """The one store of what was learned (``hooks/index.py``): the index lives in it."""
    return cache.store_path(rt)


def sync_index(rt: Runtime, *, force: bool = False) -> bool:
    """Rebuild the pre-check index if the database moved on; True if it was written."""
    if not force and index_current(rt):
        return False
    fresh = cache.freshness(rt)
    path = index_path(rt)
    with cache.lock_for(rt), rt.db.read() as s:
        st = cache.current(rt, s)
        index.Writer(path, st.memory).full(fresh)
    return True


def session_exists(rt: Runtime, session_id: uuid.UUID) -> bool:
    with rt.db.read() as s:
        return s.execute(select(WorkSession.id).where(WorkSession.id == session_id)).first() is not None


def command_in(rt: Runtime, item: dict[str, Any]) -> learning.CommandIn:
    session_id = None
    if isinstance(item.get("session_id"), str):
        try:
            candidate = uuid.UUID(item["session_id"])
        except ValueError:
            candidate = None
        if candidate is not None and session_exists(rt, candidate):
            session_id = candidate
    label = item.get("session") if isinstance(item.get("session"), str) else None
    at = None
    if isinstance(item.get("at"), str):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(item["at"])
    elif isinstance(item.get("at"), int | float) and not isinstance(item.get("at"), bool):
        with contextlib.suppress(ValueError, OverflowError, OSError):
            at = datetime.fromtimestamp(item["at"], UTC)
    return learning.CommandIn(
        command=item["command"],
        exit_code=item.get("exit_code") if isinstance(item.get("exit_code"), int) else None,
        output=item.get("output") if isinstance(item.get("output"), str) else None,
        host=item.get("host") if isinstance(item.get("host"), str) else None,
        session=None if session_id else (label or "claude-code"),
        session_id=session_id,
        at=at,
    )


def index_current(rt: Runtime) -> bool:
    """Whether the index exists, is of this engine and has everything the database has."""
    path = index_path(rt)
    if not path.exists():
        return False
    try:
        reader = index.Reader(path)
    except Exception:  # a damaged index is as good as none
        return False
    try:
        if not reader.usable():
            return False
        raw = rt.db.reader.raw_connection()
        try:
            return index.freshness_of(reader.meta.get("freshness"), raw) == index.CURRENT
        finally:
            raw.close()
    finally:
        reader.close()


def index_after(rt: Runtime, recorded: list[learning.Recorded], *, full: bool) -> None:
    """Write what ``recorded`` changed into the index; everything when it was behind before or
    someone else wrote meanwhile."""
    path = index_path(rt)
    fresh = cache.freshness(rt)
    with cache.lock_for(rt), rt.db.read() as s:
        mine = cache.cached(rt)  # the state as the recording left it
        before = len(mine.row_ids) if mine is not None else -1
        st = cache.current(rt, s)
        writer = index.Writer(path, st.memory)
        ops = None
        if not full and len(st.row_ids) == before:
            ids: set[str] = set()
            for r in recorded:
                ids.update(r.learned.fixes)
                ids.update(r.learned.resolved)
                ids.update(r.learned.refined)
            ops = writer.delta_ops(fresh, [r.learned.record for r in recorded], ids)
        if ops is None:
            writer.full(fresh)
            return
    # Written without the learning lock: the next hook's request does not wait for the disk.
    writer.apply(ops)


def scope_for(
    rt: Runtime, actor: Actor, cwd: str | None, current: dict[str, Any] | None
) -> tuple[str | None, str | None]:
    """(client id, project id) for a working directory: the project whose local_path holds it,
    else the current session's (``msp session start`` on the hook's machine)."""
    if cwd:
        here = os.path.abspath(cwd)
        with rt.db.read() as s:
            rows = s.execute(
                select(Project.id, Project.client_id, Project.local_path).where(
                    Project.local_path.is_not(None)
                )
            ).all()
        best = None
        for pid, cid, local in rows:
            root = os.path.abspath(str(local))
            if (here == root or here.startswith(root.rstrip(os.sep) + os.sep)) and (
                best is None or len(root) > len(best[2])
            ):
                best = (str(cid), str(pid), root)
        if best is not None:
            return best[0], best[1]
    current = current or {}
    client, project = current.get("client_id"), current.get("project_id")
    return (client if isinstance(client, str) else None), (project if isinstance(project, str) else None)


def drain_queue(rt: Runtime, actor: Actor) -> int:
    """Save the sessions Stop/SessionEnd queued in this machine's ``MSP_HOME`` (``msp hooks
    sync``; a SessionStart sends them with the event instead)."""
    folder = rt.settings.home / events.QUEUE_DIR
    if not folder.is_dir():
        return 0
    done = 0
    for path, entry, lines in events.queued_transcripts(folder):
        save_queued(rt, actor, [{**entry, "lines": lines}])
        path.unlink(missing_ok=True)
        done += 1
    return done


def save_queued(rt: Runtime, actor: Actor, entries: Sequence[Any]) -> int:
    """Save queued sessions (``{"session_id", "cwd", "current_session", "lines"}``): one
    compressed context per Claude session, a later save of the same session superseding the
    earlier one (which row that is, is kept in this service's ``MSP_HOME``)."""
    saved_path = rt.settings.home / events.QUEUE_DIR / events.SAVED_FILE
    saved = hook_config.read_json(saved_path)
    done = 0
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("lines"), list):
            continue
        lines = [line for line in entry["lines"] if isinstance(line, str)]
        given = entry.get("current_session")
        current: dict[str, Any] = given if isinstance(given, dict) else {}
        client, project = scope_for(rt, actor, entry.get("cwd"), current)
        session_id = None
        if isinstance(current.get("session_id"), str):
            try:
                session_id = uuid.UUID(current["session_id"])
            except ValueError:
                session_id = None
            if session_id is not None and not session_exists(rt, session_id):
                session_id = None
        row = recall_service.save_transcript(
            rt, actor, lines, client=client, project=project, session_id=session_id
        )
        sid = str(entry.get("session_id"))
        old = saved.get(sid)
        if isinstance(old, str):
            with contextlib.suppress(Exception):  # the old row may be gone; the new one stands
                recall_service.supersede(rt, actor, recall_service.CONTEXTS, uuid.UUID(old), row.id)
        saved[sid] = str(row.id)
        done += 1
    if done:
        saved_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        hook_files.write_private(str(saved_path), json.dumps(saved))
    return done


def failure_facts(
    rt: Runtime, actor: Actor, client: str | None, query: str, budget_tokens: int
) -> RecallResult | None:
    """The known failures and their fixes, as recall facts, from the ``failure_patterns`` rows
    (no learning state to load): capability limits of hosts are hard constraints (they do not
    decay), the rest decays with age. The newest ``FAILURE_CANDIDATES`` are scored; older
    ones come back through the insights recall reads. The engine's ``RecallResult`` (its
    markdown and each fact's score), None when no pattern is known."""
    fp = FailurePattern
    # The client's failures and those of no client; with no client in scope, only the latter:
    # another client's hosts are not this session's business (issue 16). In SQL, so other
    # clients' patterns do not crowd the client's out of the newest FAILURE_CANDIDATES.
    scope: ColumnElement[bool] = fp.client_id.is_(None)
    if client is not None:
        scope = or_(scope, fp.client_id == uuid.UUID(client))
    # The columns a fact is made of, not whole rows: loading 500 mapped objects was most of
    # the time the SessionStart text took on a large history.
    stmt = (
        select(
            fp.id,
            fp.client_id,
            fp.pattern_signature,
            fp.failure_class,
            fp.failure_description,
            fp.fix_observed,
            fp.affected_systems,
            fp.triggering_commands,
            fp.workaround_commands,
            fp.last_seen,
        )
        .where(
            # An expression, not the bare column: SQLite keeps no statistics here and would
            # read every active pattern through the is_active index (nearly all rows) and sort
            # them, instead of the client's few through the client_id index.
            func.coalesce(fp.is_active, false()).is_(True),
            fp.is_transient.is_(False),
            scope,
            *crud.visible_to(actor, table_of(fp)),
        )
        # The id breaks ties: the same candidates whichever plan the database picks.
        .order_by(fp.last_seen.desc(), fp.id)
        .limit(FAILURE_CANDIDATES)
    )
    candidates = []
    with rt.db.read() as s:
        for p in s.execute(stmt):
            hosts = [str(h) for h in p.affected_systems or []][:3] or ["this machine"]
            ran = (p.triggering_commands or [""])[-1]
            body = f"`{ran}` failed on {', '.join(hosts)} ({p.failure_class}): {p.failure_description}"
            if p.workaround_commands:
                body += f" What worked: `{p.workaround_commands[0]}`."
            owner = str(p.client_id) if p.client_id else None
            candidates.append(recall_candidate(p, hosts[0], body, p.last_seen, client=owner))
    if not candidates:
        return None
    return recall(
        candidates,
        RecallQuery(query=query, client=client, budget_tokens=budget_tokens),
        heading="Known failures (MSP Mode): do not repeat these",
    )


@dataclasses.dataclass(frozen=True)
class InjectedFact:
    """One fact in the SessionStart text, with the score that put it there and its factors."""

    kind: str
    title: str
    score: float
    parts: dict[str, float]


@dataclasses.dataclass(frozen=True)
class Injected:
    markdown: str
    facts: list[InjectedFact]  # the known failures, then what recall found; best first in each


def session_start_context(
    rt: Runtime, actor: Actor, client: str | None, project: str | None, query: str = "", *, touch: bool = True
) -> str:
    """The text the SessionStart hook gives the agent: the known failures, then what recall
    finds for the client, project and query, within ``RECALL_BUDGET``."""
    return session_start_injection(rt, actor, client, project, query, touch=touch).markdown


def session_start_injection(
    rt: Runtime, actor: Actor, client: str | None, project: str | None, query: str = "", *, touch: bool = True
) -> Injected:
    """``session_start_context`` with the facts it holds and their scores: the dashboard's
    recall preview (``touch=False``: looking is not using)."""
    parts: list[str] = []
    facts: list[InjectedFact] = []

    def keep(result: RecallResult | None) -> None:
        if result is None or not result.markdown.strip():
            return
        parts.append(result.markdown)
        used = set(result.used)
        facts.extend(
            InjectedFact(s.candidate.kind, s.candidate.title, s.score, dict(s.parts))
            for s in result.scored
            if s.candidate.id in used
        )

    keep(failure_facts(rt, actor, client, query, FAILURE_BUDGET))
    try:
        recalled = recall_service.recall_context(
            rt,
            actor,
            recall_service.RecallRequest(
                client=client,
                project=project,
                query=query,
                budget_tokens=RECALL_BUDGET - FAILURE_BUDGET,
                touch=touch,
                strict_client=True,
            ),
        )
        keep(recalled.result)
    except Exception as exc:  # the known failures alone are still worth injecting
        log.warning("SessionStart recall failed: %s", type(exc).__name__)
    return Injected("\n\n".join(parts)[:MAX_CHARS], facts)


def recall_candidate(pattern: Any, host: str, body: str, at: Any, *, client: str | None = None) -> Candidate:
    """A known failure as a recall fact: a host's capability limit does not decay ("PowerShell
    2.0 has no Get-LocalUser" stays true); the rest does."""
    capability = pattern.failure_class not in ("permission_denied", "authentication_failure", "not_found")
    return Candidate(
        id=f"pattern:{pattern.id}",
        kind="constraint" if capability else "insight",
        title=pattern.pattern_signature or pattern.failure_class,
        body=body,
        importance=8 if pattern.fix_observed else 6,
        updated_at=at,
        host=host,
        decays=not capability,
        client=client,
    )


# --------------------------------------------------------------------------------------------
# The events


def handle_event(
    rt: Runtime, actor: Actor, event: str, payload: dict[str, Any], keeper: IndexKeeper | None = None
) -> dict[str, Any]:
    """``{"hook": the JSON Claude Code reads or None, "warned": bool}`` for one event as the
    hook client posts it (the event's JSON, with ``msp``: what only the hook's machine knows)."""
    extra = payload.pop("msp", None)
    extra = extra if isinstance(extra, dict) else {}
    if event == "PreToolUse":
        return pre_tool_use(rt, actor, payload, extra)
    if event in ("PostToolUse", "PostToolUseFailure"):
        payload.setdefault("hook_event_name", event)
        return {"hook": post_tool_use(rt, actor, payload, extra, keeper), "warned": False}
    if event == "SessionStart":
        return {"hook": session_start(rt, actor, payload, extra), "warned": False}
    if event == "UserPromptSubmit":
        return {"hook": user_prompt_submit(rt, actor, payload, extra), "warned": False}
    return {"hook": None, "warned": False}  # Stop, SessionEnd: the hook's machine queues them


def _session_of(rt: Runtime, payload: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The command's session: the one ``msp session start`` opened on the hook's machine, else
    one per Claude session (``claude:<id>``)."""
    current = extra.get("current_session")
    if isinstance(current, dict) and isinstance(current.get("session_id"), str):
        return {"session_id": current["session_id"]}
    sid = payload.get("session_id")
    return {"session": f"claude:{sid}"[:255]} if isinstance(sid, str) and sid else {}


def _own_servers(extra: dict[str, Any]) -> tuple[str, ...]:
    servers = extra.get("mcp_servers")
    return tuple(x for x in servers if isinstance(x, str)) if isinstance(servers, list) else ()


def pre_tool_use(rt: Runtime, actor: Actor, payload: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    found = events.shell_command(payload, _own_servers(extra))
    if found is None:
        return {"hook": None, "warned": False}
    command, host = found
    ref = _session_of(rt, payload, extra)
    session_id = None
    if "session_id" in ref:
        with contextlib.suppress(ValueError):
            session_id = uuid.UUID(ref["session_id"])
    result = learning.check(rt, actor, host, command, session_id=session_id, session=ref.get("session"))
    out, warned = events.verdict_output(result)
    return {"hook": out, "warned": warned}


def post_tool_use(
    rt: Runtime,
    actor: Actor,
    payload: dict[str, Any],
    extra: dict[str, Any],
    keeper: IndexKeeper | None,
) -> dict[str, Any] | None:
    found = events.shell_command(payload, _own_servers(extra))
    if found is None:
        return None
    if keeper is not None:  # the local service: what hooks journaled while it was down first
        replay_journal(rt, actor, keeper)
    command, host = found
    code, output = events.outcome(payload)
    item = {
        "command": command,
        "exit_code": code,
        "output": output or None,
        "host": host,
        "at": extra.get("at"),
    }
    item.update(_session_of(rt, payload, extra))
    recorded = learning.record_commands(rt, actor, [command_in(rt, item)], source="hook")
    hint = learning.recovery_hints(rt, actor, recorded)[0]
    if keeper is not None:
        keeper.note(recorded)
    event = str(payload.get("hook_event_name") or "PostToolUse")
    if not isinstance(hint, dict) or code in (0, None):
        return None
    if hint.get("retry"):
        return events._context(
            event, f"MSP Mode: {hint.get('reason', '')} This failure is transient: retrying may work."
        )
    known = hint.get("verdict") in ("block", "warn") and not recorded[0].learned.new_pattern
    if hint.get("suggestions") or known:
        text = f"MSP Mode recognises this failure: {hint.get('reason', '')}"
        if hint.get("suggestions"):
            text += "\nWhat worked instead: " + " | ".join(hint["suggestions"][:3])
        return events._context(event, text)
    return None


def session_start(
    rt: Runtime, actor: Actor, payload: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any] | None:
    queued = extra.get("queued")
    if isinstance(queued, list) and queued:
        save_queued(rt, actor, queued)
    current = extra.get("current_session") if isinstance(extra.get("current_session"), dict) else None
    client, project = scope_for(
        rt, actor, payload.get("cwd") if isinstance(payload.get("cwd"), str) else None, current
    )
    markdown = session_start_context(rt, actor, client, project)
    return events._context("SessionStart", markdown) if markdown.strip() else None


def user_prompt_submit(
    rt: Runtime, actor: Actor, payload: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any] | None:
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    markdown = prompt_facts(rt, actor, prompt[:2000])
    if not markdown:  # no known host named: what recall finds for the prompt
        current = extra.get("current_session") if isinstance(extra.get("current_session"), dict) else None
        cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
        client, project = scope_for(rt, actor, cwd, current)
        request = recall_service.RecallRequest(
            client=client,
            project=project,
            query=prompt[:2000],
            budget_tokens=PROMPT_BUDGET,
            strict_client=True,
        )
        markdown = recall_service.recall_context(rt, actor, request).markdown.strip() or None
    return events._context("UserPromptSubmit", markdown) if markdown else None


def prompt_facts(rt: Runtime, actor: Actor, prompt: str, limit: int = 20) -> str | None:
    """What failed on the hosts the prompt names (by name, alias, IP or FQDN), with what
    worked, from the learning state the actor may see."""
    words = {w.strip(".,;:!?()[]{}<>\"'`") for w in prompt.lower().split()}
    words |= {w.rsplit("@", 1)[1] for w in words if "@" in w}
    with cache.lock_for(rt):
        st = cache.unchanged(rt, actor.client_scope)
        if st is None:
            with rt.db.read() as s:
                st = cache.current(rt, s, actor.client_scope)
        mem = st.memory
        keys: list[str] = []
        for word in sorted(w for w in words if w):
            for key in host_candidates(mem, host_key(word)):
                if key not in keys:
                    keys.append(key)
        candidates = []
        for key in keys[:5]:
            name = mem.display_name(key) or key
            found = [p for p in mem.patterns.values() if p.is_active and key in p.hosts][:limit]
            for p in found:
                ev = p.hosts[key]
                what = p.failure_description or p.root_cause
                body = f"`{ev.last_command}` failed on {name}: {what}"
                if p.workaround_commands:
                    body += f" What worked: `{p.workaround_commands[0]}`."
                candidates.append(recall_candidate(p, name, body, ev.last_seen))
        names = tuple(mem.display_name(k) or k for k in keys[:5])
    if not candidates:
        return None
    result = recall(
        candidates,
        RecallQuery(query=prompt, hosts=names, budget_tokens=PROMPT_BUDGET),
        heading="MSP Mode: known failures on the hosts in this prompt",
    )
    return result.markdown or None


# --------------------------------------------------------------------------------------------
# The journal (written by hooks that could not reach the service)


def _recorded_before(rt: Runtime, at: datetime | None) -> bool:
    """Whether a command journaled at ``at`` was already stored (the service stored it, then
    died before it answered): the hook's own time stamp is its identity."""
    if at is None:
        return False
    with rt.db.read() as s:
        stmt = select(CommandRun.id).where(CommandRun.executed_at == at).limit(1)
        return s.execute(stmt).first() is not None


def replay_journal(rt: Runtime, actor: Actor, keeper: IndexKeeper | None = None) -> int:
    """Record what the hooks journaled (``MSP_HOME/journal.jsonl``) and remove it; the number
    recorded. Idempotent: a line already stored is skipped, and a replay cut short (the process
    killed) is taken up again from its file (``journal.jsonl.replaying``). Lines of ``kind``
    ``verdict`` are the denials and warnings hooks gave from the index meanwhile: kept as check
    verdicts (at least once: a replay cut short may keep one twice). One replay at a time
    (``journal.replay.lock``): the service's requests, its watch loop and ``msp hooks sync``
    all replay, and two of them reading the same taken file would each store its lines."""
    home = str(rt.settings.home)
    journal = Path(hook_files.path(home, hook_files.JOURNAL_FILE))
    taken = journal.with_name(journal.name + ".replaying")
    if not taken.exists() and not journal.exists():
        return 0  # the common case, without a lock
    replaying = hook_files.try_lock(hook_files.path(home, hook_files.REPLAY_LOCK), wait=True)
    try:
        return _replay(rt, actor, journal, taken, keeper)
    finally:
        if replaying is not None:
            hook_files.unlock(replaying)


def _replay(rt: Runtime, actor: Actor, journal: Path, taken: Path, keeper: IndexKeeper | None) -> int:
    if not taken.exists():
        if not journal.exists():
            return 0
        home = str(rt.settings.home)
        lock = hook_files.try_lock(hook_files.path(home, hook_files.JOURNAL_LOCK), wait=True)
        try:
            if journal.exists():
                os.replace(journal, taken)
        finally:
            if lock is not None:
                hook_files.unlock(lock)
    try:
        lines = taken.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    items = []
    stopped: list[dict[str, Any]] = []  # what hooks denied or warned about from the index
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            item = json.loads(line)
            if isinstance(item, dict) and item.get("kind") == "verdict":
                stopped.append(item)
            elif isinstance(item, dict) and isinstance(item.get("command"), str) and item["command"].strip():
                ci = command_in(rt, item)
                if not _recorded_before(rt, ci.at):
                    items.append(ci)
    done: list[learning.Recorded] = []
    for i in range(0, len(items), learning.MAX_BATCH):
        done += learning.record_commands(rt, actor, items[i : i + learning.MAX_BATCH], source="hook")
    if keeper is not None and done:
        keeper.note(done)
    if stopped:
        learning.keep_verdicts(rt, actor, stopped)
    taken.unlink(missing_ok=True)
    if items:
        log.info("replayed %d journaled command(s)", len(items))
    return len(items)


# --------------------------------------------------------------------------------------------
# The index on disk, kept in step by the local service


class IndexKeeper:
    """Writes what was learned into the index (``hooks/index.py``) in a thread of its own, after
    the hook has its answer: commands recorded meanwhile are written together."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._pending: list[learning.Recorded] = []
        self._full = False
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="msp-index", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 60.0) -> bool:
        """Write what is noted, then end the thread (it holds the runtime while it lives);
        False if that took longer than ``timeout``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def note(self, recorded: Sequence[learning.Recorded] = (), *, full: bool = False) -> None:
        with self._cond:
            self._pending.extend(recorded)
            self._full = self._full or full
            self._cond.notify_all()

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until everything noted is written; False if it took longer than ``timeout``."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and not self._full and not self._busy, timeout
            )

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._full or self._closed)
                if not (self._pending or self._full):
                    return  # closed, with nothing left to write
                batch, full = self._pending, self._full
                self._pending, self._full, self._busy = [], False, True
            try:
                if full or not index_usable(self.rt):
                    sync_index(self.rt, force=full)
                else:
                    index_after(self.rt, batch, full=False)
            except Exception as exc:  # the index is a fallback: the next write makes it whole
                log.warning("index write failed: %s: %s", type(exc).__name__, exc)
                with self._cond:
                    self._full = True
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


def index_usable(rt: Runtime) -> bool:
    """Whether there is an index of this engine to add to (else it is written whole)."""
    return index.usable_at(str(index_path(rt)))


def warm(rt: Runtime, actor: Actor, keeper: IndexKeeper) -> None:
    """What the local service does before it answers: load what was learned (from the one
    store, caught up with the database), record what hooks journaled while it was down, and
    bring the index up to date (in the keeper's thread: the index is only the fallback)."""
    cache.use_store(rt)
    with cache.lock_for(rt), rt.db.read() as s:
        cache.current(rt, s)
    cache.use_store(rt, use=False)  # saved when the service stops, not after every record
    replay_journal(rt, actor, keeper)
    if not index_current(rt):
        keeper.note(full=True)


def save_state(rt: Runtime) -> None:
    """Save what was learned into the one store for the next start (when the local service
    stops)."""
    cache.use_store(rt)
    with cache.lock_for(rt):
        cache.save_state(rt)
