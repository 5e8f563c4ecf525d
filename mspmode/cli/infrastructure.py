"""``msp host|service``: the hosts the MSP works on and what they serve, with what is known
about each (traits, environmental notes, insights, failures)."""

from __future__ import annotations

from typing import Any

import typer

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.cli.entities import JSON_OPT, S, console, given, pairs, record, show_fields, show_table
from mspmode.errors import ValidationError
from mspmode.models import core, infrastructure
from mspmode.services import crud, entities
from mspmode.services.actor import local_actor
from mspmode.services.audit import jsonable

host_app = typer.Typer(
    help="Hosts: the servers, VMs, NAS boxes and devices the MSP works on.", no_args_is_help=True
)
service_app = typer.Typer(help="Services a host runs: web, database, DNS, file shares…", no_args_is_help=True)
app.add_typer(host_app, name="host")
app.add_typer(service_app, name="service")


# ---- hosts --------------------------------------------------------------------------------------

HOST_FIELDS = {
    "ip": "ip_address",
    "fqdn": "fqdn",
    "os": "os",
    "os_version": "os_version",
    "shell": "shell_type",
    "powershell": "powershell_version",
    "init": "init_system",
    "package_manager": "package_manager",
    "asset_type": "asset_type",
    "role": "role",
    "notes": "environmental_notes",
}


def _host_values(**options: Any) -> dict[str, Any]:
    return {HOST_FIELDS[k]: v for k, v in options.items() if v is not None}


@host_app.command("add")
def host_add(
    hostname: str = typer.Argument(..., help="The host's name: DC01, web1, the NAS."),
    client: str = typer.Option(..., "--client", help="The client (name or id)."),
    site: str = typer.Option(None, "--site", help="The client's site it is at."),
    ip: str = typer.Option(None, "--ip", help="IP address."),
    fqdn: str = typer.Option(None, "--fqdn"),
    os: str = typer.Option(None, "--os", help="e.g. 'Windows Server', Ubuntu, DSM."),
    os_version: str = typer.Option(None, "--os-version", help="e.g. 2008 R2, 22.04."),
    shell: str = typer.Option(None, "--shell", help="bash, sh, ash, powershell, cmd…"),
    powershell: str = typer.Option(None, "--powershell", help="PowerShell version, e.g. 5.1."),
    init: str = typer.Option(None, "--init", help="systemd, sysvinit, openrc…"),
    package_manager: str = typer.Option(None, "--package-manager", help="apt, dnf, opkg, choco…"),
    asset_type: str = typer.Option(None, "--type", help="physical_server, virtual_machine, nas, firewall…"),
    role: str = typer.Option(None, "--role", help="What it does: 'domain controller'."),
    alias: list[str] = typer.Option(None, "--alias", help="Another name it answers to (repeatable)."),
    trait: list[str] = typer.Option(None, "--trait", help="KEY=VALUE trait, e.g. busybox=true (repeatable)."),
    notes: str = typer.Option(None, "--notes", help="Environmental notes: quirks an agent must know."),
) -> None:
    """Add a host. Its OS, shell, PowerShell version and traits are what pre-checks
    generalise by: fill in what you know."""
    actor = local_actor()
    with open_runtime() as rt:
        owner = entities.resolve(rt, actor, entities.find_client, client)
        values = _host_values(
            ip=ip,
            fqdn=fqdn,
            os=os,
            os_version=os_version,
            shell=shell,
            powershell=powershell,
            init=init,
            package_manager=package_manager,
            asset_type=asset_type,
            role=role,
            notes=notes,
        )
        values.update(client_id=owner.id, hostname=hostname)
        if site:
            values["site_id"] = entities.resolve(rt, actor, entities.find_site, owner, site).id
        if alias:
            values["aliases"] = list(alias)
        if trait:
            values["traits"] = pairs(trait, "--trait")
        row = crud.create_row(rt, actor, S["infrastructure"], values)
    typer.echo(f"added host {row.hostname} for {owner.name} {row.id}")


@host_app.command("edit")
def host_edit(
    host: str = typer.Argument(..., help="Name, IP, alias or id."),
    client: str = typer.Option(None, "--client", help="The client, when two clients have this name."),
    hostname: str = typer.Option(None, "--hostname", help="Rename it."),
    ip: str = typer.Option(None, "--ip"),
    fqdn: str = typer.Option(None, "--fqdn"),
    os: str = typer.Option(None, "--os"),
    os_version: str = typer.Option(None, "--os-version"),
    shell: str = typer.Option(None, "--shell"),
    powershell: str = typer.Option(None, "--powershell"),
    init: str = typer.Option(None, "--init"),
    package_manager: str = typer.Option(None, "--package-manager"),
    asset_type: str = typer.Option(None, "--type"),
    role: str = typer.Option(None, "--role"),
    alias: list[str] = typer.Option(None, "--alias", help="Add a name it answers to (repeatable)."),
    trait: list[str] = typer.Option(None, "--trait", help="Set a KEY=VALUE trait (repeatable)."),
    drop_trait: list[str] = typer.Option(None, "--drop-trait", help="Remove a trait (repeatable)."),
    notes: str = typer.Option(None, "--notes", help="Replace the environmental notes."),
    status: str = typer.Option(None, "--status", help="active, inactive, maintenance, decommissioned…"),
) -> None:
    """Change what is known about a host; only the options given change."""
    actor = local_actor()
    with open_runtime() as rt:
        owner = entities.resolve(rt, actor, entities.find_client, client) if client else None
        row = entities.resolve(rt, actor, entities.find_host, host, owner)
        values = _host_values(
            ip=ip,
            fqdn=fqdn,
            os=os,
            os_version=os_version,
            shell=shell,
            powershell=powershell,
            init=init,
            package_manager=package_manager,
            asset_type=asset_type,
            role=role,
            notes=notes,
        )
        values.update(given(hostname=hostname, status=status))
        if alias:
            values["aliases"] = list(dict.fromkeys([*(row.aliases or []), *alias]))
        if trait or drop_trait:
            traits = {**(row.traits or {}), **pairs(trait, "--trait")}
            for name in drop_trait or []:
                traits.pop(name, None)
            values["traits"] = traits
        if not values:
            raise ValidationError("nothing to change: give at least one option (see --help)")
        updated = crud.update_row(rt, actor, S["infrastructure"], row.id, values)
    typer.echo(f"updated host {updated.hostname} {updated.id}")


@host_app.command("list")
def host_list(
    client: str = typer.Option(None, "--client", help="Only this client's."),
    os: str = typer.Option(None, "--os", help="Only hosts with this OS."),
    as_json: bool = JSON_OPT,
) -> None:
    """List hosts with the traits pre-checks use."""
    actor = local_actor()
    with open_runtime() as rt:
        filters: dict[str, Any] = {}
        if client:
            filters["client_id"] = entities.resolve(rt, actor, entities.find_client, client).id
        if os:
            filters["os"] = os
        items = crud.list_rows(
            rt, actor, S["infrastructure"], filters=filters, sort=["hostname"], limit=500
        ).items
        names = entities.names_of(rt, core.Client, (h.client_id for h in items))
    rows = [{**record(S["infrastructure"], h), "client": names.get(h.client_id)} for h in items]
    if as_json:
        emit_json(rows)
        return
    show_table(
        rows,
        [
            "client",
            "hostname",
            "ip_address",
            "os",
            "os_version",
            "shell_type",
            "powershell_version",
            "status",
        ],
    )


@host_app.command("show")
def host_show(
    host: str = typer.Argument(..., help="Name, IP, alias or id."),
    client: str = typer.Option(None, "--client", help="The client, when two clients have this name."),
    as_json: bool = JSON_OPT,
) -> None:
    """Show a host: its traits, services, environmental notes, the active insights about it,
    the failure patterns seen on it and its latest failed commands."""
    with open_runtime() as rt:
        view = entities.host_overview(rt, local_actor(), host, client)
    h = view.host
    data = {
        **record(S["infrastructure"], h),
        "client": view.client_name,
        "site": view.site_name,
        "services": [
            {"name": s.name, "type": s.service_type, "port": s.port, "status": s.status, "url": s.url}
            for s in view.services
        ],
        "insights": [
            {
                "title": i.insight_title,
                "category": i.insight_category,
                "priority": i.priority,
                "description": i.insight_description,
            }
            for i in view.insights
        ],
        "failure_patterns": [
            {
                "id": str(p.id),
                "culprit": p.culprit,
                "class": p.failure_class,
                "confidence": p.confidence_level,
                "occurrences": p.occurrence_count,
                "fix": p.recommended_solution,
            }
            for p in view.patterns
        ],
        "recent_failures": [
            {
                "at": jsonable(c.executed_at),
                "command": c.command_text,
                "exit_code": c.exit_code,
                "category": c.failure_category,
                "resolution": c.resolution,
            }
            for c in view.recent_failures
        ],
    }
    if as_json:
        emit_json(data)
        return
    basics = [
        "hostname",
        "client",
        "site",
        "ip_address",
        "fqdn",
        "aliases",
        "asset_type",
        "role",
        "os",
        "os_version",
        "shell_type",
        "powershell_version",
        "init_system",
        "package_manager",
        "status",
        "traits",
        "limitations",
        "environmental_notes",
        "id",
    ]
    show_fields({k: data[k] for k in basics if data.get(k) not in (None, [], {}, "")})
    for key, columns in (
        ("services", ["name", "type", "port", "status", "url"]),
        ("insights", ["priority", "category", "title", "description"]),
        ("failure_patterns", ["culprit", "class", "confidence", "occurrences", "fix"]),
        ("recent_failures", ["at", "exit_code", "category", "command", "resolution"]),
    ):
        if data[key]:
            show_table(data[key], columns, title=key.replace("_", " "))
        else:
            console().print(f"{key.replace('_', ' ')}: none")


# ---- services -----------------------------------------------------------------------------------


@service_app.command("add")
def service_add(
    name: str = typer.Argument(..., help="The service's name: IIS, 'Main DB', Samba."),
    host: str = typer.Option(..., "--host", help="The host it runs on (name, IP, alias or id)."),
    client: str = typer.Option(None, "--client", help="The client, when two clients have this host name."),
    kind: str = typer.Option(None, "--type", help="web, database, dns, directory, file_share, vpn, backup…"),
    port: int = typer.Option(None, "--port", min=1, max=65535),
    protocol: str = typer.Option(None, "--protocol", help="https, smb, ldaps…"),
    url: str = typer.Option(None, "--url"),
    version: str = typer.Option(None, "--version"),
) -> None:
    """Add a service to a host."""
    actor = local_actor()
    with open_runtime() as rt:
        owner = entities.resolve(rt, actor, entities.find_client, client) if client else None
        on = entities.resolve(rt, actor, entities.find_host, host, owner)
        values = given(
            infrastructure_id=on.id,
            name=name,
            service_type=kind,
            port=port,
            protocol=protocol,
            url=url,
            version=version,
        )
        row = crud.create_row(rt, actor, S["services"], values)
    typer.echo(f"added service {row.name} on {on.hostname} {row.id}")


@service_app.command("list")
def service_list(
    host: str = typer.Option(None, "--host", help="Only this host's."),
    client: str = typer.Option(None, "--client", help="The client, when two clients have this host name."),
    as_json: bool = JSON_OPT,
) -> None:
    """List services."""
    actor = local_actor()
    with open_runtime() as rt:
        filters = None
        if host:
            owner = entities.resolve(rt, actor, entities.find_client, client) if client else None
            filters = {"infrastructure_id": entities.resolve(rt, actor, entities.find_host, host, owner).id}
        items = crud.list_rows(rt, actor, S["services"], filters=filters, sort=["name"], limit=500).items
        hosts = entities.names_of(rt, infrastructure.Infrastructure, (s.infrastructure_id for s in items))
    rows = [{**record(S["services"], s), "host": hosts.get(s.infrastructure_id)} for s in items]
    if as_json:
        emit_json(rows)
        return
    show_table(rows, ["host", "name", "service_type", "port", "protocol", "status", "id"])
