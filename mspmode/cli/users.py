"""``msp user`` and ``msp apikey``: who may use the API, and the keys hooks and agents use."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.errors import ValidationError
from mspmode.services import auth
from mspmode.services.actor import local_actor

user_app = typer.Typer(help="Manage the people who sign in to the API.", no_args_is_help=True)
key_app = typer.Typer(
    help="Issue and revoke API keys for hooks, agents and MCP clients.", no_args_is_help=True
)
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="apikey")

ROLE_HELP = "admin (everything), technician (read/write work and learning data) or readonly."
SCOPE_HELP = (
    "Limit the key to this (repeatable): read, check (pre-check commands), record (commands, "
    "contexts, work), write (change rows), reveal (secrets), admin. Default: what its role allows."
)


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Sign-in name."),
    role: str = typer.Option("technician", help=ROLE_HELP),
    email: str = typer.Option(None, help="E-mail address."),
    full_name: str = typer.Option(None, "--name", help="Full name."),
    client: list[str] = typer.Option(
        None, "--client", help="Limit to this client (repeatable); default: all."
    ),
) -> None:
    """Create a user and print a one-time password (they must change it at first sign-in)."""
    with open_runtime() as rt:
        user, password = auth.create_user(
            rt,
            local_actor(),
            username=username,
            role=role,
            email=email,
            full_name=full_name,
            clients=client or None,
        )
    typer.echo(f"created user {user.username!r} ({user.role}) with one-time password: {password}")


@user_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users: name, role, client limits, whether active, last sign-in."""
    with open_runtime() as rt:
        users = auth.list_users(rt, local_actor())
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "clients": u.client_scope,
            "active": u.is_active,
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        }
        for u in users
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("user", "role", "clients", "active", "last sign-in")
    for r in rows:
        clients = "all" if r["clients"] is None else str(len(r["clients"]))
        table.add_row(
            r["username"], r["role"], clients, "yes" if r["active"] else "no", r["last_login_at"] or "never"
        )
    Console().print(table)


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user: every sign-in of theirs ends and their API keys are revoked, at once.
    Enabling them again restores sign-in only: issue new keys."""
    with open_runtime() as rt:
        auth.set_user_active(rt, local_actor(), username, False)
    typer.echo(f"disabled {username}")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled user again (their old tokens and keys stay dead)."""
    with open_runtime() as rt:
        auth.set_user_active(rt, local_actor(), username, True)
    typer.echo(f"enabled {username}")


@user_app.command("role")
def user_role(username: str, role: str = typer.Argument(..., help=ROLE_HELP)) -> None:
    """Change a user's role: every sign-in of theirs ends, and their API keys above the new
    role are lowered to it."""
    with open_runtime() as rt:
        user = auth.set_user_role(rt, local_actor(), username, role)
    typer.echo(f"{user.username} is now {user.role}")


@user_app.command("password")
def user_password(
    username: str,
    stdin: bool = typer.Option(False, "--stdin", help="Read the password from a line of standard input."),
    must_change: bool = typer.Option(
        False, "--must-change", help="Make it a one-time password: it must be changed at first sign-in."
    ),
) -> None:
    """Set a user's password (asked for twice without echo, never taken as an argument). It
    must have 12 or more characters and not be a common password, contain the user name or be
    one character repeated. Every sign-in of theirs ends."""
    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            raise ValidationError("the two passwords differ; nothing changed")
    with open_runtime() as rt:
        auth.set_password(rt, local_actor(), username, password, must_change=must_change)
    typer.echo(
        f"password of {username} set" + (" (one-time: to be changed at first sign-in)" if must_change else "")
    )


@key_app.command("create")
def key_create(
    name: str = typer.Option(..., "--name", help="What the key is for, e.g. the laptop's name."),
    role: str = typer.Option("technician", help=ROLE_HELP),
    user: str = typer.Option("admin", "--user", help="The user the key acts for."),
    client: list[str] = typer.Option(
        None, "--client", help="Limit to this client (repeatable); default: all."
    ),
    days: int = typer.Option(None, "--expires-in-days", min=1, help="Expire after this many days."),
    scope: list[str] = typer.Option(None, "--scope", help=SCOPE_HELP),
) -> None:
    """Create an API key and print it once. Only an HMAC of it is stored: it cannot be shown
    again, only revoked and replaced. A hook's key needs read, check and record."""
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with open_runtime() as rt:
        key, plaintext = auth.create_api_key(
            rt,
            local_actor(),
            name=name,
            role=role,
            username=user,
            clients=client or None,
            scopes=scope or None,
            expires_at=expires,
        )
    typer.echo(plaintext)
    scopes = f", scopes {', '.join(key.scopes)}" if key.scopes is not None else ""
    typer.echo(f"(API key {key.prefix} for {user}, role {key.role}{scopes}: shown only now)", err=True)


@key_app.command("list")
def key_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List API keys (never the keys themselves)."""
    with open_runtime() as rt:
        keys = auth.list_api_keys(rt, local_actor())
    rows = [
        {
            "prefix": k.prefix,
            "name": k.name,
            "user": owner,
            "role": k.role,
            "scopes": k.scopes,
            "clients": k.client_scope,
            "expires_at": k.expires_at.isoformat() if k.expires_at else None,
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked": k.revoked_at is not None,
        }
        for k, owner in keys
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("prefix", "name", "user", "role", "scopes", "clients", "expires", "last used", "revoked")
    for r in rows:
        clients = "all" if r["clients"] is None else str(len(r["clients"]))
        expires, used = r["expires_at"] or "never", r["last_used_at"] or "never"
        table.add_row(
            r["prefix"],
            r["name"],
            r["user"],
            r["role"],
            "all" if r["scopes"] is None else ",".join(r["scopes"]),
            clients,
            expires,
            used,
            "yes" if r["revoked"] else "no",
        )
    Console().print(table)


@key_app.command("revoke")
def key_revoke(prefix: str = typer.Argument(..., help="The key's prefix (msp_…) or id.")) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    with open_runtime() as rt:
        key = auth.revoke_api_key(rt, local_actor(), prefix)
    typer.echo(f"revoked {key.prefix}")
