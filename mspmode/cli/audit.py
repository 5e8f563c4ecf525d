"""``msp audit verify``: check that no one edited, deleted, inserted or reordered audit rows."""

from __future__ import annotations

import typer

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.services import audit
from mspmode.services.actor import local_actor

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Walk the HMAC chain of the audit log with the installation's audit key.

    Exits 0 when every row holds; exits 1 naming the first row that was edited, deleted,
    inserted or reordered.
    """
    with open_runtime() as rt:
        report = audit.verify_chain(rt, local_actor())
    if as_json:
        emit_json({**report.__dict__, "row_id": str(report.row_id) if report.row_id else None})
    elif report.ok:
        typer.echo(f"audit chain intact: {report.rows} row(s)")
    else:
        typer.echo(f"audit chain broken: {report.problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)
