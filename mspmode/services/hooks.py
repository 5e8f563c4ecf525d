"""The full-stack half of the Claude Code hooks: what ``msp hooks record|context|sync`` run
for a hook that must write (``mspmode/hooks`` itself starts light and only reads).

The hooks' pre-check index (``hooks/index.py``) is written from the learning state here;
a PostToolUse records through ``learning.record_commands`` and updates the index; commands
are queued (redacted) when learning would take longer than a hook may; the sessions the
Stop/SessionEnd hooks queued are compressed and saved; SessionStart's known failures are read
from the ``failure_patterns`` rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mspmode.hooks import config as hook_config
from mspmode.hooks import index
from mspmode.services import learning
from mspmode.services.actor import Actor
from mspmode.services.learning import cache
from mspmode.services.runtime import Runtime

if TYPE_CHECKING:
    from mspmode.engine.recall import RecallResult

SNAPSHOT_EVERY = 600  # seconds between two writes of the CLI's learning snapshot by hooks
REBUILD_IN_HOOK = 20_000  # commands a PostToolUse may replay when there is no usable snapshot
FAILURE_CANDIDATES = 500  # patterns scored for it
RECALL_BUDGET = 1500  # tokens the SessionStart context gets in all (≤ 10,000 characters)
FAILURE_BUDGET = 400  # of which the known failures section


def index_path(rt: Runtime) -> Path:
    label = hook_config.database_label(rt.settings.database_url, rt.settings.home)
    return Path(index.index_path(rt.settings.home, label))


def freshness(rt: Runtime) -> str:
    raw = rt.db.reader.raw_connection()
    try:
        return index.freshness(raw)
    finally:
        raw.close()


def sync_index(rt: Runtime, *, force: bool = False) -> bool:
    """Rebuild the pre-check index if the database moved on; True if it was written."""
    path = index_path(rt)
    fresh = freshness(rt)
    if not force and path.exists():
        try:
            reader = index.Reader(path)
            try:
                if reader.usable() and fresh and reader.meta.get("freshness") == fresh:
                    return False
            finally:
                reader.close()
        except Exception:  # a damaged index is rebuilt
            pass
    with cache.lock_for(rt), rt.db.read() as s:
        st = cache.current(rt, s)
        index.Writer(path, st.memory).full(fresh)
    cache.save_snapshot(rt)
    return True


def session_exists(rt: Runtime, session_id: uuid.UUID) -> bool:
    from sqlalchemy import select

    from mspmode.models.core import Session as WorkSession

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
    return learning.CommandIn(
        command=item["command"],
        exit_code=item.get("exit_code") if isinstance(item.get("exit_code"), int) else None,
        output=item.get("output") if isinstance(item.get("output"), str) else None,
        host=item.get("host") if isinstance(item.get("host"), str) else None,
        session=None if session_id else (label or "claude-code"),
        session_id=session_id,
        at=at,
    )


def state_ready(rt: Runtime, rebuild_limit: int = REBUILD_IN_HOOK) -> bool:
    """Whether the learning state can be had within a hook's time: from the CLI's snapshot
    (then caught up), or rebuilt from a history small enough. Loads it; after that
    ``record_commands`` does not write the snapshot back (see ``snapshot_due``): pickling a
    100k-command state costs seconds and every PostToolUse would pay them, while a snapshot a
    few commands behind is still valid (the next load catches up on the rows after its mark)."""
    from sqlalchemy import func, select

    from mspmode.models.work import CommandRun

    with cache.lock_for(rt), rt.db.read() as s:
        if cache.cached(rt) is None:
            st = cache.load_snapshot(rt, s)
            if st is not None:
                cache.replace(rt, st)
            elif s.execute(select(func.count()).select_from(CommandRun)).scalar_one() > rebuild_limit:
                return False
        cache.current(rt, s)
    cache.use_snapshots(rt, use=False)  # loaded; written back by this module, at most every 10 min
    return True


def pending_path(rt: Runtime) -> Path:
    from mspmode.hooks.events import QUEUE_DIR

    return rt.settings.home / QUEUE_DIR / "commands.jsonl"


def queue_command(rt: Runtime, ci: learning.CommandIn) -> None:
    """Keep a command for later (redacted now: the queue is a file) when learning would take
    longer than the hook may; ``msp hooks sync`` or the next PostToolUse records it."""
    from mspmode.services.capture import clean_text

    path = pending_path(rt)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = {
        "command": clean_text(rt, ci.command),
        "exit_code": ci.exit_code,
        "output": clean_text(rt, ci.output if isinstance(ci.output, str) else None),
        "host": ci.host,
        "session": ci.session,
        "session_id": str(ci.session_id) if ci.session_id else None,
        "at": (ci.at or datetime.now(UTC)).isoformat(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    hook_config.log(
        None, "PostToolUse", "learning state must be rebuilt: command queued; run `msp hooks sync`"
    )


def take_pending(rt: Runtime) -> list[learning.CommandIn]:
    path = pending_path(rt)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            item = json.loads(line)
            if isinstance(item, dict) and isinstance(item.get("command"), str) and item["command"].strip():
                out.append(command_in(rt, item))
    return out


def snapshot_due(rt: Runtime) -> bool:
    try:
        age = time.time() - learning.snapshot_path(rt).stat().st_mtime
    except OSError:
        return True
    return age > SNAPSHOT_EVERY


def index_current(rt: Runtime) -> bool:
    """Whether the index exists, is of this engine and has everything the database has."""
    path = index_path(rt)
    if not path.exists():
        return False
    try:
        reader = index.Reader(path)
    except Exception:
        return False
    try:
        return reader.usable() and reader.meta.get("freshness") == freshness(rt)
    finally:
        reader.close()


def index_after(rt: Runtime, recorded: list[learning.Recorded], *, full: bool) -> None:
    """Write what ``recorded`` changed into the index; everything when it was behind before or
    someone else wrote meanwhile."""
    path = index_path(rt)
    fresh = freshness(rt)
    with cache.lock_for(rt), rt.db.read() as s:
        mine = cache.cached(rt)  # the state as the recording left it
        before = len(mine.row_ids) if mine is not None else -1
        st = cache.current(rt, s)
        writer = index.Writer(path, st.memory)
        if full or len(st.row_ids) != before:
            writer.full(fresh)
            return
        ids: set[str] = set()
        for r in recorded:
            ids.update(r.learned.fixes)
            ids.update(r.learned.resolved)
            ids.update(r.learned.refined)
        writer.delta(fresh, [r.learned.record for r in recorded], ids)


def scope_for(rt: Runtime, actor: Actor, cwd: str | None) -> tuple[str | None, str | None]:
    """(client id, project id) for a working directory: the project whose local_path holds it,
    else the current session's."""
    from sqlalchemy import select

    from mspmode.models.core import Project

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
            root = os.path.abspath(local)
            if (here == root or here.startswith(root.rstrip(os.sep) + os.sep)) and (
                best is None or len(root) > len(best[2])
            ):
                best = (str(cid), str(pid), root)
        if best is not None:
            return best[0], best[1]
    current = hook_config.current_session(hook_config.HookConfig(rt.settings.home, rt.settings.database_url))
    return current.get("client_id"), current.get("project_id")


def drain_queue(rt: Runtime, actor: Actor) -> int:
    """Save the sessions Stop/SessionEnd queued: one compressed context per Claude session,
    a later save of the same session superseding the earlier one."""
    from mspmode.hooks.events import QUEUE_DIR, SAVED_FILE, queued_transcripts
    from mspmode.services import recall

    folder = rt.settings.home / QUEUE_DIR
    if not folder.is_dir():
        return 0
    saved_path = folder / SAVED_FILE
    saved = hook_config.read_json(saved_path)
    done = 0
    for path, entry, lines in queued_transcripts(folder):
        client, project = scope_for(rt, actor, entry.get("cwd"))
        current = entry.get("current_session") or {}
        session_id = None
        if isinstance(current, dict) and isinstance(current.get("session_id"), str):
            try:
                session_id = uuid.UUID(current["session_id"])
            except ValueError:
                session_id = None
            if session_id is not None and not session_exists(rt, session_id):
                session_id = None
        row = recall.save_transcript(rt, actor, lines, client=client, project=project, session_id=session_id)
        sid = str(entry.get("session_id"))
        old = saved.get(sid)
        if isinstance(old, str):
            with contextlib.suppress(Exception):  # the old row may be gone; the new one stands
                recall.supersede(rt, actor, recall.CONTEXTS, uuid.UUID(old), row.id)
        saved[sid] = str(row.id)
        path.unlink(missing_ok=True)
        done += 1
    tmp = saved_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(saved), encoding="utf-8")
    os.replace(tmp, saved_path)
    return done


def failure_facts(
    rt: Runtime, actor: Actor, client: str | None, query: str, budget_tokens: int
) -> RecallResult | None:
    """The known failures and their fixes, as recall facts, from the ``failure_patterns`` rows
    (no learning state to load): capability limits of hosts are hard constraints (they do not
    decay), the rest decays with age. The newest ``FAILURE_CANDIDATES`` are scored; older
    ones come back through the insights recall reads. The engine's ``RecallResult`` (its
    markdown and each fact's score), None when no pattern is known."""
    from sqlalchemy import select

    from mspmode.engine.recall import Candidate, RecallQuery, recall
    from mspmode.hooks.events import recall_candidate
    from mspmode.models.learning import FailurePattern
    from mspmode.services import crud
    from mspmode.services.scoping import table_of

    fp = FailurePattern
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
        .where(fp.is_active.is_(True), fp.is_transient.is_(False), *crud.visible_to(actor, table_of(fp)))
        .order_by(fp.last_seen.desc())
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
            owned = functools.partial(Candidate, client=str(p.client_id) if p.client_id else None)
            candidates.append(recall_candidate(owned, p, hosts[0], body, p.last_seen))
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
    from mspmode.engine.recall import MAX_CHARS
    from mspmode.services import recall

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
        recalled = recall.recall_context(
            rt,
            actor,
            recall.RecallRequest(
                client=client,
                project=project,
                query=query,
                budget_tokens=RECALL_BUDGET - FAILURE_BUDGET,
                touch=touch,
            ),
        )
        keep(recalled.result)
    except Exception as exc:  # facts alone are still worth injecting
        hook_config.log(None, "SessionStart", f"recall failed: {type(exc).__name__}: {exc}")
    return Injected("\n\n".join(parts)[:MAX_CHARS], facts)
