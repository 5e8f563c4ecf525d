"""``msp import``, ``msp check``, ``msp patterns`` and ``msp learn``: the daily loop of learning
from what ran and stopping what is known to fail."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import typer
from rich.console import Console
from rich.table import Table

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.errors import ValidationError
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime

patterns_app = typer.Typer(
    help="Failure patterns: what failed before, where, why, and what worked instead.",
    no_args_is_help=True,
)
app.add_typer(patterns_app, name="patterns")

EXIT_BLOCK = 2  # what agent hooks read as "do not run this"
CHECK_LINE_BYTES = 2**20  # a longer line of a check batch is answered unchecked, never read whole
CHECK_GROUP = 1_000  # lines of a check batch answered at a time


@contextmanager
def _runtime() -> Iterator[Runtime]:
    with open_runtime() as rt:
        # One process per command: load the learned state from the snapshot, not the history.
        learning.use_snapshots(rt)
        yield rt


# --------------------------------------------------------------------------------------------
# msp import


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A JSONL history file: client, host and command lines."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Import a history of commands and learn from it.

    Reads one JSON object a line: {"kind": "client"}, {"kind": "host",
    traits…} and {"kind": "command", "host", "command", "exit_code",
    "output", "at", "session"} (the format of shared/scenarios/README.md).
    Hosts are matched by name, IP, alias or FQDN; a command for an unknown
    host creates it. Secrets in commands and outputs are redacted before
    anything is stored, and huge outputs keep their head and tail.

    Learning is done when it returns: the next `msp check` knows what was
    imported. "check" lines and unknown kinds are counted and skipped; a bad
    line is reported with its number (on stderr and under "bad_lines") and
    skipped, and the rest is still imported — the exit status stays 0. The
    whole file is one transaction: if the import fails, nothing is kept.

    Importing the same file again (or one that overlaps it) adds nothing
    twice: a command line already imported (same host, session, time,
    command and exit code) is counted as "already imported" and skipped.
    """
    with _runtime() as rt:
        size = file.stat().st_size if file.is_file() else 0
        if sys.stdout.isatty() and not as_json and size:
            report = _import_with_progress(rt, file, size)
        else:
            report = learning.import_file(rt, local_actor(), file)
    for number, error in report.bad_lines:
        typer.echo(f"msp: {file.name}: line {number}: {error}", err=True)
    if report.bad_line_count > len(report.bad_lines):
        typer.echo(
            f"msp: {file.name}: {report.bad_line_count - len(report.bad_lines)} more bad line(s)", err=True
        )
    if as_json:
        emit_json(report.to_dict())
        return
    unknown = sum(report.unknown_kinds.values())
    typer.echo(
        f"imported {report.commands} command(s) from {report.source} in {report.seconds:.1f} s "
        f"({report.per_second:,.0f}/s): {report.failures} failure(s), {report.patterns_new} new "
        f"pattern(s), {report.fixes} fix(es) learned; {report.clients} client and {report.hosts} host "
        f"line(s); skipped {report.checks_skipped} check line(s), {unknown} of unknown kinds, "
        f"{report.bad_line_count} bad line(s), {report.already_imported} command line(s) already imported"
    )


def _import_with_progress(rt: Runtime, file: Path, size: int) -> learning.ImportReport:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    # Redrawn when the import reports (every few thousand lines), not by a thread of its own:
    # with a second thread running, the import would not fork the process that reads the file.
    with Progress(
        TextColumn(f"importing {file.name}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        auto_refresh=False,
    ) as bar:
        task = bar.add_task("import", total=size)
        return learning.import_file(
            rt, local_actor(), file, progress=lambda done: bar.update(task, completed=done, refresh=True)
        )


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
    with _runtime() as rt:
        result = learning.check(rt, local_actor(), host, text)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        _print_verdict(result)
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
    with _batch_file(batch) as handle, _runtime() as rt:
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
    number: int, raw: bytes | learning.LongLine, default_host: str | None
) -> dict[str, Any] | tuple[str | None, str] | None:
    """A line of a check batch: (host, command) to check, the answer for a line that cannot
    be checked, or None for a blank line."""
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
    asked = [s for s in slots if isinstance(s, tuple)]
    answers = iter(learning.check_many(rt, local_actor(), asked) if asked else [])
    for slot in slots:
        result = slot if isinstance(slot, dict) else next(answers)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            _print_verdict(result, short=True)


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


def _print_verdict(result: dict[str, Any], *, short: bool = False) -> None:
    where = result["host"] or "this machine"
    confidence = f" ({result['confidence']})" if result["confidence"] else ""
    head = f"{result['verdict'].upper()}{confidence} on {where}"
    if short:
        typer.echo(f"{head}: {result['command']} — {result['reason']}")
        for s in result["suggestions"][:1]:
            typer.echo(f"    instead: {s}")
        return
    typer.echo(f"{head}: {result['reason']}")
    for i, s in enumerate(result["suggestions"]):
        typer.echo(f"  {'instead:' if i == 0 else '        '} {s}")
    if result["pattern_ids"]:
        typer.echo(f"  patterns: {', '.join(p[:8] for p in result['pattern_ids'])} (msp patterns explain ID)")


# --------------------------------------------------------------------------------------------
# msp patterns


@patterns_app.command("list")
def patterns_list(
    include_all: bool = typer.Option(False, "--all", help="Include patterns no longer active anywhere."),
    failure_class: str = typer.Option(None, "--class", help="Only this failure class (command_not_found…)."),
    host: str = typer.Option(None, "--host", "-H", help="Only patterns seen on this host."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List failure patterns, the most recently seen first: id, class, culprit,
    confidence, hosts, occurrences, whether a fix was seen.
    """
    with _runtime() as rt:
        page = learning.list_patterns(
            rt,
            local_actor(),
            include_inactive=include_all,
            failure_class=failure_class,
            host=host,
            limit=limit,
        )
    rows = [_pattern_summary(p) for p in page.items]
    if as_json:
        emit_json({"items": rows, "total": page.total})
        return
    table = Table("id", "class", "culprit", "confidence", "hosts", "seen", "fix", "signature")
    for r in rows:
        table.add_row(
            r["id"][:8],
            r["failure_class"] or r["pattern_type"],
            r["culprit"] or "-",
            r["confidence_level"],
            ", ".join(r["affected_systems"] or []) or "-",
            str(r["occurrence_count"]),
            "yes" if r["fix_observed"] else "no",
            r["pattern_signature"],
        )
    Console().print(table)
    if page.total > len(rows):
        typer.echo(f"({len(rows)} of {page.total}; --limit for more)")


def _pattern_summary(p: Any) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "failure_class": p.failure_class,
        "pattern_type": p.pattern_type,
        "culprit": p.culprit,
        "confidence_level": p.confidence_level,
        "affected_systems": p.affected_systems,
        "occurrence_count": p.occurrence_count,
        "fix_observed": p.fix_observed,
        "pattern_signature": p.pattern_signature,
        "last_seen": p.last_seen,
        "is_active": p.is_active,
    }


@patterns_app.command("show")
def patterns_show(
    pattern_id: str = typer.Argument(..., help="The pattern's id, or the start of it."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show every column of one failure pattern."""
    with _runtime() as rt:
        row = learning.get_pattern(
            rt, local_actor(), learning.resolve_pattern_id(rt, local_actor(), pattern_id)
        )
    values = {c.name: getattr(row, c.key) for c in row.__table__.columns}
    if as_json:
        emit_json(values)
        return
    width = max(len(k) for k in values)
    for key, value in values.items():
        shown = (
            json.dumps(value, default=str, ensure_ascii=False) if isinstance(value, list | dict) else value
        )
        typer.echo(f"{key:<{width}}  {shown}")


@patterns_app.command("explain")
def patterns_explain(
    pattern_id: str = typer.Argument(..., help="The pattern's id, or the start of it."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Explain a pattern: what contributed to its fingerprint and why, what
    failed where, what worked instead, and why a pre-check blocks, warns or
    allows because of it.
    """
    with _runtime() as rt:
        actor = local_actor()
        result = learning.explain(rt, actor, learning.resolve_pattern_id(rt, actor, pattern_id))
    if as_json:
        emit_json(result)
        return
    typer.echo(result["text"])


# --------------------------------------------------------------------------------------------
# msp learn


@app.command("learn")
def learn(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Re-run the analysis over the whole recorded history.

    Use it after upgrading msp (a better classifier or grouping) or after
    correcting hosts and their traits. Every command is replayed in the
    order it was recorded; patterns, command classifications and solution
    drafts are rewritten where they changed. Pattern ids stay the same.
    Patterns the analysis no longer produces are counted, never deleted.
    """
    from mspmode.services import recovery

    with _runtime() as rt:
        actor = local_actor()
        report = learning.relearn(rt, actor)
        # Failures not explained yet (imports are explained lazily) get their explanations.
        followed = recovery.catch_up(rt, actor)
    if as_json:
        emit_json({**report.to_dict(), "recovery": followed})
        return
    typer.echo(
        f"replayed {report.commands} command(s) in {report.seconds:.1f} s: {report.patterns} pattern(s) "
        f"({report.patterns_new} new), {report.commands_changed} command(s) reclassified, "
        f"{report.drafts} solution draft(s); {report.patterns_not_learned} stored pattern(s) not from "
        "recorded commands were left as they are"
    )
    typer.echo(
        f"recovery: {followed['command_explanations']} failure(s) explained, "
        f"{followed['attempts']} recovery attempt(s) found"
    )
