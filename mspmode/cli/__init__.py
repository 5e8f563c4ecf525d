"""The ``msp`` command: one Typer app, one module per noun.

Errors are one line on stderr and exit status 1; nothing below this layer prints. A usage
error (an unknown command or option, a bad value) is one line too, with Click's message and
where to find the command's help (exit 2); an error nobody meant to raise (a bug, memory run out)
is one line too, pointing at ``MSP_HOME/cli-errors.log``, where its traceback is kept,
redacted: never a traceback on the terminal.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from mspmode.errors import MSPError

CRASH_LOG = "cli-errors.log"
CRASH_LOG_MAX_BYTES = 1_000_000  # then it is moved to cli-errors.log.1


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["check"]:
        from mspmode.cli import quickcheck

        code = quickcheck.run(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from mspmode.cli.app import app

    try:
        # Without standalone mode Click returns a typer.Exit's code instead of exiting with it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except MSPError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        print("msp: error: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        # Typer ships its own copy of Click, whose classes are not the click package's.
        if _is_click(exc, "Exit"):
            sys.exit(getattr(exc, "exit_code", 0))
        if _is_click(exc, "NoArgsIsHelpError"):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        if _is_click(exc, "UsageError"):
            _usage(exc)
        if _is_click(exc, "ClickException"):
            _fail(exc.format_message(), getattr(exc, "exit_code", 1))  # type: ignore[attr-defined]
        if _is_click(exc, "Abort"):
            _fail("aborted")
        if "sqlalchemy" in sys.modules:
            from mspmode.db.engine import is_busy
            from mspmode.db.session import BUSY_MESSAGE

            if is_busy(exc):
                _fail(BUSY_MESSAGE)
        _crash(exc)


def _is_click(exc: BaseException, name: str) -> bool:
    return any(
        cls.__name__ == name and cls.__module__.split(".")[0] in ("click", "typer")
        for cls in type(exc).__mro__
    )


def _fail(message: str, code: int = 1) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"msp: error: {first}", file=sys.stderr)
    sys.exit(code)


def _usage(exc: Any) -> None:
    """A usage error in one line: Click's message, and the help of the command it is about."""
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None and ctx.command_path else ""
    _fail(exc.format_message().rstrip() + where, getattr(exc, "exit_code", 2))


def _crash(exc: BaseException) -> None:
    if isinstance(exc, MemoryError):
        what = "out of memory: the input is too large to handle"
    else:
        what = f"unexpected {type(exc).__name__} (a bug in msp)"
    log = _log_crash(exc)
    print(
        f"msp: error: {what}; " + (f"details in {log}" if log else "no log could be written"), file=sys.stderr
    )
    sys.exit(1)


def _log_crash(exc: BaseException) -> Path | None:
    """Append the redacted traceback to ``MSP_HOME/cli-errors.log`` (0600); its path, or None
    if it could not be written. The command's arguments are not logged: they may hold secrets."""
    try:
        from mspmode.cli.app import load_settings
        from mspmode.vault.redact import redact

        home = load_settings().home
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = home / CRASH_LOG
        try:
            if path.stat().st_size > CRASH_LOG_MAX_BYTES:
                os.replace(path, path.with_name(CRASH_LOG + ".1"))
        except OSError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = redact("".join(traceback.format_exception(exc)))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(f"{stamp} msp (pid {os.getpid()})\n{body}\n")
        return path
    except Exception:
        return None


__all__ = ["main"]
