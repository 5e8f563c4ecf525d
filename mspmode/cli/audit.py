"""``msp audit verify`` and ``msp audit head``: check that no one edited, deleted, inserted,
reordered or rolled back audit rows, and print the head to keep outside the database."""

from __future__ import annotations

import typer

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.services import audit
from mspmode.services.actor import local_actor

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    expect: str = typer.Option(
        None,
        "--expect",
        metavar="SEQ:MAC",
        help="A head kept earlier (`msp audit head`): fail unless the chain still holds that row.",
    ),
    reset_anchor: bool = typer.Option(
        False,
        "--reset-anchor",
        help="Forget the newest head this machine saw of this database, then check (after "
        "replacing the database on purpose).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Walk the HMAC chain of the audit log with the installation's audit key.

    Checks every row, the signed head, and this machine's anchor: the newest head it saw of
    this database (MSP_HOME/audit-anchor.json), so deleting the newest rows or putting an
    older copy of the database back is caught even when the head is a genuine older one.
    Rows other machines added since are fine. Exits 0 when everything holds, printing the
    head as SEQ:MAC; exits 1 naming the first row or head that does not.
    """
    checkpoint = audit.Checkpoint.parse(expect) if expect is not None else None
    with open_runtime() as rt:
        report = audit.verify_chain(rt, local_actor(), expect=checkpoint, reset_anchor=reset_anchor)
    if as_json:
        emit_json({**report.__dict__, "row_id": str(report.row_id) if report.row_id else None})
    elif report.ok:
        typer.echo(
            f"audit chain intact: {report.rows} row(s)" + (f"; head {report.head}" if report.head else "")
        )
    else:
        typer.echo(f"audit chain broken: {report.problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("head")
def head(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the audit chain's head as SEQ:MAC (nothing for an empty chain).

    Keep it somewhere the database's administrators cannot write (a ticket, a password
    manager, another machine); `msp audit verify --expect SEQ:MAC` later shows whether rows
    up to it were deleted or the database rolled back. Does not walk the chain.
    """
    with open_runtime() as rt:
        current = audit.current_head(rt, local_actor())
    if as_json:
        emit_json(
            {
                "sequence": current.sequence if current else 0,
                "mac": current.mac if current else None,
                "head": current.token if current else None,
            }
        )
    elif current:
        typer.echo(current.token)
