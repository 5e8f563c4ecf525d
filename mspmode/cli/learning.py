"""``msp import``, ``msp patterns`` and ``msp learn``: learning from what ran (``msp check``,
which asks what was learned, is in :mod:`mspmode.cli.check`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.services import learning
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime

patterns_app = typer.Typer(
    help="Failure patterns: what failed before, where, why, and what worked instead.",
    no_args_is_help=True,
)
app.add_typer(patterns_app, name="patterns")


@contextmanager
def learning_runtime() -> Iterator[Runtime]:
    with open_runtime() as rt:
        # One process per command: load the learned state from the one store, not the history.
        learning.use_store(rt)
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
    with learning_runtime() as rt:
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
    with learning_runtime() as rt:
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
    with learning_runtime() as rt:
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
    with learning_runtime() as rt:
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

    with learning_runtime() as rt:
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
