"""``msp hooks install|uninstall|sync``: Claude Code's hooks.

The hooks themselves (``mspmode/hooks``) start light and never import this module: Claude
Code runs ``python -S …/mspmode/hooks/__main__.py EVENT`` (:func:`hook_argv`), which posts the
event to the local service (started on demand, ``msp service``) or the team server.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from mspmode.cli.app import app, load_settings, open_runtime
from mspmode.errors import ValidationError
from mspmode.hooks import config as hook_config
from mspmode.hooks import service as hook_files
from mspmode.services import hooks as hook_service
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import display_url

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
BACKUP_DIR = "settings-backups"  # in MSP_HOME: Claude Code settings as they were before a change


# --------------------------------------------------------------------------------------------
# install / uninstall


def settings_path(scope: str, project_dir: Path | None = None) -> Path:
    """Where our entries go. A project's are machine paths (this Python, this MSP_HOME), so
    they go to its ``settings.local.json``, Claude Code's file for one person's machine, never
    to the ``settings.json`` the project shares."""
    if scope == "user":
        return Path.home() / ".claude" / "settings.json"
    if scope == "project":
        return (project_dir or Path.cwd()) / ".claude" / "settings.local.json"
    raise ValidationError("--scope must be user or project")


def shared_settings_path(scope: str, project_dir: Path | None = None) -> Path | None:
    """The project's shared file, where earlier versions wrote our entries (removed on install)."""
    return (project_dir or Path.cwd()) / ".claude" / "settings.json" if scope == "project" else None


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
        hook: dict[str, Any] = {"type": "command", "command": hook_command(event, home), "timeout": timeout}
        if event in hook_config.ASYNC_EVENTS:
            hook["async"] = True
        entry: dict[str, Any] = {"hooks": [hook]}
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


def _write_settings(path: Path, before: dict[str, Any], after: dict[str, Any], home: Path) -> Path | None:
    """Write ``after`` if it differs; the previous file is kept in ``MSP_HOME/settings-backups``
    (never beside it: in a project that would be a file for git to pick up). The backup's path."""
    if before == after and path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if path.exists():
        folder = home / BACKUP_DIR
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
        backup = folder / f"{path.name}.{where}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(after, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return backup


def _write_hook_config(
    home: Path, server: str | None, api_key_file: Path | None, database_url: str | None
) -> None:
    """``MSP_HOME/hooks.json`` (0600: a database URL may hold a password, like the key files
    beside it): the team server, or the database the hooks were installed for — Claude Code
    started without ``MSP_DATABASE_URL`` must not fall back to another one."""
    path = home / hook_config.CONFIG_FILE
    data = hook_config.read_json(path)
    for key in ("server", "api_key_file", "database_url"):
        data.pop(key, None)
    if database_url and not server:
        data["database_url"] = database_url
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
    scope: str = typer.Option(
        "user", "--scope", help="user: ~/.claude/settings.json; project: ./.claude/settings.local.json."
    ),
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
    is kept in MSP_HOME/settings-backups. --scope project writes
    .claude/settings.local.json (this machine's paths), never the shared
    .claude/settings.json.

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
    shared = shared_settings_path(scope)
    shared_before = _read_settings(shared) if shared is not None else {}
    # The home is always written: a claude started with another MSP_HOME, or none, still uses
    # the one the hooks were installed for.
    backup = _write_settings(path, before, merge_hooks(before, settings.home.resolve()), settings.home)
    if shared is not None and shared.exists():
        _write_settings(shared, shared_before, remove_hooks(shared_before), settings.home)
    database_url = _absolute_sqlite(settings.database_url)
    _write_hook_config(settings.home, server, api_key_file, database_url)
    where = display_url(settings.db_url) if database_url else f"{settings.default_database_path}"
    mode = f"team server {server}" if server else f"local database {where}"
    typer.echo(f"installed {len(HOOK_EVENTS)} hooks in {path} ({mode})")
    _compile_hook_code()
    if server is None:
        _start_service(settings.home, settings.database_url)
    if backup is not None:
        typer.echo(f"previous settings kept in {backup}")


def _absolute_sqlite(url: str | None) -> str | None:
    """``url`` with a relative SQLite path made absolute (the hooks run in any folder)."""
    if not url:
        return None
    path = hook_config.sqlite_path(url, ".")
    if path is None or os.path.isabs(path):
        return url
    return f"sqlite:///{Path(path).resolve()}"


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


def _start_service(home: Path, database_url: str | None) -> None:
    """Start the local service now, so the first tool call finds it warm."""
    cfg = hook_config.HookConfig(home, database_url)
    if not hook_files.database_present(cfg):
        return  # msp init has not run: nothing to serve, and no empty file to leave behind
    if hook_files.ensure_started(cfg):
        typer.echo(f"local service starting for {home} (msp local-service status)")


@hooks_app.command("uninstall")
def uninstall(
    scope: str = typer.Option(
        "user", "--scope", help="user: ~/.claude/settings.json; project: ./.claude/settings.local.json."
    ),
) -> None:
    """Remove MSP Mode's hooks from Claude Code's settings; everyone else's stay."""
    home = load_settings().home
    found = False
    for path in (settings_path(scope), shared_settings_path(scope)):
        if path is None or not path.exists():
            continue
        before = _read_settings(path)
        after = remove_hooks(before)
        if after == before:
            continue
        found = True
        backup = _write_settings(path, before, after, home)
        typer.echo(f"removed MSP Mode hooks from {path}" + (f" (previous file: {backup})" if backup else ""))
    if not found:
        typer.echo(f"no MSP Mode hooks in {settings_path(scope)}")


# --------------------------------------------------------------------------------------------
# The pre-check index


@contextmanager
def _runtime() -> Iterator[Runtime]:
    with open_runtime() as rt:
        learning.use_store(rt)
        yield rt


@hooks_app.command("sync")
def sync(force: bool = typer.Option(False, "--force", help="Rebuild even if it looks current.")) -> None:
    """Save the sessions the Stop/SessionEnd hooks queued, record what they journaled while
    the service was down, and bring the on-disk pre-check index up to date (the local service
    does all three itself; this is for a machine without it, or after an upgrade with --force)."""
    actor = local_actor("hook", "claude-code")
    with _runtime() as rt:
        saved = hook_service.drain_queue(rt, actor)
        pending = hook_service.replay_journal(rt, actor)
        written = hook_service.sync_index(rt, force=force or bool(pending))
        typer.echo(
            json.dumps(
                {
                    "written": written,
                    "saved_sessions": saved,
                    "commands_recorded": pending,
                    "index": str(hook_service.index_path(rt)),
                }
            )
        )
