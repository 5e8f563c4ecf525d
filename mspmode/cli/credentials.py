"""``msp cred`` and ``msp vault``: client credentials with sealed secrets, and key rotation."""

from __future__ import annotations

import getpass
import sys
import uuid
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.errors import NotFoundError, ValidationError
from mspmode.services import credentials, crud
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime

cred_app = typer.Typer(help="Client credentials: secrets are sealed by the vault and shown only on request.",
                       no_args_is_help=True)  # fmt: skip
vault_app = typer.Typer(help="The vault's keys.", no_args_is_help=True)
app.add_typer(cred_app, name="cred")
app.add_typer(vault_app, name="vault")

SECRETS = credentials.SECRET_FIELDS["credentials"]
# A line of stdin holding one secret: what the vault takes, in UTF-8's widest characters.
MAX_SECRET_BYTES = 4 * credentials.MAX_SECRET_LENGTH


def _client_id(rt: Runtime, name: str | None) -> str | None:
    if name is None:
        return None
    from mspmode.services.auth import resolve_client_scope

    with rt.db.read() as session:
        ids = resolve_client_scope(session, [name])
    assert ids is not None
    return ids[0]


def _read_secret(field: str, from_stdin: bool) -> str:
    if from_stdin:
        # A bounded read: a line without end must not be read whole into memory first.
        line = sys.stdin.buffer.readline(MAX_SECRET_BYTES + 1)
        if len(line) > MAX_SECRET_BYTES and not line.endswith(b"\n"):
            raise ValidationError(
                f"{field} on standard input is longer than {credentials.MAX_SECRET_LENGTH} characters"
            )
        value = line.decode("utf-8", "replace").rstrip("\n")
    else:
        value = getpass.getpass(f"{field}: ")
    if not value:
        raise ValidationError(f"no {field} given")
    return value


@cred_app.command("add")
def add(
    service: str = typer.Option(..., "--service", help="What it opens: 'AD1 domain admin', 'Syncro API'."),
    client: str = typer.Option(None, "--client", help="The client it belongs to (name or id)."),
    kind: str = typer.Option(
        "password", "--type", help="password, api_key, ssh_key, totp, connection_string…"
    ),
    username: str = typer.Option(None, "--username", help="The account name."),
    url: str = typer.Option(None, "--url", help="Where it is used (internal URL)."),
    secret: list[str] = typer.Option(
        None,
        "--secret",
        help=f"Secret field to set, asked for without echo (repeatable): {', '.join(SECRETS)}.",
    ),
    stdin: bool = typer.Option(
        False, "--stdin", help="Read each secret from a line of standard input (scripts)."
    ),
) -> None:
    """Store a credential. Secrets are never taken as arguments (they would land in shell
    history): they are asked for, or read from stdin with --stdin."""
    fields = secret or ["password"]
    for field in fields:
        if field not in SECRETS:
            raise ValidationError(f"unknown secret field {field!r}; fields: {', '.join(SECRETS)}")
    with open_runtime() as rt:
        values: dict[str, Any] = {"service_name": service, "credential_type": kind, "username": username}
        if url:
            values["internal_url"] = url
        values["client_id"] = _client_id(rt, client)
        for field in fields:
            values[field] = _read_secret(field, stdin)
        row = credentials.create(
            rt, local_actor(), credentials.CREDENTIALS, {k: v for k, v in values.items() if v is not None}
        )
    typer.echo(f"stored credential {row.id} ({service}); sealed: {', '.join(row.secret_fields_set)}")


@cred_app.command("list")
def list_(
    client: str = typer.Option(None, "--client", help="Only this client's."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List credentials: what they open and which secrets are stored — never the secrets."""
    with open_runtime() as rt:
        filters = {"client_id": uuid.UUID(cid)} if (cid := _client_id(rt, client)) else None
        page = crud.list_rows(
            rt, local_actor(), credentials.CREDENTIALS, filters=filters, sort=["service_name"], limit=500
        )
    rows = [
        {
            "id": str(c.id),
            "service": c.service_name,
            "type": c.credential_type,
            "username": c.username,
            "secrets": c.secret_fields_set,
        }
        for c in page.items
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "service", "type", "username", "secrets stored")
    for r in rows:
        table.add_row(r["id"], r["service"], r["type"], r["username"] or "", ", ".join(r["secrets"]))
    Console().print(table)


@cred_app.command("show")
def show(
    credential_id: str = typer.Argument(..., help="The credential's id."),
    reveal: str = typer.Option(None, "--reveal", help=f"Decrypt and print one field: {', '.join(SECRETS)}."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a credential's details; with --reveal FIELD, print that secret (recorded in the
    credential's audit log with who and when)."""
    cid = _uuid(credential_id)
    with open_runtime() as rt:
        if reveal:
            typer.echo(credentials.reveal(rt, local_actor(), credentials.CREDENTIALS, cid, reveal).value)
            return
        row = crud.get_row(rt, local_actor(), credentials.CREDENTIALS, cid)
    data = {
        "id": str(row.id),
        "service": row.service_name,
        "type": row.credential_type,
        "username": row.username,
        "url": row.internal_url or row.external_url,
        "secrets_stored": row.secret_fields_set,
        "client_id": str(row.client_id) if row.client_id else None,
    }
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        typer.echo(f"{key:>15}: {value if value is not None else ''}")


@cred_app.command("totp")
def totp(credential_id: str = typer.Argument(..., help="The credential's id.")) -> None:
    """Print the current TOTP code of a credential's seed (the seed stays sealed)."""
    with open_runtime() as rt:
        code = credentials.totp_code(rt, local_actor(), credentials.CREDENTIALS, _uuid(credential_id))
    typer.echo(f"{code.code} (valid {code.seconds_left} s more)")


@vault_app.command("rotate")
def rotate(
    retire_old: bool = typer.Option(False, "--retire-old", help="Remove old keys once no secret uses them."),
    batch: int = typer.Option(200, "--batch", min=1, help="Secrets re-encrypted per transaction."),
) -> None:
    """Add a new vault key and re-encrypt every stored secret with it.

    Safe to interrupt: run it again and it resumes where it stopped, never encrypting a secret
    twice. Old keys stay in the keyring until --retire-old, which refuses while any secret
    still uses them. Back up the key file first.
    """
    with open_runtime() as rt:
        if sys.stdout.isatty():
            with Progress() as progress:
                task = progress.add_task("re-encrypting", total=None)

                def show(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                report = credentials.rotate(
                    rt, local_actor(), retire_old=retire_old, batch_size=batch, progress=show
                )
        else:
            # Plain lines for CI and cron: one per tenth of the work, not one per batch.
            shown: list[int] = []

            def plain(done: int, total: int) -> None:
                tenth = done * 10 // total if total else 10
                if total and (not shown or tenth > shown[-1]):
                    shown.append(tenth)
                    typer.echo(f"re-encrypting: {done}/{total}")

            report = credentials.rotate(
                rt, local_actor(), retire_old=retire_old, batch_size=batch, progress=plain
            )
    if report.resumed:
        typer.echo(f"resumed an interrupted rotation to key {report.active_key}")
    elif report.new_key:
        typer.echo(f"added vault key {report.new_key}")
    current = f"{report.already_current} already under {report.active_key}"
    typer.echo(f"re-encrypted {report.reencrypted} secret(s); {current}")
    if report.retired:
        typer.echo(f"retired key(s): {', '.join(report.retired)}")


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError(f"no credential {value!r}: give its id (see `msp cred list`)") from None
