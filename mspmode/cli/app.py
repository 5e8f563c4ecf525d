"""The root Typer app and the options every command shares."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pydantic
import typer

from mspmode.errors import ConfigError, ValidationError
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings

app = typer.Typer(
    name="msp",
    help="MSP Mode: memory for MSP technicians and their AI agents. "
    "Records clients, hosts, sessions and commands, learns from what failed, "
    "and stops an agent before it repeats a known mistake.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def load_settings() -> Settings:
    """Settings from the environment, or a ConfigError naming the bad variable."""
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

    rt = Runtime(load_settings())
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


# Sub-apps register themselves on import.
from mspmode.cli import audit as _audit  # noqa: E402,F401
from mspmode.cli import backup as _backup  # noqa: E402,F401
from mspmode.cli import credentials as _credentials  # noqa: E402,F401
from mspmode.cli import db as _db  # noqa: E402,F401
from mspmode.cli import entities as _entities  # noqa: E402,F401
from mspmode.cli import hooks as _hooks  # noqa: E402,F401
from mspmode.cli import infrastructure as _infrastructure  # noqa: E402,F401
from mspmode.cli import insights as _insights  # noqa: E402,F401
from mspmode.cli import learning as _learning  # noqa: E402,F401
from mspmode.cli import psa as _psa  # noqa: E402,F401
from mspmode.cli import recall as _recall  # noqa: E402,F401
from mspmode.cli import reports as _reports  # noqa: E402,F401
from mspmode.cli import setup as _setup  # noqa: E402,F401
from mspmode.cli import users as _users  # noqa: E402,F401
from mspmode.cli import work as _work  # noqa: E402,F401
