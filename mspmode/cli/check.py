"""``msp check``: block, warn or allow a command before it runs.

The local service is asked when it runs (:mod:`mspmode.cli.quickcheck`, which answers the
plain forms before Typer is even loaded); otherwise this process loads what was learned itself
(the one store, caught up with the database). ``--batch`` always checks in this process: it
answers many lines for one load.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import typer

from mspmode.cli.app import app
from mspmode.cli.quickcheck import EXIT_BLOCK, ask_service, print_verdict
from mspmode.errors import ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mspmode.services.learning import LongLine
    from mspmode.services.runtime import Runtime

CHECK_LINE_BYTES = 2**20  # a longer line of a check batch is answered unchecked, never read whole
CHECK_GROUP = 1_000  # lines of a check batch answered at a time


# --------------------------------------------------------------------------------------------
# msp check


@app.command("check")
def check(
    command: list[str] = typer.Argument(None, help="The command, after `--` (quote it as one argument)."),
    host: str = typer.Option(
        None, "--host", "-H", help="Where it will run: a host's name, IP, alias or FQDN."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print exactly one JSON object (one per line with --batch)."
    ),
    batch: Path = typer.Option(
        None, "--batch", help='A JSONL file of {"host", "command"} lines to check in order ("-": stdin).'
    ),
) -> None:
    """Pre-check a command before it runs: block, warn or allow, with the
    reason and what worked instead.

    msp check --host AD1 -- 'Get-LocalUser -Name jdoe'

    Without --host the target is found from the command itself (ssh user@ip,
    an alias, Invoke-Command -ComputerName) or is this machine. A command
    that failed on that host before (or uses what failed there: the same
    program, option, operator) is blocked; one that failed on hosts sharing
    its distinguishing traits (same OS release, PowerShell version…) gets a
    warning; transient failures are never blocked. It never runs the command
    and changes nothing.

    --json prints {"host", "command", "verdict", "confidence", "reason",
    "suggestions", "pattern_ids"}. Exit status: 0 for allow or warn, 2 for
    block (what agent hooks treat as "do not run"), 1 for an error. With
    --batch every line gets one answer, in order, and the exit status is 0;
    a line that is not {"command": …} is answered "allow" with the reason.
    """
    if batch is not None:
        if command:
            raise ValidationError("give either --batch FILE or a command, not both")
        _check_batch(batch, host, as_json)
        return
    text = " ".join(command or []).strip()
    if not text:
        raise ValidationError("nothing to check: msp check [--host H] -- COMMAND")
    result = ask_service(host, text)
    if result is None:
        from mspmode.cli.learning import learning_runtime
        from mspmode.services import learning
        from mspmode.services.actor import local_actor

        with learning_runtime() as rt:
            result = learning.check(rt, local_actor(), host, text)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        print_verdict(result)
    if result["verdict"] == "block":
        raise typer.Exit(EXIT_BLOCK)


@contextmanager
def _batch_file(batch: Path) -> Iterator[BinaryIO]:
    if str(batch) == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = batch.open("rb")
    except OSError as exc:
        raise ValidationError(f"cannot read {batch}: {exc.strerror or exc}") from None
    with handle:
        yield handle


def _check_batch(batch: Path, default_host: str | None, as_json: bool) -> None:
    """Answer the lines of ``batch`` in order, a group at a time as they are read: a file of
    any size is checked in bounded memory."""
    from mspmode.cli.learning import learning_runtime
    from mspmode.services import learning

    with _batch_file(batch) as handle, learning_runtime() as rt:
        slots: list[dict[str, Any] | tuple[str | None, str]] = []
        for number, raw in enumerate(learning.bounded_lines(handle, CHECK_LINE_BYTES), 1):
            slot = _batch_slot(number, raw, default_host)
            if slot is not None:
                slots.append(slot)
            if len(slots) >= CHECK_GROUP:
                _answer(rt, slots, as_json)
                slots = []
        _answer(rt, slots, as_json)


def _batch_slot(
    number: int, raw: bytes | LongLine, default_host: str | None
) -> dict[str, Any] | tuple[str | None, str] | None:
    """A line of a check batch: (host, command) to check, the answer for a line that cannot
    be checked, or None for a blank line."""
    from mspmode.services import learning

    if isinstance(raw, learning.LongLine):
        reason = f"line {number}: longer than {CHECK_LINE_BYTES // 2**20} MiB; nothing was checked"
        typer.echo(f"msp: {reason}", err=True)
        return _unchecked(None, reason)
    line = raw.decode("utf-8", "replace")
    if not line.strip():
        return None
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("command"), str):
        reason = f'line {number}: not a {{"host", "command"}} object; nothing was checked'
        typer.echo(f"msp: {reason}", err=True)
        return _unchecked(event, reason)
    host = event.get("host", default_host)
    return (host if isinstance(host, str) else None, event["command"])


def _answer(rt: Runtime, slots: list[dict[str, Any] | tuple[str | None, str]], as_json: bool) -> None:
    from mspmode.services import learning
    from mspmode.services.actor import local_actor

    asked = [s for s in slots if isinstance(s, tuple)]
    answers = iter(learning.check_many(rt, local_actor(), asked) if asked else [])
    for slot in slots:
        result = slot if isinstance(slot, dict) else next(answers)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            print_verdict(result, short=True)


def _unchecked(event: Any, reason: str) -> dict[str, Any]:
    host = event.get("host") if isinstance(event, dict) else None
    command = event.get("command") if isinstance(event, dict) else None
    return {
        "host": host if isinstance(host, str) else None,
        "command": command if isinstance(command, str) else "",
        "verdict": "allow",
        "confidence": None,
        "reason": reason,
        "suggestions": [],
        "pattern_ids": [],
    }
