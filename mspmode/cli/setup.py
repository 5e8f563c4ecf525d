"""``msp init`` and ``msp serve``: set up an installation and run the API."""

from __future__ import annotations

import typer

from mspmode.cli.app import app, load_settings
from mspmode.settings import display_url


@app.command("init")
def init() -> None:
    """Set up MSP Mode: MSP_HOME, key files, database schema, first admin user.

    Prints the admin's one-time password once. Running it again changes nothing and says so;
    it never replaces an existing key file (that would make stored secrets unreadable).
    """
    from mspmode.services.setup import initialize

    settings = load_settings()
    report = initialize(settings)
    url = display_url(settings.db_url)
    if not report.changed:
        typer.echo(
            f"already initialised: {report.home}, database {url} at {report.revision_after}; nothing changed"
        )
        return
    if report.created_home:
        typer.echo(f"created {report.home}")
    if report.tightened_home_from is not None:
        typer.echo(f"{report.home} was open to other users (mode {report.tightened_home_from:o}): now 700")
    for path in report.created_keys:
        typer.echo(f"created key file {path} (mode 600)")
    if report.revision_before != report.revision_after:
        typer.echo(f"database {url} upgraded {report.revision_before or 'empty'} -> {report.revision_after}")
    if report.admin_password:
        typer.echo(f"created user {report.admin_username!r} with one-time password: {report.admin_password}")
        typer.echo("  (shown only now; it must be changed at first login)")


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1, or MSP_HOST)."),
    port: int = typer.Option(None, help="Port to listen on (default 8000, or MSP_PORT)."),
) -> None:
    """Run the REST API (docs at /api/docs). The database must be at this version's schema."""
    import uvicorn

    from mspmode.db import schema
    from mspmode.db.session import Database
    from mspmode.vault.keyfiles import KEY_NAMES, read_key_file

    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        db.ping()
        schema.require_head(db)
    finally:
        db.dispose()
    # Every key, the vault's too: a server without it fails on the first secret, and one
    # readable by others is refused here rather than served from.
    for name in KEY_NAMES:
        read_key_file(name, settings.key_path(name))
    # By import string: the CLI does not import the API layer; uvicorn builds the app (the API
    # with the MCP tools at /mcp) from the same environment.
    uvicorn.run(
        "mspmode.server:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; the app does it
        # instead, for MSP_TRUSTED_PROXIES only (api/proxies.py).
        proxy_headers=False,
    )
