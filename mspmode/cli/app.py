"""The root Typer app and the options every command shares."""

from __future__ import annotations

import pydantic
import typer

from mspmode.errors import ConfigError
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


# Sub-apps register themselves on import.
from mspmode.cli import db as _db  # noqa: E402,F401
from mspmode.cli import setup as _setup  # noqa: E402,F401
