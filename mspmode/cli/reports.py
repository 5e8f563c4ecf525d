"""``msp report billing|work|failures``: time and billing for a client, what was done, and
what keeps failing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.cli.entities import JSON_OPT, console, show_table
from mspmode.errors import ValidationError
from mspmode.services import reports
from mspmode.services.actor import local_actor

report_app = typer.Typer(
    help="Billing, work and failure reports (tables, CSV or JSON).", no_args_is_help=True
)
app.add_typer(report_app, name="report")

DATE_FORMATS = ["%Y-%m-%d"]
FROM_OPT = typer.Option(None, "--from", formats=DATE_FORMATS, help="First day, YYYY-MM-DD.")
TO_OPT = typer.Option(None, "--to", formats=DATE_FORMATS, help="Last day (included), YYYY-MM-DD.")
CSV_OPT = typer.Option(None, "--csv", help="Write CSV to this file (opens cleanly in a spreadsheet).")


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    # utf-8-sig: the byte-order mark makes spreadsheets read the file as UTF-8.
    path.write_text(reports.to_csv(columns, rows), encoding="utf-8-sig", newline="")
    typer.echo(f"wrote {len(rows)} row(s) to {path}")


@report_app.command("billing")
def billing(
    client: str = typer.Option(..., "--client", help="The client (name or id)."),
    start: datetime = typer.Option(..., "--from", formats=DATE_FORMATS, help="First day, YYYY-MM-DD."),
    end: datetime = typer.Option(..., "--to", formats=DATE_FORMATS, help="Last day (included), YYYY-MM-DD."),
    csv_file: Path = CSV_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Billable hours for a client by session and work item.

    Client work is billable unless marked otherwise, internal work is not; the total is the sum
    of the sessions' billable hours (billable minutes / 60, to 0.01 h) over sessions marked
    billable. With the client's hourly rate, the amount too.
    """
    with open_runtime() as rt:
        report = reports.billing(rt, local_actor(), client, start.date(), end.date())
    if as_json:
        emit_json(report.as_dict())
        return
    rows = reports.billing_rows(report)
    if csv_file:
        _write_csv(csv_file, reports.BILLING_COLUMNS, rows)
        return
    title = f"{report.client}: {report.start} to {report.end}"
    show_table(
        [dict(zip(reports.BILLING_COLUMNS, r, strict=True)) for r in rows], reports.BILLING_COLUMNS, title
    )
    amount = f", amount {report.amount} at {report.hourly_rate}/h" if report.amount is not None else ""
    console().print(
        f"billable {report.billable_hours} h ({report.billable_minutes} min) in "
        f"{len(report.billed_sessions)} billable session(s); "
        f"not billable {report.non_billable_minutes} min{amount}"
    )
    if report.psa_posted_minutes or report.psa_unposted_minutes:
        console().print(
            f"time in the PSA: {report.psa_posted_minutes} min posted, "
            f"{report.psa_unposted_minutes} min not posted (`msp psa queue` says why)"
        )


@report_app.command("work")
def work(
    client: str = typer.Option(None, "--client", help="Only this client (name or id)."),
    start: datetime = FROM_OPT,
    end: datetime = TO_OPT,
    csv_file: Path = CSV_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """What was done: work items per client and category, with the time spent."""
    with open_runtime() as rt:
        lines = reports.work_summary(rt, local_actor(), client_ref=client, start=_day(start), end=_day(end))
    data = [line.as_dict() for line in lines]
    if as_json:
        emit_json(data)
        return
    if csv_file:
        _write_csv(csv_file, reports.WORK_COLUMNS, [[d[c] for c in reports.WORK_COLUMNS] for d in data])
        return
    if not data:
        typer.echo("no work items in that range")
        return
    show_table(data, reports.WORK_COLUMNS)


@report_app.command("failures")
def failures(
    client: str = typer.Option(None, "--client", help="Only this client (name or id)."),
    start: datetime = FROM_OPT,
    end: datetime = TO_OPT,
    top: int = typer.Option(10, "--top", min=1, max=100, help="How many patterns."),
    csv_file: Path = CSV_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """The failure patterns that failed most, and how often a failure was recovered (a later
    command on the same host did the job)."""
    if top < 1:
        raise ValidationError("--top must be at least 1")
    with open_runtime() as rt:
        report = reports.failures(
            rt, local_actor(), client_ref=client, start=_day(start), end=_day(end), top=top
        )
    if as_json:
        emit_json(report.as_dict())
        return
    data = [p.as_dict() for p in report.patterns]
    if csv_file:
        _write_csv(csv_file, reports.FAILURE_COLUMNS, [[d[c] for c in reports.FAILURE_COLUMNS] for d in data])
        return
    if data:
        show_table(data, reports.FAILURE_COLUMNS, "top failure patterns")
    rate = f"{report.recovery_rate:.0%}" if report.recovery_rate is not None else "n/a"
    console().print(
        f"{report.failed} failed command(s), {report.recovered} recovered ({rate}), "
        f"{report.transient} transient; "
        f"recovery attempts {report.attempts_succeeded}/{report.attempts} succeeded"
    )
