"""``msp insights``, ``msp search``, ``msp health`` and ``msp maintenance``: reading what was
learned, and keeping it tidy."""

from __future__ import annotations

from pathlib import Path

import typer

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.services import insights as insights_service
from mspmode.services import maintenance, recovery, solutions
from mspmode.services.actor import local_actor

maintenance_app = typer.Typer(help="Housekeeping of the learned data (retention).", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


@app.command("insights")
def insights(
    client: str = typer.Option(..., "--client", "-c", help="The client's name (or id)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write insights.md here instead of printing it."),
) -> None:
    """Write a client's insights.md: what to know about each host before
    acting, per category, with the commands that work instead.

    The insights are refreshed from the failure patterns first (created,
    verified, superseded by better ones, deactivated when a host changed),
    and each host's limitations and notes are updated. An unknown client is
    an error naming the clients that exist.
    """
    with open_runtime() as rt:
        text = insights_service.insights_markdown(rt, local_actor(), client)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


@app.command("search")
def search(
    query: str = typer.Argument(..., help='Words to find, e.g. "ERR_SSL_PROTOCOL_ERROR".'),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=solutions.MAX_RESULTS),
    status: str = typer.Option(None, "--status", help="Only draft, verified or archived solutions."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Search past problem solutions, most relevant first.

    Every word must appear in the title, error, description, symptom, root
    cause or solution; each result shows the snippet that matched. Drafts
    are written automatically when a failure is followed by its fix.
    """
    with open_runtime() as rt:
        results = solutions.search(rt, local_actor(), query, limit=limit, status=status)
    if as_json:
        emit_json(results)
        return
    if not results:
        typer.echo(f"no problem solution matches {query!r}")
        return
    for r in results:
        where = f" on {r['host']}" if r["host"] else ""
        typer.echo(f"{r['rank']}. {r['problem_title']} [{r['status']}, seen {r['recurrence_count']}×{where}]")
        typer.echo(f"   {r['snippet']}")
        typer.echo(f"   solution: {r['solution_applied']}")
        typer.echo(f"   id: {r['id']}")


@app.command("health")
def health(
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
) -> None:
    """Auto-recovery health: success rate, mean time to recovery, patterns by
    severity, unresolved failures and open escalations.

    Failures not explained yet (an import is explained lazily) are explained
    first, and the attempts that followed them read from the history.
    """
    with open_runtime() as rt:
        figures = recovery.health(rt, local_actor())
    if as_json:
        emit_json(figures)
        return
    rate = figures["recovery_success_rate"]
    mttr = figures["mean_time_to_recovery_seconds"]
    typer.echo(
        f"failures: {figures['failures']} ({figures['unresolved_failures']} unresolved), "
        f"with attempts: {figures['failures_with_attempts']}, recovered: {figures['recovered']}"
    )
    typer.echo(
        "recovery success rate: "
        + (f"{rate:.1%}" if rate is not None else "n/a")
        + ", mean time to recovery: "
        + (f"{mttr:.0f} s" if mttr is not None else "n/a")
    )
    for name, s in figures["by_strategy"].items():
        shown = f"{s['success_rate']:.0%}" if s["success_rate"] is not None else "n/a"
        typer.echo(f"  {name}: {s['succeeded']}/{s['attempts']} succeeded ({shown})")
    severities = ", ".join(f"{k} {v}" for k, v in figures["patterns_by_severity"].items()) or "none"
    typer.echo(f"active patterns by severity: {severities}")
    decisions = ", ".join(f"{k} {v}" for k, v in figures["explanations_by_decision"].items()) or "none"
    typer.echo(f"decisions: {decisions}")
    for e in figures["open_escalations"]:
        typer.echo(f"  needs you ({e['severity']}): {e['summary']}\n    → {e['action']}")


@maintenance_app.command("cleanup")
def cleanup(
    days: int = typer.Option(90, "--days", min=1, help="Keep what was seen in the last DAYS days."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed; remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Remove single-occurrence inactive failure patterns and successful
    recovery attempts older than --days; frequent and confirmed patterns, and
    the sources of verified solutions, are kept. Reports what it removed."""
    with open_runtime() as rt:
        report = maintenance.cleanup(rt, local_actor(), days=days, dry_run=dry_run)
    if as_json:
        emit_json(report)
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo(
        f"{verb} {report['patterns_removed']} pattern(s) and {report['attempts_removed']} successful "
        f"attempt(s) older than {days} days; kept {report['old_patterns_kept']} older pattern(s)"
    )
    for p in report["patterns"]:
        typer.echo(f"  {p['last_seen'][:10]}  {p['signature']}")
