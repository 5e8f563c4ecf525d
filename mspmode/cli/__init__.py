"""The ``msp`` command: one Typer app, one module per noun.

Errors are one line on stderr and exit status 1; nothing below this layer prints.
"""

from __future__ import annotations

import sys

from mspmode.cli.app import app
from mspmode.errors import MSPError


def main() -> None:
    """Console-script entry point."""
    try:
        # Without standalone mode Click returns a typer.Exit's code instead of exiting with it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except MSPError as exc:
        _fail(str(exc))
    except Exception as exc:  # Click's own usage errors keep their exit code
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            _fail("aborted")
        raise


def _fail(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"msp: error: {first}", file=sys.stderr)
    sys.exit(1)


__all__ = ["app", "main"]
