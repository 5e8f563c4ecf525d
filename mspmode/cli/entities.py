"""``msp client|project|site|task|tag``: the MSP's world from the terminal (hosts and services are in
``cli/infrastructure.py``).

Every read prints a table on a terminal and JSON with --json; a name that matches nothing is
one line naming the closest existing ones.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.errors import ValidationError
from mspmode.models import core
from mspmode.services import crud, entities
from mspmode.services.actor import local_actor
from mspmode.services.audit import jsonable
from mspmode.services.crud import ResourceSpec
from mspmode.services.resources import SPECS

S = SPECS
JSON_OPT = typer.Option(False, "--json", help="Print JSON instead of a table.")

client_app = typer.Typer(
    help="Clients: the MSP's customers (and the MSP itself, type internal).", no_args_is_help=True
)
site_app = typer.Typer(
    help="Sites: offices, data centres and cloud regions of a client.", no_args_is_help=True
)
task_app = typer.Typer(
    help="Pending tasks: what is left to do, carried into the next session.", no_args_is_help=True
)
tag_app = typer.Typer(help="Tags shared by sessions, work items and hosts.", no_args_is_help=True)
project_app = typer.Typer(
    help="Projects: a client's piece of work, and the folder the agent works on it in.", no_args_is_help=True
)
for sub, noun in (
    (client_app, "client"),
    (project_app, "project"),
    (site_app, "site"),
    (task_app, "task"),
    (tag_app, "tag"),
):
    app.add_typer(sub, name=noun)


def record(spec: ResourceSpec, row: Any) -> dict[str, Any]:
    """A row as JSON-ready values, with only the fields the API would show."""
    return {name: jsonable(getattr(row, name, None)) for name in spec.readable_fields}


def console() -> Console:
    """Rich output; when stdout is not a terminal, wide enough that ids are never cut."""
    return Console() if sys.stdout.isatty() else Console(width=240)


def show_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    table = Table(*columns, title=title)
    for r in rows:
        table.add_row(*(_cell(r.get(c)) for c in columns))
    console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return str(value)


def show_fields(data: dict[str, Any]) -> None:
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        typer.echo(f"{key:>{width}}: {_cell(value)}")


def given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


def pairs(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``key=value`` options into a dict; values that read as JSON (numbers, true) are kept typed."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"{what} must be KEY=VALUE, not {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


# ---- clients ------------------------------------------------------------------------------------


@client_app.command("add")
def client_add(
    name: str = typer.Argument(..., help="The client's name, as you say it."),
    kind: str = typer.Option(
        "msp_client", "--type", help="msp_client, internal (the MSP itself) or project."
    ),
    domain: str = typer.Option(None, "--domain", help="Their AD or mail domain."),
    subnet: str = typer.Option(None, "--subnet", help="Main network, e.g. 192.168.0.0/24."),
    contact: str = typer.Option(None, "--contact", help="Primary contact's name."),
    email: str = typer.Option(None, "--email", help="Contact e-mail."),
    phone: str = typer.Option(None, "--phone", help="Contact phone."),
    rate: str = typer.Option(
        None, "--rate", help="Default hourly rate, e.g. 95.00 (used by billing reports)."
    ),
    notes: str = typer.Option(None, "--notes", help="Anything else worth knowing."),
) -> None:
    """Add a client. Work for a client is billable by default; work for the internal client
    (the MSP itself) is not."""
    hourly = None
    if rate is not None:
        try:
            hourly = Decimal(rate)
        except InvalidOperation:
            raise ValidationError(f"--rate must be a number like 95.00, not {rate!r}") from None
    values = given(
        name=name,
        client_type=kind,
        domain_name=domain,
        network_subnet=subnet,
        primary_contact=contact,
        contact_email=email,
        contact_phone=phone,
        default_hourly_rate=hourly,
        notes=notes,
    )
    with open_runtime() as rt:
        row = crud.create_row(rt, local_actor(), S["clients"], values)
    typer.echo(f"added client {row.name} ({row.client_type}) {row.id}")


@client_app.command("list")
def client_list(
    all_: bool = typer.Option(False, "--all", help="Include inactive clients."), as_json: bool = JSON_OPT
) -> None:
    """List clients with their type and contact."""
    with open_runtime() as rt:
        filters = None if all_ else {"is_active": True}
        page = crud.list_rows(rt, local_actor(), S["clients"], filters=filters, sort=["name"], limit=500)
    rows = [record(S["clients"], c) for c in page.items]
    if as_json:
        emit_json(rows)
        return
    show_table(rows, ["name", "client_type", "domain_name", "primary_contact", "default_hourly_rate", "id"])


@client_app.command("show")
def client_show(client: str = typer.Argument(..., help="Name or id."), as_json: bool = JSON_OPT) -> None:
    """Show a client with its sites, hosts, projects and open tasks."""
    actor = local_actor()
    with open_runtime() as rt:
        row = entities.resolve(rt, actor, entities.find_client, client)
        by_client = {"client_id": row.id}
        sites = crud.list_rows(rt, actor, S["sites"], filters=by_client, sort=["name"], limit=500).items
        hosts = crud.list_rows(
            rt, actor, S["infrastructure"], filters=by_client, sort=["hostname"], limit=500
        )
        projects = crud.list_rows(rt, actor, S["projects"], filters=by_client, sort=["name"], limit=500).items
        tasks = crud.list_rows(
            rt, actor, S["pending-tasks"], filters={**by_client, "status": "pending"}, limit=500
        ).items
    data = record(S["clients"], row)
    data["sites"] = [s.name for s in sites]
    data["hosts"] = [h.hostname for h in hosts.items]
    data["projects"] = [p.name for p in projects]
    data["pending_tasks"] = [t.title for t in tasks]
    if as_json:
        emit_json(data)
        return
    show_fields({k: v for k, v in data.items() if v not in (None, [], "")})


# ---- projects -----------------------------------------------------------------------------------


@project_app.command("add")
def project_add(
    name: str = typer.Argument(None, help="The project's name; default: the folder's name."),
    client: str = typer.Option(..., "--client", help="The client (name or id)."),
    path: Path = typer.Option(
        ..., "--path", help="The folder an agent works in for this client (and every folder below it)."
    ),
) -> None:
    """Tie a folder to a client. Every Claude Code session started in it (or below it) is that
    client's: its context and known failures are recalled, no other client's, without `msp
    session start`. Running it again for the same folder changes nothing."""
    actor = local_actor()
    with open_runtime() as rt:
        row, created = entities.tie_folder(rt, actor, client, path, name)
    verb = "added project" if created else "project"
    typer.echo(f"{verb} {row.name} {row.id}: {row.local_path} is the client's folder")


@project_app.command("list")
def project_list(
    client: str = typer.Option(None, "--client", help="Only this client's."), as_json: bool = JSON_OPT
) -> None:
    """List projects with their client and folder."""
    actor = local_actor()
    with open_runtime() as rt:
        filters = None
        if client:
            filters = {"client_id": entities.resolve(rt, actor, entities.find_client, client).id}
        items = crud.list_rows(rt, actor, S["projects"], filters=filters, sort=["name"], limit=500).items
        names = entities.names_of(rt, core.Client, (p.client_id for p in items))
    rows = [{**record(S["projects"], p), "client": names.get(p.client_id)} for p in items]
    if as_json:
        emit_json(rows)
        return
    show_table(rows, ["client", "name", "status", "local_path", "id"])


# ---- sites --------------------------------------------------------------------------------------


@site_app.command("add")
def site_add(
    name: str = typer.Argument(..., help="The site's name: 'Main office', 'Hetzner FSN1'."),
    client: str = typer.Option(..., "--client", help="The client (name or id)."),
    kind: str = typer.Option(
        None, "--type", help="office, datacenter, colocation, cloud, home_office, other."
    ),
    address: str = typer.Option(None, "--address"),
    timezone: str = typer.Option(None, "--timezone", help="IANA zone, e.g. Europe/Berlin."),
    subnet: str = typer.Option(None, "--subnet"),
    vpn: bool = typer.Option(False, "--vpn-required", help="Reaching it needs the VPN."),
) -> None:
    """Add a site to a client."""
    actor = local_actor()
    with open_runtime() as rt:
        owner = entities.resolve(rt, actor, entities.find_client, client)
        values = given(
            client_id=owner.id,
            name=name,
            site_type=kind,
            address=address,
            timezone=timezone,
            network_subnet=subnet,
            vpn_required=vpn,
        )
        row = crud.create_row(rt, actor, S["sites"], values)
    typer.echo(f"added site {row.name} for {owner.name} {row.id}")


@site_app.command("list")
def site_list(
    client: str = typer.Option(None, "--client", help="Only this client's."), as_json: bool = JSON_OPT
) -> None:
    """List sites."""
    actor = local_actor()
    with open_runtime() as rt:
        filters = None
        if client:
            filters = {"client_id": entities.resolve(rt, actor, entities.find_client, client).id}
        items = crud.list_rows(rt, actor, S["sites"], filters=filters, sort=["name"], limit=500).items
        names = entities.names_of(rt, core.Client, (s.client_id for s in items))
    rows = [{**record(S["sites"], s), "client": names.get(s.client_id)} for s in items]
    if as_json:
        emit_json(rows)
        return
    show_table(rows, ["client", "name", "site_type", "timezone", "network_subnet", "id"])


@site_app.command("show")
def site_show(
    site: str = typer.Argument(..., help="Name or id."),
    client: str = typer.Option(..., "--client", help="The client (name or id)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Show one site."""
    actor = local_actor()
    with open_runtime() as rt:
        owner = entities.resolve(rt, actor, entities.find_client, client)
        row = entities.resolve(rt, actor, entities.find_site, owner, site)
    data = record(S["sites"], row)
    if as_json:
        emit_json(data)
        return
    show_fields({k: v for k, v in data.items() if v not in (None, [], "")})


# ---- pending tasks ------------------------------------------------------------------------------


@task_app.command("add")
def task_add(
    title: str = typer.Argument(..., help="What is left to do."),
    client: str = typer.Option(None, "--client", help="For this client (name or id)."),
    priority: str = typer.Option(None, "--priority", help="critical, high, medium or low."),
    due: datetime = typer.Option(None, "--due", formats=["%Y-%m-%d"], help="Due date, YYYY-MM-DD."),
    description: str = typer.Option(None, "--description"),
) -> None:
    """Add a pending task; it is shown again when the next session for the client starts."""
    actor = local_actor()
    with open_runtime() as rt:
        owner = entities.resolve(rt, actor, entities.find_client, client) if client else None
        values = given(
            title=title,
            client_id=owner.id if owner else None,
            priority=priority,
            due_date=due.replace(tzinfo=UTC) if due else None,
            description=description,
        )
        row = crud.create_row(rt, actor, S["pending-tasks"], values)
    typer.echo(f"added task {row.id}: {row.title}")


@task_app.command("list")
def task_list(
    client: str = typer.Option(None, "--client", help="Only this client's."),
    all_: bool = typer.Option(False, "--all", help="Include completed and cancelled tasks."),
    as_json: bool = JSON_OPT,
) -> None:
    """List pending tasks, the most urgent first."""
    actor = local_actor()
    with open_runtime() as rt:
        filters: dict[str, Any] = {} if all_ else {"status": "pending"}
        if client:
            filters["client_id"] = entities.resolve(rt, actor, entities.find_client, client).id
        items = crud.list_rows(
            rt, actor, S["pending-tasks"], filters=filters, sort=["due_date", "created_at"], limit=500
        ).items
        names = entities.names_of(rt, core.Client, (t.client_id for t in items))
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    items = sorted(items, key=lambda t: rank.get(t.priority or "", 4))
    rows = [{**record(S["pending-tasks"], t), "client": names.get(t.client_id)} for t in items]
    if as_json:
        emit_json(rows)
        return
    show_table(rows, ["priority", "client", "title", "due_date", "status", "id"])


@task_app.command("done")
def task_done(task_id: str = typer.Argument(..., help="The task's id (see `msp task list`).")) -> None:
    """Mark a task completed."""
    ident = entities._as_uuid(task_id)
    if ident is None:
        raise ValidationError(f"{task_id!r} is not a task id: see `msp task list`")
    with open_runtime() as rt:
        row = crud.update_row(
            rt,
            local_actor(),
            S["pending-tasks"],
            ident,
            {"status": "completed", "completed_at": datetime.now(UTC)},
        )
    typer.echo(f"completed task {row.id}: {row.title}")


# ---- tags ---------------------------------------------------------------------------------------


@tag_app.command("add")
def tag_add(
    name: str = typer.Argument(..., help="The tag: ssl, backup, server_2008."),
    category: str = typer.Option(
        None, "--category", help="technology, client, infrastructure, problem_type, action, service, other."
    ),
    description: str = typer.Option(None, "--description"),
) -> None:
    """Add a tag."""
    with open_runtime() as rt:
        row = crud.create_row(
            rt, local_actor(), S["tags"], given(name=name, category=category, description=description)
        )
    typer.echo(f"added tag {row.name} {row.id}")


@tag_app.command("list")
def tag_list(as_json: bool = JSON_OPT) -> None:
    """List tags."""
    with open_runtime() as rt:
        items = crud.list_rows(rt, local_actor(), S["tags"], sort=["name"], limit=500).items
    rows = [record(S["tags"], t) for t in items]
    if as_json:
        emit_json(rows)
        return
    show_table(rows, ["name", "category", "usage_count", "description", "id"])


@tag_app.command("host")
def tag_host(
    host: str = typer.Argument(..., help="The host (name, IP, alias or id)."),
    tag: str = typer.Argument(..., help="The tag (name or id)."),
    client: str = typer.Option(None, "--client", help="The client, when two clients have this host name."),
) -> None:
    """Put a tag on a host."""
    actor = local_actor()
    with open_runtime() as rt:
        owner = entities.resolve(rt, actor, entities.find_client, client) if client else None
        on = entities.resolve(rt, actor, entities.find_host, host, owner)
        label = entities.resolve(rt, actor, entities.find_tag, tag)
        crud.create_row(rt, actor, S["infrastructure-tags"], {"infrastructure_id": on.id, "tag_id": label.id})
    typer.echo(f"tagged {on.hostname} with {label.name}")
