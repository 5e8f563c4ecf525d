"""``msp session start|stop|status|list`` and ``msp work add``: the work loop.

The running session is remembered per machine in ``MSP_HOME/current-session.json``; the agent
hooks log into the same session.
"""

from __future__ import annotations

import uuid

import typer

from mspmode.cli.app import app, emit_json, load_settings, open_runtime
from mspmode.cli.entities import JSON_OPT, record, show_fields, show_table
from mspmode.cli.psa import describe_link, describe_posts
from mspmode.errors import MSPError, ValidationError
from mspmode.models import core
from mspmode.services import crud, entities, psa
from mspmode.services import current_session as current
from mspmode.services.actor import local_actor
from mspmode.services.resources import SPECS

S = SPECS
session_app = typer.Typer(help="Sessions of work for a client: start, stop, list.", no_args_is_help=True)
work_app = typer.Typer(help="Work items: what was done in a session, timed and billed.", no_args_is_help=True)
app.add_typer(session_app, name="session")
app.add_typer(work_app, name="work")


@session_app.command("start")
def session_start(
    client: str = typer.Option(..., "--client", help="Who the work is for (name or id)."),
    project: str = typer.Option(None, "--project", help="The client's project (name or id)."),
    title: str = typer.Option(None, "--title", help="A title; default: the client and the time."),
    billable: bool = typer.Option(True, "--billable/--no-billable", help="Whether the session is billed."),
    ticket: str = typer.Option(None, "--ticket", help="The PSA ticket the work is for (see `msp psa`)."),
    psa_name: str = typer.Option(None, "--psa", help="The PSA integration, when there are several."),
    as_json: bool = JSON_OPT,
) -> None:
    """Start a session of work for a client on this machine.

    Work added with `msp work add`, and what the agent hooks record, goes into it until
    `msp session stop`. One session runs per machine at a time. With --ticket, the session is
    linked to that PSA ticket (checked first: a ticket that does not exist is refused).
    """
    with open_runtime() as rt:
        actor = local_actor()
        row, _ = entities.start_session(
            rt, actor, client_ref=client, project_ref=project, title=title, billable=billable
        )
        link = None
        if ticket:
            try:
                link = psa.link_ticket(rt, actor, ticket, session_id=row.id, integration=psa_name)
            except MSPError:
                # A ticket that cannot be linked leaves no session behind: start again with the
                # right number (the error says why).
                entities.forget_session(rt)
                crud.delete_row(rt, actor, S["sessions"], row.id)
                raise
    if as_json:
        emit_json(
            {
                **record(S["sessions"], row),
                "current_session_file": str(current.current_session_path(rt.settings)),
                "tickets": [record(S["ticket-links"], link)] if link else [],
            }
        )
        return
    typer.echo(f"started session {row.id}: {row.session_title}")
    if link is not None:
        typer.echo(describe_link(link))


@session_app.command("stop")
def session_stop(
    summary: str = typer.Option(None, "--summary", help="What the session achieved, in a line or two."),
    force: bool = typer.Option(False, "--force", help="Forget the current session without updating it."),
    post: bool = typer.Option(
        True, "--post/--no-post", help="Post the note and billable time to the linked PSA tickets."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Stop the current session: its end, duration and billable hours are recorded.

    When the session is linked to PSA tickets, its summary (work items and commands, redacted)
    goes to each as an internal note and its billable time to one as a time entry — tried now
    with short timeouts; what the PSA does not take is queued for `msp psa sync`.
    """
    if force:
        forgotten = current.clear(load_settings())
        typer.echo("forgot the current session" if forgotten else "no current session to forget")
        return
    with open_runtime() as rt:
        actor = local_actor()
        row = entities.stop_session(rt, actor, summary=summary)
        queued, delivery = psa.stop_and_post(rt, actor, row.id) if post else ([], psa.Delivery())
    if as_json:
        emit_json({**record(S["sessions"], row), "psa": delivery.as_dict() if queued else None})
        return
    typer.echo(
        f"stopped session {row.id} after {row.duration_minutes} min; billable hours {row.billable_hours}"
    )
    for line in describe_posts(queued, delivery):
        typer.echo(line)


@session_app.command("status")
def session_status(as_json: bool = JSON_OPT) -> None:
    """Show the session running on this machine, if any."""
    with open_runtime() as rt:
        found = entities.running_session(rt)
        row = crud.get_row(rt, local_actor(), S["sessions"], found.session_uuid) if found else None
        client = entities.names_of(rt, core.Client, [row.client_id] if row else [])
        links = psa.session_tickets(rt, local_actor(), row.id) if row else []
    tickets = [record(S["ticket-links"], lk) for lk in links]
    if as_json:
        emit_json(
            None
            if row is None
            else {**record(S["sessions"], row), "client": client.get(row.client_id), "tickets": tickets}
        )
        return
    if row is None:
        typer.echo("no session running")
        return
    show_fields(
        {
            "session": str(row.id),
            "title": row.session_title,
            "client": client.get(row.client_id),
            "started_at": row.started_at,
            "billable_hours": row.billable_hours,
            **{
                f"ticket {lk.ticket_number}": f"{lk.ticket_subject or '?'} [{lk.ticket_status or 'unknown'}] "
                f"({lk.integration_type})"
                for lk in links
            },
        }
    )


@session_app.command("list")
def session_list(
    client: str = typer.Option(None, "--client", help="Only this client's."),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="How many, newest first."),
    as_json: bool = JSON_OPT,
) -> None:
    """List sessions, newest first, with their billable hours."""
    actor = local_actor()
    with open_runtime() as rt:
        filters = None
        if client:
            filters = {"client_id": entities.resolve(rt, actor, entities.find_client, client).id}
        items = crud.list_rows(
            rt, actor, S["sessions"], filters=filters, sort=["-started_at"], limit=limit
        ).items
        names = entities.names_of(rt, core.Client, (s.client_id for s in items))
    rows = [{**record(S["sessions"], s), "client": names.get(s.client_id)} for s in items]
    if as_json:
        emit_json(rows)
        return
    show_table(
        rows, ["started_at", "client", "session_title", "status", "duration_minutes", "billable_hours", "id"]
    )


@work_app.command("add")
def work_add(
    text: str = typer.Argument(..., help='What was done: "Renewed the SSL certificate on WEB1".'),
    category: str = typer.Option(
        None,
        "--category",
        help="infrastructure, troubleshooting, configuration, development, maintenance, security or "
        "documentation; default: inferred from the text.",
    ),
    minutes: int = typer.Option(
        None, "--minutes", min=0, help="Time spent; default: since the previous item (or the session start)."
    ),
    billable: bool = typer.Option(
        None, "--billable/--no-billable", help="Default: billable for client work, not for internal work."
    ),
    session: str = typer.Option(None, "--session", help="Log into this session instead of the current one."),
    as_json: bool = JSON_OPT,
) -> None:
    """Log a piece of work done in the current session."""
    session_id: uuid.UUID | None = None
    if session:
        try:
            session_id = uuid.UUID(session)
        except ValueError:
            raise ValidationError(
                f"--session needs a session id (see `msp session list`), not {session!r}"
            ) from None
    with open_runtime() as rt:
        row = entities.add_work(
            rt,
            local_actor(),
            text,
            category=category,
            minutes=minutes,
            billable=billable,
            session_id=session_id,
        )
    if as_json:
        emit_json(record(S["work-items"], row))
        return
    how = "billable" if row.is_billable else "not billable"
    inferred = " (inferred)" if row.category_inferred else ""
    typer.echo(f"logged {row.actual_minutes} min of {row.category}{inferred}, {how}: {row.title}")
