"""``msp hooks install|uninstall|sync``: Claude Code's hooks, and the full-stack half of them.

The hooks themselves (``mspmode/hooks``) start light and never import this module: Claude
Code runs ``python -m mspmode.hooks EVENT``. When a hook must write — record a command, save a
session, rebuild the pre-check index — it runs ``python -m mspmode hooks record|context|sync``
(hidden commands below) and waits for it: the normal services path, learning included, in a
process that is gone when the hook answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from mspmode.cli.app import app, load_settings, open_runtime
from mspmode.engine.recall import MAX_CHARS
from mspmode.errors import ValidationError
from mspmode.hooks import config as hook_config
from mspmode.hooks import index
from mspmode.services import learning
from mspmode.services.actor import Actor, local_actor
from mspmode.services.learning import cache
from mspmode.services.runtime import Runtime

hooks_app = typer.Typer(
    help="Claude Code hooks: stop known mistakes before they run, record what ran, recall context.",
    no_args_is_help=True,
)
app.add_typer(hooks_app, name="hooks")

MARKER = "-m mspmode.hooks"  # how our entries are told from anyone else's
# (event, matcher or None, timeout in seconds). Pre/Post match shell tools only.
SHELL_MATCHER = "Bash|PowerShell|mcp__.*"
HOOK_EVENTS: tuple[tuple[str, str | None, int], ...] = (
    ("PreToolUse", SHELL_MATCHER, 15),
    ("PostToolUse", SHELL_MATCHER, 30),
    ("PostToolUseFailure", SHELL_MATCHER, 30),
    ("SessionStart", None, 30),
    ("UserPromptSubmit", None, 10),
    ("Stop", None, 10),
    ("SessionEnd", None, 10),
)
SNAPSHOT_EVERY = 600  # seconds between two writes of the CLI's learning snapshot by hooks
REBUILD_IN_HOOK = 20_000  # commands a PostToolUse may replay when there is no usable snapshot
RECALL_BUDGET = 1500  # tokens in all (≤ 10,000 characters)
FAILURE_BUDGET = 400  # of which the known failures section
FAILURE_CANDIDATES = 500  # patterns scored for it


# --------------------------------------------------------------------------------------------
# install / uninstall


def settings_path(scope: str, project_dir: Path | None = None) -> Path:
    if scope == "user":
        return Path.home() / ".claude" / "settings.json"
    if scope == "project":
        return (project_dir or Path.cwd()) / ".claude" / "settings.json"
    raise ValidationError("--scope must be user or project")


def hook_command(event: str, home: Path | None) -> str:
    parts = [sys.executable, "-m", "mspmode.hooks", event]
    if home is not None:
        parts += ["--home", str(home)]
    if os.name == "nt":
        import subprocess

        return subprocess.list2cmdline(parts)
    return " ".join(shlex.quote(p) for p in parts)


def _ours(group: Any) -> bool:
    hooks = group.get("hooks") if isinstance(group, dict) else None
    return isinstance(hooks, list) and any(
        isinstance(h, dict) and MARKER in str(h.get("command", "")) for h in hooks
    )


def merge_hooks(settings: dict[str, Any], home: Path | None) -> dict[str, Any]:
    """``settings`` with our entries (replacing earlier ones of ours), everyone else's kept."""
    out = dict(settings)
    hooks = dict(out.get("hooks") or {})
    for event, matcher, timeout in HOOK_EVENTS:
        groups = [g for g in hooks.get(event) or [] if not _ours(g)]
        entry: dict[str, Any] = {
            "hooks": [{"type": "command", "command": hook_command(event, home), "timeout": timeout}]
        }
        if matcher is not None:
            entry = {"matcher": matcher, **entry}
        hooks[event] = [*groups, entry]
    out["hooks"] = hooks
    return out


def remove_hooks(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    hooks = dict(out.get("hooks") or {})
    for event in list(hooks):
        kept = [g for g in hooks[event] or [] if not _ours(g)]
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if hooks:
        out["hooks"] = hooks
    else:
        out.pop("hooks", None)
    return out


def _read_settings(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as exc:
        raise ValidationError(f"{path} is not valid JSON ({exc}); fix it or move it away first") from None
    if not isinstance(data, dict) or not isinstance(data.get("hooks", {}), dict):
        raise ValidationError(f"{path} does not hold a settings object with a 'hooks' object")
    return data


def _write_settings(path: Path, before: dict[str, Any], after: dict[str, Any]) -> Path | None:
    """Write ``after`` if it differs; the previous file is kept beside it. The backup's path."""
    if before == after and path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if path.exists():
        backup = path.with_name(f"{path.name}.msp-backup-{datetime.now(UTC):%Y%m%dT%H%M%S%f}")
        shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(after, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return backup


def _write_hook_config(home: Path, server: str | None, api_key_file: Path | None) -> None:
    path = home / hook_config.CONFIG_FILE
    data = hook_config.read_json(path)
    data.pop("server", None)
    data.pop("api_key_file", None)
    if server:
        data["server"] = server.rstrip("/")
        data["api_key_file"] = str(api_key_file.resolve()) if api_key_file else None
        data.setdefault("timeout", hook_config.DEFAULT_TIMEOUT)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)


@hooks_app.command("install")
def install(
    scope: str = typer.Option("user", "--scope", help="user: ~/.claude/settings.json; project: ./.claude/."),
    server: str = typer.Option(None, "--server", help="Team mode: the msp serve URL the hooks talk to."),
    api_key_file: Path = typer.Option(
        None, "--api-key-file", help="Team mode: a file holding the API key (read by every hook)."
    ),
) -> None:
    """Install MSP Mode's hooks into Claude Code's settings.

    Adds PreToolUse (stop a command that failed on that host before, with
    the fix that worked), PostToolUse/PostToolUseFailure (record what ran,
    learn from it), SessionStart and UserPromptSubmit (recall context),
    Stop and SessionEnd (save the session). Other hooks in the file are
    kept; running it again replaces only ours; the file before the change
    is kept as settings.json.msp-backup-<time>.

    Without --server the hooks use this machine's database (MSP_HOME);
    with --server URL --api-key-file F they ask the team's msp serve.
    """
    if (server is None) != (api_key_file is None):
        raise ValidationError("team mode needs both --server URL and --api-key-file FILE")
    if api_key_file is not None and not api_key_file.is_file():
        raise ValidationError(f"--api-key-file {api_key_file} is not a readable file")
    if server is not None and not server.startswith(("http://", "https://")):
        raise ValidationError("--server must be an http:// or https:// URL")
    settings = load_settings()
    path = settings_path(scope)
    before = _read_settings(path)
    explicit_home = settings.home if os.environ.get("MSP_HOME") else None
    backup = _write_settings(path, before, merge_hooks(before, explicit_home))
    _write_hook_config(settings.home, server, api_key_file)
    mode = f"team server {server}" if server else f"local database under {settings.home}"
    typer.echo(f"installed {len(HOOK_EVENTS)} hooks in {path} ({mode})")
    if server is None:
        _first_index()
    if backup is not None:
        typer.echo(f"previous settings kept in {backup}")


def _first_index() -> None:
    """Build the pre-check index now, so the first PreToolUse does not wait for it."""
    settings = load_settings()
    db_file = hook_config.sqlite_path(settings.database_url, settings.home)
    if db_file is not None and not db_file.exists():
        return  # msp init has not run: nothing to index, and no empty file to leave behind
    try:
        with _runtime() as rt:
            sync_index(rt)
    except Exception as exc:  # no database yet (msp init not run): the first hook builds it
        typer.echo(f"pre-check index not built yet ({type(exc).__name__}); the hooks build it when needed")


@hooks_app.command("uninstall")
def uninstall(
    scope: str = typer.Option("user", "--scope", help="user: ~/.claude/settings.json; project: ./.claude/."),
) -> None:
    """Remove MSP Mode's hooks from Claude Code's settings; everyone else's stay."""
    path = settings_path(scope)
    before = _read_settings(path)
    after = remove_hooks(before)
    if after == before:
        typer.echo(f"no MSP Mode hooks in {path}")
        return
    backup = _write_settings(path, before, after)
    typer.echo(f"removed MSP Mode hooks from {path}" + (f" (previous file: {backup})" if backup else ""))


# --------------------------------------------------------------------------------------------
# The pre-check index


@contextmanager
def _runtime() -> Iterator[Runtime]:
    with open_runtime() as rt:
        learning.use_snapshots(rt)
        yield rt


def _index_path(rt: Runtime) -> Path:
    label = hook_config.database_label(rt.settings.database_url, rt.settings.home)
    return index.index_path(rt.settings.home, label)


def _freshness(rt: Runtime) -> str:
    raw = rt.db.reader.raw_connection()
    try:
        return index.freshness(raw)
    finally:
        raw.close()


def sync_index(rt: Runtime, *, force: bool = False) -> bool:
    """Rebuild the pre-check index if the database moved on; True if it was written."""
    path = _index_path(rt)
    fresh = _freshness(rt)
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


@hooks_app.command("sync")
def sync(force: bool = typer.Option(False, "--force", help="Rebuild even if it looks current.")) -> None:
    """Save the sessions the Stop/SessionEnd hooks queued and bring the hooks' pre-check
    index up to date (the hooks do both themselves at the next PostToolUse or SessionStart;
    this is for right after a large import, or an upgrade with --force)."""
    actor = local_actor("hook", "claude-code")
    with _runtime() as rt:
        saved = drain_queue(rt, actor)
        pending = _take_pending(rt)
        for i in range(0, len(pending), learning.MAX_BATCH):
            learning.record_commands(rt, actor, pending[i : i + learning.MAX_BATCH], source="hook")
        _pending_path(rt).unlink(missing_ok=True)
        written = sync_index(rt, force=force or bool(pending))
        typer.echo(
            json.dumps(
                {
                    "written": written,
                    "saved_sessions": saved,
                    "commands_recorded": len(pending),
                    "index": str(_index_path(rt)),
                }
            )
        )


# --------------------------------------------------------------------------------------------
# record (PostToolUse)


def _read_request() -> dict[str, Any]:
    raw = sys.stdin.read()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValidationError("expected a JSON object on stdin")
    return data


def _session_exists(rt: Runtime, session_id: uuid.UUID) -> bool:
    from sqlalchemy import select

    from mspmode.models.core import Session as WorkSession

    with rt.db.read() as s:
        return s.execute(select(WorkSession.id).where(WorkSession.id == session_id)).first() is not None


@hooks_app.command("record", hidden=True)
def record(
    rebuild_limit: int = typer.Option(
        REBUILD_IN_HOOK, "--rebuild-limit", hidden=True, help="Commands it may replay without a snapshot."
    ),
) -> None:
    """(For the PostToolUse hook.) Record one command from stdin, learn, update the index."""
    request = _read_request()
    item = request.get("command")
    if not isinstance(item, dict) or not isinstance(item.get("command"), str):
        raise ValidationError("expected {'command': {'command': …}}")
    actor = local_actor("hook", "claude-code")
    with _runtime() as rt:
        ci = _command_in(rt, item)
        if not _state_ready(rt, rebuild_limit):
            _queue_command(rt, ci)
            typer.echo(json.dumps({"queued": True}))
            return
        behind = not _index_current(rt)
        pending = _take_pending(rt)
        recorded: list[learning.Recorded] = []
        for i in range(0, len(pending), learning.MAX_BATCH):
            recorded += learning.record_commands(
                rt, actor, pending[i : i + learning.MAX_BATCH], source="hook"
            )
        _pending_path(rt).unlink(missing_ok=True)
        mine = learning.record_commands(rt, actor, [ci], source="hook")
        hint = learning.recovery_hints(rt, actor, mine)[0]
        _index_after(rt, [*recorded, *mine], full=behind)
        if _snapshot_due(rt):
            learning.use_snapshots(rt)
            learning.save_snapshot(rt)
        learned = mine[0].learned
        typer.echo(
            json.dumps(
                {
                    "hint": hint,
                    "pattern_id": learned.record.pattern_id,
                    "new_pattern": learned.new_pattern,
                    "failure_class": learned.record.failure_class,
                    "pending_recorded": len(pending),
                }
            )
        )


def _command_in(rt: Runtime, item: dict[str, Any]) -> learning.CommandIn:
    session_id = None
    if isinstance(item.get("session_id"), str):
        try:
            candidate = uuid.UUID(item["session_id"])
        except ValueError:
            candidate = None
        if candidate is not None and _session_exists(rt, candidate):
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


def _state_ready(rt: Runtime, rebuild_limit: int = REBUILD_IN_HOOK) -> bool:
    """Whether the learning state can be had within a hook's time: from the CLI's snapshot
    (then caught up), or rebuilt from a history small enough. Loads it; after that
    ``record_commands`` does not write the snapshot back (see ``_snapshot_due``): pickling a
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
    # The cache module has no public switch for "loaded, do not save"; this is its own set.
    cache._snapshot_runtimes.discard(rt)
    return True


def _pending_path(rt: Runtime) -> Path:
    from mspmode.hooks.events import QUEUE_DIR

    return rt.settings.home / QUEUE_DIR / "commands.jsonl"


def _queue_command(rt: Runtime, ci: learning.CommandIn) -> None:
    """Keep a command for later (redacted now: the queue is a file) when learning would take
    longer than the hook may; ``msp hooks sync`` or the next PostToolUse records it."""
    from mspmode.services.capture import clean_text

    path = _pending_path(rt)
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


def _take_pending(rt: Runtime) -> list[learning.CommandIn]:
    path = _pending_path(rt)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            item = json.loads(line)
            if isinstance(item, dict) and isinstance(item.get("command"), str) and item["command"].strip():
                out.append(_command_in(rt, item))
    return out


def _snapshot_due(rt: Runtime) -> bool:
    try:
        age = time.time() - learning.snapshot_path(rt).stat().st_mtime
    except OSError:
        return True
    return age > SNAPSHOT_EVERY


def _index_current(rt: Runtime) -> bool:
    """Whether the index exists, is of this engine and has everything the database has."""
    path = _index_path(rt)
    if not path.exists():
        return False
    try:
        reader = index.Reader(path)
    except Exception:
        return False
    try:
        return reader.usable() and reader.meta.get("freshness") == _freshness(rt)
    finally:
        reader.close()


def _index_after(rt: Runtime, recorded: list[learning.Recorded], *, full: bool) -> None:
    """Write what ``recorded`` changed into the index; everything when it was behind before or
    someone else wrote meanwhile."""
    path = _index_path(rt)
    fresh = _freshness(rt)
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


# --------------------------------------------------------------------------------------------
# context (SessionStart): save queued sessions, refresh the index, recall


def _scope_for(rt: Runtime, actor: Actor, cwd: str | None) -> tuple[str | None, str | None]:
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
    from mspmode.hooks.events import QUEUE_DIR
    from mspmode.services import recall

    folder = rt.settings.home / QUEUE_DIR
    if not folder.is_dir():
        return 0
    saved_path = folder / "saved.json"
    saved = hook_config.read_json(saved_path)
    done = 0
    for path in sorted(folder.glob("*.json")):
        if path == saved_path:
            continue
        entry = hook_config.read_json(path)
        try:
            lines = Path(entry["transcript_path"]).read_text(encoding="utf-8", errors="replace").splitlines()
        except (KeyError, OSError, TypeError):
            path.unlink(missing_ok=True)
            continue
        client, project = _scope_for(rt, actor, entry.get("cwd"))
        current = entry.get("current_session") or {}
        session_id = None
        if isinstance(current, dict) and isinstance(current.get("session_id"), str):
            try:
                session_id = uuid.UUID(current["session_id"])
            except ValueError:
                session_id = None
            if session_id is not None and not _session_exists(rt, session_id):
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


def failure_facts(rt: Runtime, actor: Actor, client: str | None, query: str, budget_tokens: int) -> str:
    """The known failures and their fixes, as recall facts, from the ``failure_patterns`` rows
    (no learning state to load): capability limits of hosts are hard constraints (they do not
    decay), the rest decays with age. The newest ``FAILURE_CANDIDATES`` are scored; older
    ones come back through the insights recall reads."""
    from sqlalchemy import select

    from mspmode.engine.recall import Candidate, RecallQuery, recall
    from mspmode.hooks.events import recall_candidate
    from mspmode.models.learning import FailurePattern
    from mspmode.services import crud
    from mspmode.services.scoping import table_of

    fp = FailurePattern
    stmt = (
        select(fp)
        .where(fp.is_active.is_(True), fp.is_transient.is_(False), *crud.visible_to(actor, table_of(fp)))
        .order_by(fp.last_seen.desc())
        .limit(FAILURE_CANDIDATES)
    )
    candidates = []
    with rt.db.read() as s:
        for p in s.scalars(stmt):
            hosts = [str(h) for h in p.affected_systems or []][:3] or ["this machine"]
            ran = (p.triggering_commands or [""])[-1]
            body = f"`{ran}` failed on {', '.join(hosts)} ({p.failure_class}): {p.failure_description}"
            if p.workaround_commands:
                body += f" What worked: `{p.workaround_commands[0]}`."
            c = recall_candidate(Candidate, p, hosts[0], body, p.last_seen)
            owner = str(p.client_id) if p.client_id else None
            candidates.append(dataclasses.replace(c, client=owner))
    if not candidates:
        return ""
    result = recall(
        candidates,
        RecallQuery(query=query, client=client, budget_tokens=budget_tokens),
        heading="Known failures (MSP Mode): do not repeat these",
    )
    return result.markdown


@hooks_app.command("context", hidden=True)
def context() -> None:
    """(For the SessionStart hook.) Save queued sessions, refresh the index, print recall."""
    from mspmode.services import recall

    request = _read_request()
    actor = local_actor("hook", "claude-code")
    started = time.monotonic()
    with _runtime() as rt:
        saved = drain_queue(rt, actor)
        if not _index_current(rt) and _state_ready(rt):  # else it waits for `msp hooks sync`
            learning.use_snapshots(rt)
            sync_index(rt)
        client, project = _scope_for(rt, actor, request.get("cwd"))
        query = str(request.get("query") or "")
        parts = []
        facts = failure_facts(rt, actor, client, query, FAILURE_BUDGET)
        if facts:
            parts.append(facts)
        budget = RECALL_BUDGET - FAILURE_BUDGET
        try:
            recalled = recall.recall_context(
                rt,
                actor,
                recall.RecallRequest(client=client, project=project, query=query, budget_tokens=budget),
            )
            if recalled.markdown.strip():
                parts.append(recalled.markdown)
        except Exception as exc:  # facts alone are still worth injecting
            hook_config.log(None, "SessionStart", f"recall failed: {type(exc).__name__}: {exc}")
        markdown = "\n\n".join(parts)[:MAX_CHARS]
        typer.echo(
            json.dumps({"markdown": markdown, "saved_sessions": saved, "seconds": time.monotonic() - started})
        )
