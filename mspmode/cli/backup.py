"""``msp backup`` and ``msp restore``: verified backups of MSP Mode's own database."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mspmode.cli.app import app, emit_json, load_settings
from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.errors import MSPError
from mspmode.services import backup as backups
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings, display_url

STAGES = {
    "dump": "dumping",
    "checksum": "checksumming tables",
    "verify": "verifying in a scratch database",
    "restore": "restoring",
}


@contextmanager
def progress_reporter(what: str) -> Iterator[backups.Progress]:
    """A Rich progress bar per stage on a terminal; one plain line per stage otherwise (CI,
    cron, pipes), on stderr so that --json output stays parseable."""
    if not sys.stdout.isatty():
        last: list[str] = []

        def plain(stage: str, done: int, total: int | None) -> None:
            if not last or last[-1] != stage:
                last.append(stage)
                typer.echo(f"{what}: {STAGES.get(stage, stage)}…", err=True)

        yield plain
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def rich(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{what}: {STAGES.get(stage, stage)}", total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield rich


def _database(settings: Settings) -> Database:
    db = Database.from_settings(settings)
    db.ping()
    return db


def _runtime_for_log(settings: Settings, db: Database) -> Runtime | None:
    """A runtime that can write the backup_log and audit rows, or None when the schema is not
    current or there is no audit key yet (the backup itself does not need either)."""
    if not schema.status(db).at_head or not settings.key_path("audit").exists():
        return None
    return Runtime(settings, db)


def take_backup(
    settings: Settings,
    db: Database,
    *,
    directory: Path | None,
    backup_type: str,
    verify: bool = True,
    record: bool = True,
) -> backups.BackupResult:
    """Back up with progress and, when it can, a backup_log row. Shared with `msp db upgrade`."""
    started = datetime.now(UTC)
    try:
        with progress_reporter("backup") as progress:
            result = backups.backup(
                settings, db, directory=directory, backup_type=backup_type, verify=verify, progress=progress
            )
    except backups.BackupError as exc:
        rt = _runtime_for_log(settings, db) if record else None
        if rt is not None:
            folder = directory or backups.default_directory(settings)
            backups.record_failure(
                rt, local_actor(), backup_type=backup_type, directory=folder, started=started, error=str(exc)
            )
        raise
    if record:
        rt = _runtime_for_log(settings, db)
        if rt is not None:
            backups.record_backup(rt, local_actor(), result)
    return result


def _summary(result: backups.BackupResult) -> dict[str, Any]:
    return {
        "file": str(result.path),
        "manifest": str(result.manifest),
        "type": result.backup_type,
        "dialect": result.dialect,
        "size_bytes": result.size_bytes,
        "sha256": result.sha256,
        "schema_revision": result.revision,
        "tables": len(result.tables),
        "rows": result.rows,
        "duration_seconds": round(result.duration_seconds, 2),
        "verification": result.verification,
        "problems": result.problems,
        "backup_log_id": str(result.log_id) if result.log_id else None,
        "pruned": [str(p) for p in result.pruned],
    }


@app.command("backup")
def backup_command(
    to: Path = typer.Option(None, "--to", help="Directory for the backup; default: MSP_HOME/backups."),
    kind: str = typer.Option("manual", "--type", help="manual, daily, weekly, monthly or pre-migration."),
    keep_daily: int = typer.Option(
        7, "--keep-daily", min=0, help="Keep the newest backup of this many days."
    ),
    keep_weekly: int = typer.Option(4, "--keep-weekly", min=0, help="…of this many ISO weeks."),
    keep_monthly: int = typer.Option(12, "--keep-monthly", min=0, help="…of this many months."),
    keep_all: bool = typer.Option(False, "--keep-all", help="Delete no older backup."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip the restore into a scratch database."),
    schedule: bool = typer.Option(
        False, "--schedule", help="Print a crontab line for nightly backups; back up nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Back up the database and verify the backup.

    SQLite is copied with its online backup API, PostgreSQL with pg_dump, MariaDB with
    mariadb-dump. The backup is then restored into a scratch database (a temp file, or a
    throwaway database on the same server) and every table's row count and checksum compared;
    a manifest beside the file records them for `msp restore`. Afterwards older scheduled
    (daily/weekly/monthly) backups of this database in the same directory are deleted unless a
    --keep-* rule keeps them (the newest of each of the last 7 days, 4 weeks and 12 months by
    default); manual and pre-migration backups are kept. Secrets stay encrypted in
    the backup; keep the vault key file (MSP_HOME/vault.key) backed up separately.
    """
    settings = load_settings()
    directory = (to or backups.default_directory(settings)).expanduser().resolve()
    keep = (keep_daily, keep_weekly, keep_monthly)
    if schedule:
        msp_path = shutil.which("msp") or str(Path(sys.argv[0]).resolve())
        typer.echo("# nightly verified backup of MSP Mode (add with `crontab -e`):")
        typer.echo(backups.cron_line(settings, directory, msp_path, keep=keep))
        if settings.database_url:
            typer.echo(
                "# set MSP_DATABASE_URL in the crontab's environment (not on this line: it holds a password)"
            )
        return
    db = _database(settings)
    try:
        result = take_backup(settings, db, directory=directory, backup_type=kind, verify=not no_verify)
        if result.verification != "failed" and not keep_all:
            rt = _runtime_for_log(settings, db)
            if rt is not None:
                result.pruned = backups.prune(
                    rt,
                    local_actor(),
                    directory,
                    keep_daily=keep_daily,
                    keep_weekly=keep_weekly,
                    keep_monthly=keep_monthly,
                )
    finally:
        db.dispose()
    if as_json:
        emit_json(_summary(result))
    else:
        typer.echo(
            f"backed up {result.rows} rows in {len(result.tables)} tables to {result.path} "
            f"({result.size_bytes} bytes, {result.duration_seconds:.1f} s)"
        )
        typer.echo(f"verification: {result.verification}")
        if result.verification == "not_verified" and result.problems:
            typer.echo(f"warning: {result.problems[0]}", err=True)
        for path in result.pruned:
            typer.echo(f"pruned {path.name}")
    if result.verification == "failed":
        raise MSPError(f"the backup did not verify: {result.problems[0]} (file kept: {result.path})")


@app.command("restore")
def restore_command(
    file: Path = typer.Argument(..., help="The backup file (its .manifest.json must be beside it)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before overwriting (for scripts)."),
    allow_unsigned: bool = typer.Option(
        False,
        "--allow-unsigned",
        help="Accept a backup whose manifest is not signed (made before msp signed backups). "
        "Only for a file you know is yours: its other checks still apply.",
    ),
) -> None:
    """Replace the database with a backup.

    Before anything is overwritten the manifest's signature is checked (it is made with a key
    derived from MSP_HOME/audit.key: a manifest changed after the backup, or made by another
    installation, is refused, and so is an unsigned one unless --allow-unsigned), then the
    file against its manifest (a truncated or corrupted file is refused); a backup from a
    newer schema is refused; the backup is restored into a scratch database and compared
    table by table, and its schema — triggers, views and functions included — with the
    models. Then it asks (unless --yes) and overwrites. A backup from an older schema is
    restored as it was: run `msp db upgrade`.
    """
    settings = load_settings()
    db = _database(settings)
    try:
        with progress_reporter("restore") as progress:
            plan = backups.plan_restore(settings, db, file, allow_unsigned=allow_unsigned, progress=progress)
        if not plan.signed:
            typer.echo(
                f"warning: {plan.dump.name} has no signed manifest: restoring it because of --allow-unsigned",
                err=True,
            )
        created = plan.manifest.doc.get("created_at")
        if not yes:
            typer.confirm(
                f"Overwrite {display_url(db.url)} with the backup of {created} ({plan.rows} rows)?",
                abort=True,
            )
        with progress_reporter("restore") as progress:
            problems = backups.apply_restore(db, plan, progress=progress)
        if problems:
            raise MSPError(f"the restored database differs from the backup: {problems[0]}")
        recorded = backups.record_restore(Runtime(settings, db), local_actor(), plan)
        revision = plan.manifest.revision
    finally:
        db.dispose()
    typer.echo(f"restored {plan.rows} rows from {plan.dump.name} into {display_url(db.url)}")
    if not recorded and revision != schema.head_revision():
        typer.echo(f"the database is at schema revision {revision}: run `msp db upgrade`")
