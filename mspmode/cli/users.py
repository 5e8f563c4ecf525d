"""``msp user`` and ``msp apikey``: who may use the API, and the keys hooks and agents use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

from mspmode.cli.app import app, emit_json, open_runtime
from mspmode.services import auth
from mspmode.services.actor import local_actor

user_app = typer.Typer(help="Manage the people who sign in to the API.", no_args_is_help=True)
key_app = typer.Typer(
    help="Issue and revoke API keys for hooks, agents and MCP clients.", no_args_is_help=True
)
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="apikey")

ROLE_HELP = "admin (everything), technician (read/write work and learning data) or readonly."


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
    """Disable a user: their tokens and API keys stop working at once."""
    with open_runtime() as rt:
        auth.set_user_active(rt, local_actor(), username, False)
    typer.echo(f"disabled {username}")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled user again."""
    with open_runtime() as rt:
        auth.set_user_active(rt, local_actor(), username, True)
    typer.echo(f"enabled {username}")


@key_app.command("create")
def key_create(
    name: str = typer.Option(..., "--name", help="What the key is for, e.g. the laptop's name."),
    role: str = typer.Option("technician", help=ROLE_HELP),
    user: str = typer.Option("admin", "--user", help="The user the key acts for."),
    client: list[str] = typer.Option(
        None, "--client", help="Limit to this client (repeatable); default: all."
    ),
    days: int = typer.Option(None, "--expires-in-days", min=1, help="Expire after this many days."),
) -> None:
    """Create an API key and print it once. Only an HMAC of it is stored: it cannot be shown
    again, only revoked and replaced."""
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with open_runtime() as rt:
        key, plaintext = auth.create_api_key(
            rt, local_actor(), name=name, role=role, username=user, clients=client or None, expires_at=expires
        )
    typer.echo(plaintext)
    typer.echo(f"(API key {key.prefix} for {user}, role {key.role}: shown only now)", err=True)


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
    table = Table("prefix", "name", "user", "role", "clients", "expires", "last used", "revoked")
    for r in rows:
        clients = "all" if r["clients"] is None else str(len(r["clients"]))
        expires, used = r["expires_at"] or "never", r["last_used_at"] or "never"
        table.add_row(
            r["prefix"],
            r["name"],
            r["user"],
            r["role"],
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
