"""``msp psa add|list|test|sync|queue`` and ``msp ticket link``: the MSP's PSA, the tickets a
session's work belongs to, and the notes and time owed to them."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import typer

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.cli.entities import JSON_OPT, record, show_table
from mspmode.errors import ValidationError
from mspmode.integrations.psa import ADAPTERS, KINDS
from mspmode.models.integrations import PsaPost, TicketLink
from mspmode.services import psa
from mspmode.services.actor import local_actor
from mspmode.services.resources import SPECS

psa_app = typer.Typer(
    help="Your PSA (SyncroMSP, Autotask, ConnectWise, HaloPSA, ITFlow): connect it, test it, "
    "post what is owed.",
    no_args_is_help=True,
)
ticket_app = typer.Typer(help="PSA tickets a session's work belongs to.", no_args_is_help=True)
app.add_typer(psa_app, name="psa")
app.add_typer(ticket_app, name="ticket")


def _read_secrets(kind: str, source: Path) -> dict[str, str]:
    if str(source) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read {source}: {exc.strerror or type(exc).__name__}") from None
    return psa.parse_secrets(kind, text)


@psa_app.command("add")
def add(
    kind: str = typer.Argument(..., help=f"The PSA: {', '.join(KINDS)}."),
    url: str = typer.Option(..., "--url", help="The API's base URL (see README: one per PSA)."),
    api_key_file: Path = typer.Option(
        ...,
        "--api-key-file",
        help="File holding the secret(s), or - for stdin: the key alone, or name=value lines "
        "(autotask: password= and api_key=). Never given as an argument.",
    ),
    name: str = typer.Option(None, "--name", help="What to call it (default: the PSA's name)."),
    username: str = typer.Option(None, "--username", help="Autotask: the API user's user name."),
    company: str = typer.Option(None, "--company", help="ConnectWise: the company id you sign in with."),
    public_key: str = typer.Option(None, "--public-key", help="ConnectWise: the API member's public key."),
    client_id: str = typer.Option(
        None, "--client-id", help="ConnectWise: the integration's clientId; HaloPSA: the API app's client id."
    ),
    tenant: str = typer.Option(None, "--tenant", help="HaloPSA hosted: the tenant name."),
    member: str = typer.Option(
        None,
        "--member",
        help="Who time is posted as: Autotask resource id, ConnectWise member identifier, Syncro user id.",
    ),
    setting: list[str] = typer.Option(
        None, "--setting", help="Other NAME=VALUE settings (autotask note_type, publish; itflow client_id)."
    ),
) -> None:
    """Connect a PSA. Secrets are read from a file or stdin and sealed by the vault at once."""
    if kind not in ADAPTERS:
        raise ValidationError(f"unknown PSA {kind!r}; one of: {', '.join(KINDS)}")
    secrets = _read_secrets(kind, api_key_file)
    if kind == "connectwise" and (company or public_key):
        if not (company and public_key):
            raise ValidationError("ConnectWise needs both --company and --public-key")
        username = f"{company}+{public_key}"
    settings: dict[str, Any] = {"tenant": tenant, "member": member}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--setting must be NAME=VALUE, not {item!r}")
        settings[key.strip()] = value.strip()
    with open_runtime() as rt:
        row = psa.add_integration(
            rt,
            local_actor(),
            kind,
            name=name or kind,
            url=url,
            secrets=secrets,
            username=username,
            client_id=client_id,
            settings=settings,
        )
    typer.echo(
        f"added {ADAPTERS[kind].title} integration {row.integration_name!r} ({row.id}); "
        f"sealed: {', '.join(row.secret_fields_set)}. Check it with `msp psa test {row.integration_name}`"
    )


@psa_app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """The PSA integrations: where they point and how their last test went — never a secret."""
    with open_runtime() as rt:
        rows = psa.list_integrations(rt, local_actor())
    data = [
        {
            "name": r.integration_name,
            "kind": r.integration_type,
            "url": r.api_base_url,
            "username": r.username,
            "client_id": r.oauth_client_id,
            "settings": r.settings,
            "secrets": r.secret_fields_set,
            "active": r.is_active,
            "last_test": r.last_test_status,
            "last_tested_at": r.last_tested_at.isoformat() if r.last_tested_at else None,
            "last_test_error": r.last_test_error,
            "id": str(r.id),
        }
        for r in rows
    ]
    if as_json:
        emit_json(data)
        return
    if not data:
        typer.echo("no PSA integration: add one with `msp psa add KIND --url URL --api-key-file FILE`")
        return
    show_table(data, ["name", "kind", "url", "secrets", "last_test", "last_tested_at", "last_test_error"])


@psa_app.command("test")
def test(
    name: str = typer.Argument(None, help="The integration (default: all)."), as_json: bool = JSON_OPT
) -> None:
    """Sign in to the PSA with the stored credentials; exit 1 if any is refused or unreachable."""
    with open_runtime() as rt:
        results = psa.test_integration(rt, local_actor(), name)
    if as_json:
        emit_json([r.__dict__ for r in results])
    else:
        for r in results:
            typer.echo(f"{r.name} ({r.kind}): {'ok, ' if r.ok else 'FAILED: '}{r.detail}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _report(delivery: psa.Delivery, as_json: bool) -> None:
    if as_json:
        emit_json(delivery.as_dict())
        return
    for p in delivery.posted:
        typer.echo(f"posted {p.kind} to {p.integration_type} ticket {p.ticket_number} (id {p.external_id})")
    for p in delivery.already:
        typer.echo(f"{p.kind} for ticket {p.ticket_number} was already on the ticket (id {p.external_id})")
    for p in delivery.queued:
        typer.echo(f"queued {p.kind} for ticket {p.ticket_number}: {p.last_error}; retried by `msp psa sync`")
    for p in delivery.failed:
        typer.echo(f"FAILED {p.kind} for ticket {p.ticket_number}: {p.last_error}")
    if delivery.skipped:
        typer.echo(f"{delivery.skipped} post(s) left for the next `msp psa sync`")


@psa_app.command("sync")
def sync(
    all_: bool = typer.Option(False, "--all", help="Also retry posts waiting out a backoff (not a 429)."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Put failed posts back in the queue first (after fixing the cause)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Post what is queued: session notes and time the PSA did not take the first time.
    Exit 1 while something is still owed."""
    with open_runtime() as rt:
        actor = local_actor()
        if retry_failed:
            psa.retry_failed(rt, actor)
        delivery = psa.deliver(rt, actor, ignore_backoff=all_)
    _report(delivery, as_json)
    if not as_json and not (delivery.posted or delivery.already or delivery.queued or delivery.failed):
        typer.echo("nothing due to post")
    if delivery.queued or delivery.failed:
        raise typer.Exit(1)


@psa_app.command("queue")
def queue(
    status: str = typer.Option(None, "--status", help="queued or failed (default: both)."),
    as_json: bool = JSON_OPT,
) -> None:
    """What has not reached the PSA yet, and why."""
    if status not in (None, "queued", "failed"):
        raise ValidationError("--status is queued or failed")
    with open_runtime() as rt:
        rows = psa.pending(rt, local_actor(), status=status)
    data = [psa.post_dict(p) for p in rows]
    if as_json:
        emit_json(data)
        return
    if not data:
        typer.echo("nothing waiting: every note and time entry reached the PSA")
        return
    columns = ["kind", "integration_type", "ticket", "minutes", "status", "attempts", "next_attempt_at"]
    show_table(data, [*columns, "last_error"])


@ticket_app.command("link")
def link(
    number: str = typer.Argument(..., help="The ticket's number as the PSA shows it."),
    psa_name: str = typer.Option(None, "--psa", help="The integration (needed when there are several)."),
    session: str = typer.Option(None, "--session", help="A session id (default: the running one)."),
    link_type: str = typer.Option("related", "--type", help="related, resolves or documents."),
    as_json: bool = JSON_OPT,
) -> None:
    """Link the session to a PSA ticket: its note and time go there when the session stops."""
    session_id = _uuid(session) if session else None
    with open_runtime() as rt:
        row = psa.link_ticket(
            rt, local_actor(), number, session_id=session_id, integration=psa_name, link_type=link_type
        )
    if as_json:
        emit_json(record(SPECS["ticket-links"], row))
        return
    typer.echo(describe_link(row))


def describe_link(row: TicketLink) -> str:
    if row.ticket_subject is None:
        where = f"{row.integration_type}; not verified yet: the PSA did not answer"
        return f"linked ticket {row.ticket_number} ({where})"
    what = f"{row.ticket_subject} [{row.ticket_status}]"
    return f"linked {row.integration_type} ticket {row.ticket_number}: {what}"


def describe_posts(queued: list[PsaPost], delivery: psa.Delivery) -> list[str]:
    """What `msp session stop` says about its PSA posts, one line each."""
    lines = [f"posted {p.kind} to ticket {p.ticket_number}" for p in delivery.posted]
    lines += [f"{p.kind} already on ticket {p.ticket_number}" for p in delivery.already]
    lines += [f"queued {p.kind} for ticket {p.ticket_number}: {p.last_error}" for p in delivery.queued]
    lines += [f"FAILED {p.kind} for ticket {p.ticket_number}: {p.last_error}" for p in delivery.failed]
    handled = {p.id for p in delivery.posted + delivery.already + delivery.queued + delivery.failed}
    lines += [f"queued {p.kind} for ticket {p.ticket_number}" for p in queued if p.id not in handled]
    if delivery.queued or len(handled) < len(queued):
        lines.append("queued posts are retried by `msp psa sync`")
    return lines


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError(
            f"--session needs a session id (see `msp session list`), not {value!r}"
        ) from None
