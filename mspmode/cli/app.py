"""The root Typer app and the options every command shares."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_group

from mspmode.errors import ConfigError, ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typer import _click as click

    from mspmode.services.runtime import Runtime
    from mspmode.settings import Settings

# Every command and group of ``msp``: its module (imported only when the command runs, so that
# ``msp --help`` and a light command do not load the API, the database and the engine) and its
# one-line help as ``msp --help`` lists it. In the order ``msp --help`` lists them.
# tests/cli/test_light.py checks each line against the command its module registers.
COMMANDS: dict[str, tuple[str, str]] = {
    "backup": ("backup", "Back up the database and verify the backup."),
    "restore": ("backup", "Replace the database with a backup."),
    "insights": (
        "insights",
        "Write a client's insights.md: what to know about each host before acting, per category, "
        "with the commands that work instead.",
    ),
    "search": ("insights", "Search past problem solutions, most relevant first."),
    "health": (
        "insights",
        "Auto-recovery health: success rate, mean time to recovery, patterns by severity, "
        "unresolved failures and open escalations.",
    ),
    "import": ("learning", "Import a history of commands and learn from it."),
    "check": (
        "check",
        "Pre-check a command before it runs: block, warn or allow, with the reason and what worked instead.",
    ),
    "learn": ("learning", "Re-run the analysis over the whole recorded history."),
    "recall": ("recall", "Print what MSP Mode remembers that matters now, as markdown."),
    "mcp": ("mcp_server", "Run the MCP server over stdio, for an agent that speaks MCP."),
    "init": ("setup", "Set up MSP Mode: MSP_HOME, key files, database schema, first admin user."),
    "serve": (
        "setup",
        "Run the REST API (docs at /api/docs). The database must be at this version's schema.",
    ),
    "dashboard": (
        "setup",
        "Open the web dashboard already signed in, through a one-time link (valid 2 minutes, for "
        "one browser). The server must be running (`msp serve`); nothing to type or remember.",
    ),
    "audit": ("audit", "The tamper-evident audit log."),
    "cred": ("credentials", "Client credentials: secrets are sealed by the vault and shown only on request."),
    "vault": ("credentials", "The vault's keys."),
    "db": ("db", "Create, upgrade and check the database schema."),
    "client": ("entities", "Clients: the MSP's customers (and the MSP itself, type internal)."),
    "project": ("entities", "Projects: a client's piece of work, and the folder the agent works on it in."),
    "site": ("entities", "Sites: offices, data centres and cloud regions of a client."),
    "task": ("entities", "Pending tasks: what is left to do, carried into the next session."),
    "tag": ("entities", "Tags shared by sessions, work items and hosts."),
    "hooks": (
        "hooks",
        "Claude Code hooks: stop known mistakes before they run, record what ran, recall context.",
    ),
    "host": ("infrastructure", "Hosts: the servers, VMs, NAS boxes and devices the MSP works on."),
    "service": ("infrastructure", "Services a host runs: web, database, DNS, file shares…"),
    "maintenance": ("insights", "Housekeeping of the learned data (retention)."),
    "patterns": ("learning", "Failure patterns: what failed before, where, why, and what worked instead."),
    "psa": (
        "psa",
        "Your PSA (SyncroMSP, Autotask, ConnectWise, HaloPSA, ITFlow): connect it, test it, post "
        "what is owed.",
    ),
    "ticket": ("psa", "PSA tickets a session's work belongs to."),
    "context": ("recall", "Conversation contexts: what later sessions will recall."),
    "report": ("reports", "Billing, work and failure reports (tables, CSV or JSON)."),
    "local-service": ("service", "The local service the hooks, CLI and MCP tools ask."),
    "user": ("users", "Manage the people who sign in to the API."),
    "apikey": ("users", "Issue and revoke API keys for hooks, agents and MCP clients."),
    "session": ("work", "Sessions of work for a client: start, stop, list."),
    "work": ("work", "Work items: what was done in a session, timed and billed."),
}


class _Listed(TyperCommand):
    """A command not imported yet, as ``msp --help`` lists it."""


class LazyGroup(TyperGroup):
    """The root group: every name of :data:`COMMANDS` is listed, and a command's module is
    imported when it is asked for (Click's lazy-loading pattern). Help and suggestions for a
    mistyped name see the listed form; running a command loads the real one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False
        for name, (_module, help_) in COMMANDS.items():
            self.commands.setdefault(name, _Listed(name=name, help=help_))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = self.commands.get(cmd_name)
        if isinstance(cmd, _Listed) and not self._listing:
            cmd = self.commands[cmd_name] = load_command(cmd_name)
        return cmd

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def load_command(name: str) -> click.Command:
    """Import the module of the command ``name`` (it registers on :data:`app`) and build it."""
    importlib.import_module(f"mspmode.cli.{COMMANDS[name][0]}")
    group = get_group(app)
    return group.commands[name]


app = typer.Typer(
    name="msp",
    help="MSP Mode: memory for MSP technicians and their AI agents. "
    "Records clients, hosts, sessions and commands, learns from what failed, "
    "and stops an agent before it repeats a known mistake.",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A callback makes ``msp`` a group before any command module has registered on it.
    pass


def load_settings() -> Settings:
    """Settings from the environment, or a ConfigError naming the bad variable."""
    import pydantic

    from mspmode.settings import Settings

    try:
        return Settings()
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        name = "MSP_" + str(first["loc"][0]).upper() if first.get("loc") else "an MSP_ variable"
        raise ConfigError(f"{name} is invalid: {first['msg']}") from None


@contextmanager
def open_runtime() -> Iterator[Runtime]:
    """The runtime for a command that reads or writes data: the schema must be current."""
    from mspmode.db import schema
    from mspmode.services.runtime import Runtime

    settings = load_settings()
    if settings.db_url.drivername == "sqlite" and not Path(settings.db_url.database or "").exists():
        # Connecting would create an empty file, and whatever uses it (the hooks) would find
        # nothing recorded: no known failure stopped, in silence.
        raise ConfigError(
            f"no database at {settings.db_url.database}: run `msp init` (MSP_DATABASE_URL or "
            "MSP_HOME may name another one)"
        )
    rt = Runtime(settings)
    rt.db.on_wait = _waiting_notice()
    try:
        rt.db.ping()
        schema.require_head(rt.db)
        yield rt
    finally:
        rt.dispose()


def _waiting_notice() -> Callable[[], None]:
    """What a command does when a write waits for another process's lock (SQLite): say so
    once, on stderr, so that a person does not take the wait for a hang (stdout stays the
    command's own output)."""
    said = False

    def say() -> None:
        nonlocal said
        if not said:
            said = True
            print("msp: waiting for another msp process to finish writing…", file=sys.stderr, flush=True)

    return say


def read_stdin(limit: int, what: str) -> str:
    """Standard input as text, at most ``limit`` bytes: more is refused in one line rather
    than read whole into memory first."""
    raw = sys.stdin.buffer.read(limit + 1)
    if len(raw) > limit:
        raise ValidationError(f"{what} on standard input is longer than {limit:,} bytes")
    return raw.decode("utf-8", "replace")


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))
