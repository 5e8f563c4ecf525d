"""``msp db``: the schema's revision."""

from __future__ import annotations

import json

import typer

from mspmode.cli.app import app, load_settings
from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.errors import SchemaError
from mspmode.settings import display_url

db_app = typer.Typer(help="Create, upgrade and check the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(
    no_backup: bool = typer.Option(False, "--no-backup", help="Skip the pre-migration backup."),
) -> None:
    """Upgrade the database to this version's schema (creating it if empty).

    Safe to run at any time: an up-to-date database is left alone. A database from a newer
    msp is refused, never downgraded. Before a migration changes anything, a verified
    pre-migration backup is taken into MSP_HOME/backups (`msp restore` brings it back).
    """
    from mspmode.cli.backup import take_backup
    from mspmode.services import audit
    from mspmode.services.runtime import Runtime

    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        db.ping()
        st = schema.status(db)
        if st.current in audit.UNSIGNED_HEAD_REVISIONS and not settings.key_path("audit").exists():
            raise SchemaError(
                f"upgrading from {st.current} signs the audit chain's head with the audit key, and there "
                f"is none at {settings.key_path('audit')}: copy audit.key there or set MSP_AUDIT_KEY_FILE; "
                "nothing was changed"
            )
        taken = None
        if not st.empty and not st.at_head and not no_backup:
            # Recorded in backup_log after the upgrade: the old schema's table may differ.
            taken = take_backup(settings, db, directory=None, backup_type="pre-migration", record=False)
            if taken.verification == "failed":
                raise SchemaError(
                    f"the pre-migration backup did not verify ({taken.problems[0]}): not upgrading"
                )
            typer.echo(f"pre-migration backup: {taken.path}")
        before, after = schema.upgrade(db)
        if before in audit.UNSIGNED_HEAD_REVISIONS and not audit.sign_legacy_head(
            db, Runtime(settings, db).audit_signer
        ):
            typer.echo(
                "warning: the audit chain does not verify, its head was left unsigned: `msp audit verify`",
                err=True,
            )
        if taken is not None:
            from mspmode.services import backup as backups
            from mspmode.services.actor import local_actor

            if settings.key_path("audit").exists():
                backups.record_backup(Runtime(settings, db), local_actor(), taken)
    finally:
        db.dispose()
    if before == after:
        typer.echo(f"database {display_url(db.url)} already at {after}: nothing to do")
    else:
        typer.echo(f"database {display_url(db.url)} upgraded {before or 'empty'} -> {after}")


@db_app.command("check")
def check(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Check that the database is at this version's revision and matches the models.

    Exits 1 and lists each difference (a missing table, a column of another type…) when the
    live schema and the models disagree. Changes nothing.
    """
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        db.ping()
        st = schema.status(db)
        diffs = schema.differences(db) if not st.empty else ["no schema: run `msp db upgrade`"]
    finally:
        db.dispose()
    if not st.empty and not st.at_head:
        diffs.insert(0, f"revision {st.current} is not head {st.head}: run `msp db upgrade`")
    if as_json:
        typer.echo(
            json.dumps({"revision": st.current, "head": st.head, "ok": not diffs, "differences": diffs})
        )
        if diffs:
            raise typer.Exit(1)
        return
    if diffs:
        for line in diffs:
            typer.echo(line, err=True)
        raise SchemaError(f"{len(diffs)} difference(s) between the models and {display_url(db.url)}")
    typer.echo(f"database {display_url(db.url)} at {st.current}: schema matches the models")
