"""``msp hooks install|uninstall|sync``: Claude Code's hooks, and the full-stack half of them.

The hooks themselves (``mspmode/hooks``) start light and never import this module: Claude
Code runs ``python -S …/mspmode/hooks/__main__.py EVENT`` (:func:`hook_argv`). When a hook must write —
record a command, save a session, rebuild the pre-check index — it runs ``python -m mspmode
hooks record|context|sync`` (hidden commands below) and waits for it: the normal services path,
learning included, in a process that is gone when the hook answers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from mspmode.cli.app import app, load_settings, open_runtime, read_stdin
from mspmode.engine.recall import MAX_CHARS
from mspmode.errors import ValidationError
from mspmode.hooks import config as hook_config
from mspmode.services import hooks as hook_service
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime

hooks_app = typer.Typer(
    help="Claude Code hooks: stop known mistakes before they run, record what ran, recall context.",
    no_args_is_help=True,
)
app.add_typer(hooks_app, name="hooks")

# How our entries are told from anyone else's: the command runs the hooks package, as a path
# (what install writes now) or as a module (what earlier versions wrote, replaced on install).
MARKER = re.compile(r"-m mspmode\.hooks\b|mspmode[\\/]hooks\b")
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
MAX_REQUEST_BYTES = 64 * 2**20  # a hook's event on stdin, as the hook itself reads at most
RECALL_BUDGET = 1500  # tokens in all (≤ 10,000 characters)
FAILURE_BUDGET = 400  # of which the known failures section


# --------------------------------------------------------------------------------------------
# install / uninstall


def settings_path(scope: str, project_dir: Path | None = None) -> Path:
    if scope == "user":
        return Path.home() / ".claude" / "settings.json"
    if scope == "project":
        return (project_dir or Path.cwd()) / ".claude" / "settings.json"
    raise ValidationError("--scope must be user or project")


def hook_argv(event: str, home: Path | None = None) -> list[str]:
    """The hook's command line: the package's ``__main__.py`` run as a script without ``site``
    (see that file: 20–40 ms of every tool call)."""
    import mspmode.hooks

    parts = [sys.executable, "-S", str(Path(mspmode.hooks.__file__).resolve().parent / "__main__.py"), event]
    if home is not None:
        parts += ["--home", str(home)]
    return parts


def hook_command(event: str, home: Path | None) -> str:
    parts = hook_argv(event, home)
    if os.name == "nt":
        import subprocess

        return subprocess.list2cmdline(parts)
    return " ".join(shlex.quote(p) for p in parts)


def _ours(group: Any) -> bool:
    hooks = group.get("hooks") if isinstance(group, dict) else None
    return isinstance(hooks, list) and any(
        isinstance(h, dict) and MARKER.search(str(h.get("command", ""))) for h in hooks
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
    _compile_hook_code()
    if server is None:
        _first_index()
    if backup is not None:
        typer.echo(f"previous settings kept in {backup}")


def _compile_hook_code() -> None:
    """Write the bytecode of what a hook process imports. Every tool call starts one, and
    without ``.pyc`` files (an editable install, or ``PYTHONDONTWRITEBYTECODE`` set, as in many
    containers) each would compile the engine from source again: 25 ms a call."""
    import compileall

    import mspmode

    root = Path(mspmode.__file__).parent
    for package in ("hooks", "engine", "vault"):
        # A read-only install is not an error (compileall reports it and goes on): the hooks
        # work, a little slower.
        compileall.compile_dir(root / package, quiet=2)


def _first_index() -> None:
    """Build the pre-check index now, so the first PreToolUse does not wait for it."""
    settings = load_settings()
    db_file = hook_config.sqlite_path(settings.database_url, settings.home)
    if db_file is not None and not os.path.exists(db_file):
        return  # msp init has not run: nothing to index, and no empty file to leave behind
    try:
        with _runtime() as rt:
            hook_service.sync_index(rt)
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


@hooks_app.command("sync")
def sync(force: bool = typer.Option(False, "--force", help="Rebuild even if it looks current.")) -> None:
    """Save the sessions the Stop/SessionEnd hooks queued and bring the hooks' pre-check
    index up to date (the hooks do both themselves at the next PostToolUse or SessionStart;
    this is for right after a large import, or an upgrade with --force)."""
    actor = local_actor("hook", "claude-code")
    with _runtime() as rt:
        saved = hook_service.drain_queue(rt, actor)
        pending = hook_service.take_pending(rt)
        for i in range(0, len(pending), learning.MAX_BATCH):
            learning.record_commands(rt, actor, pending[i : i + learning.MAX_BATCH], source="hook")
        hook_service.pending_path(rt).unlink(missing_ok=True)
        written = hook_service.sync_index(rt, force=force or bool(pending))
        typer.echo(
            json.dumps(
                {
                    "written": written,
                    "saved_sessions": saved,
                    "commands_recorded": len(pending),
                    "index": str(hook_service.index_path(rt)),
                }
            )
        )


# --------------------------------------------------------------------------------------------
# record (PostToolUse)


def _read_request() -> dict[str, Any]:
    raw = read_stdin(MAX_REQUEST_BYTES, "the request")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        raise ValidationError("expected a JSON object on stdin") from None
    if not isinstance(data, dict):
        raise ValidationError("expected a JSON object on stdin")
    return data


@hooks_app.command("record", hidden=True)
def record(
    rebuild_limit: int = typer.Option(
        hook_service.REBUILD_IN_HOOK,
        "--rebuild-limit",
        hidden=True,
        help="Commands it may replay without a snapshot.",
    ),
) -> None:
    """(For the PostToolUse hook.) Record one command from stdin, learn, update the index."""
    request = _read_request()
    item = request.get("command")
    if not isinstance(item, dict) or not isinstance(item.get("command"), str):
        raise ValidationError("expected {'command': {'command': …}}")
    actor = local_actor("hook", "claude-code")
    with _runtime() as rt:
        ci = hook_service.command_in(rt, item)
        if not hook_service.state_ready(rt, rebuild_limit):
            hook_service.queue_command(rt, ci)
            typer.echo(json.dumps({"queued": True}))
            return
        behind = not hook_service.index_current(rt)
        pending = hook_service.take_pending(rt)
        recorded: list[learning.Recorded] = []
        for i in range(0, len(pending), learning.MAX_BATCH):
            recorded += learning.record_commands(
                rt, actor, pending[i : i + learning.MAX_BATCH], source="hook"
            )
        hook_service.pending_path(rt).unlink(missing_ok=True)
        mine = learning.record_commands(rt, actor, [ci], source="hook")
        hint = learning.recovery_hints(rt, actor, mine)[0]
        hook_service.index_after(rt, [*recorded, *mine], full=behind)
        if hook_service.snapshot_due(rt):
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


# --------------------------------------------------------------------------------------------
# context (SessionStart): save queued sessions, refresh the index, recall


@hooks_app.command("context", hidden=True)
def context() -> None:
    """(For the SessionStart hook.) Save queued sessions, refresh the index, print recall."""
    from mspmode.services import recall

    request = _read_request()
    actor = local_actor("hook", "claude-code")
    started = time.monotonic()
    with _runtime() as rt:
        saved = hook_service.drain_queue(rt, actor)
        # Without a learning state to be had in time, the index waits for `msp hooks sync`.
        if not hook_service.index_current(rt) and hook_service.state_ready(rt):
            learning.use_snapshots(rt)
            hook_service.sync_index(rt)
        client, project = hook_service.scope_for(rt, actor, request.get("cwd"))
        query = str(request.get("query") or "")
        parts = []
        facts = hook_service.failure_facts(rt, actor, client, query, FAILURE_BUDGET)
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
