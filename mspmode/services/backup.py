"""Verified backups of MSP Mode's own database, and restores that refuse a bad file.

The dump is made by the backend's own tool (``services/dumps.py``). Beside each dump a
manifest (``<dump>.manifest.json``) records the schema revision, the dump's size and SHA-256,
and per table its row count and checksum, and is signed (HMAC-SHA256) with a key the
database does not hold. A backup is *verified* by restoring the dump into a scratch database —
a temp file, or a throwaway database on the same server — and comparing every table's count
and checksum with the manifest. ``plan_restore`` first checks the manifest's signature and the
file against it (an altered, truncated or corrupted file is refused), refuses a backup from a
schema this msp does not know or for another kind of database, restores into a scratch
database, compares the data again and the schema with the models — tables, columns,
indexes, and the code a database runs by itself (triggers, views, functions, rules, events),
so a planted trigger is refused; only ``apply_restore`` then overwrites the live database.

The signing key is derived from the audit key (``audit.key``) for this one purpose rather than
kept in a fifth key file: every machine that takes or restores backups already needs the audit
key (both write an audit row, and a restore appends to the restored chain), a team already
copies it to each server, and whoever holds it can already forge the audit log, which a
separate backup key would not prevent. The derivation keeps the two uses apart: a manifest MAC
is never an audit MAC. Manifests written before signing (format 1) are refused unless the
caller allows unsigned ones (``msp restore --allow-unsigned``), which still get every other
check, the schema comparison included.

Secrets stay sealed: they are ciphertext in the database, so they are ciphertext in the dump.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.errors import SchemaError, ValidationError
from mspmode.models.operations import BACKUP_TYPES, AuditChainHead, BackupLog
from mspmode.services import audit, dumps
from mspmode.services.actor import Actor
from mspmode.services.dumps import (
    BackupError,
    Progress,
    compare,
    database_checksums,
    family,
    file_sha256,
    no_progress,
    table_checksums,
)
from mspmode.services.runtime import Runtime, Signer
from mspmode.settings import Settings, display_url
from mspmode.vault.keyfiles import read_key_bytes

MANIFEST_SUFFIX = ".manifest.json"
# 2: signed. 1: written before manifests were signed (read, refused unless allowed).
MANIFEST_FORMAT = 2
MANIFEST_FORMATS = (1, 2)
_MANIFEST_PURPOSE = b"msp backup manifest signing key v1"
# Retention thins out these; a manual or pre-migration backup stays until a person deletes it.
SCHEDULED_TYPES = ("daily", "weekly", "monthly")


# ---- the manifest -------------------------------------------------------------------------------


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class Manifest:
    doc: dict[str, Any]

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return dict(self.doc["tables"])

    @property
    def revision(self) -> str | None:
        return self.doc.get("schema_revision")

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.doc["created_at"])


def read_manifest(dump: Path) -> Manifest:
    path = manifest_path(dump)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"no manifest {path.name} beside {dump.name}: cannot check the backup") from None
    except ValueError:
        raise BackupError(f"the manifest {path.name} is damaged (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") not in MANIFEST_FORMATS or "tables" not in doc:
        raise BackupError(f"{path.name} is not an msp backup manifest of a format this msp reads")
    return Manifest(doc)


def manifest_signer(settings: Settings) -> Signer:
    """The key that signs manifests: the audit key's, derived for this purpose only."""
    audit_key = read_key_bytes("audit", settings.key_path("audit"))
    return Signer(hmac.new(audit_key, _MANIFEST_PURPOSE, hashlib.sha256).digest())


def _signed_bytes(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_manifest(doc: dict[str, Any], key: Signer) -> dict[str, Any]:
    signature = {"alg": "HMAC-SHA256", "key_id": key.key_id, "mac": key.sign(_signed_bytes(doc))}
    return {**doc, "signature": signature}


def check_signature(
    dump: Path, manifest: Manifest, settings: Settings, *, allow_unsigned: bool = False
) -> bool:
    """The manifest was written by a holder of this installation's audit key and not changed
    since. Returns False for an unsigned manifest that ``allow_unsigned`` lets through."""
    name = manifest_path(dump).name
    signature = manifest.doc.get("signature")
    if signature is None:
        if allow_unsigned:
            return False
        raise BackupError(
            f"the manifest {name} is not signed (made before msp signed backups, or its signature was "
            "removed): nothing was restored; to restore a backup you know is yours, add --allow-unsigned"
        )
    if not isinstance(signature, dict) or not isinstance(signature.get("mac"), str):
        raise BackupError(f"the manifest {name} has a malformed signature: nothing was restored")
    key = manifest_signer(settings)
    if signature.get("key_id") != key.key_id:
        raise BackupError(
            f"the manifest {name} was signed with another audit key (id {signature.get('key_id')}, this "
            f"installation's is {key.key_id}): restore it with that installation's audit.key; "
            "nothing was restored"
        )
    if not hmac.compare_digest(key.sign(_signed_bytes(manifest.doc)), signature["mac"]):
        raise BackupError(
            f"the manifest {name} does not match its signature: the backup or its manifest was changed "
            "after the backup was taken; nothing was restored"
        )
    return True


def check_file(dump: Path, manifest: Manifest) -> None:
    """The dump is exactly the file the manifest describes: not truncated, not altered."""
    if not dump.is_file():
        raise BackupError(f"no backup file {dump}")
    size = dump.stat().st_size
    want = int(manifest.doc["size_bytes"])
    if size != want:
        raise BackupError(
            f"{dump.name} is {size} bytes, the backup was {want}: the file is truncated or corrupted; "
            "nothing was restored"
        )
    if file_sha256(dump) != manifest.doc["sha256"]:
        raise BackupError(
            f"{dump.name} does not match its checksum: the file is corrupted; nothing was restored"
        )


# ---- backup -------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    manifest: Path
    backup_type: str
    dialect: str
    size_bytes: int
    sha256: str
    revision: str | None
    started_at: datetime
    duration_seconds: float
    verification: str  # passed, failed or not_verified
    problems: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_id: Any = None
    pruned: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())


def default_directory(settings: Settings) -> Path:
    return settings.home / "backups"


def backup(
    settings: Settings,
    db: Database,
    *,
    directory: Path | None = None,
    backup_type: str = "manual",
    verify: bool = True,
    progress: Progress = no_progress,
    now: datetime | None = None,
) -> BackupResult:
    """Dump the database into ``directory``, write its manifest, and verify it by restoring
    into a scratch database. Raises BackupError when the dump itself fails; a dump that does
    not verify is kept (with ``verification == "failed"`` and the differences) for inspection."""
    if backup_type not in BACKUP_TYPES:
        raise ValidationError(f"backup type must be one of {', '.join(BACKUP_TYPES)}, not {backup_type!r}")
    st = schema.status(db)
    if st.empty:
        raise BackupError(f"the database at {display_url(db.url)} has no schema yet: nothing to back up")
    signer = manifest_signer(settings)  # before the dump: without the key there is no backup
    folder = (directory or default_directory(settings)).expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = now or datetime.now(UTC)
    kind = family(db.url)
    suffix = "sqlite" if kind == "sqlite" else "sql"
    dest = folder / f"msp-{kind}-{started:%Y%m%dT%H%M%S}Z-{secrets.token_hex(2)}-{backup_type}.{suffix}"
    clock = time.monotonic()
    partial = dest.with_name(dest.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        tables = dumps.dump(db.url, partial, progress)
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    result = BackupResult(
        path=dest,
        manifest=manifest_path(dest),
        backup_type=backup_type,
        dialect=kind,
        size_bytes=dest.stat().st_size,
        sha256=file_sha256(dest),
        revision=st.current,
        started_at=started,
        duration_seconds=0.0,
        verification="not_verified",
        tables=tables,
    )
    doc = {
        "format": MANIFEST_FORMAT,
        "created_at": started.isoformat(),
        "backup_type": backup_type,
        "dialect": kind,
        "database": display_url(db.url),
        "file": dest.name,
        "size_bytes": result.size_bytes,
        "sha256": result.sha256,
        "schema_revision": st.current,
        "tables": tables,
    }
    _write_private(result.manifest, json.dumps(sign_manifest(doc, signer), indent=2, sort_keys=True) + "\n")
    if verify:
        progress("verify", 0, None)
        try:
            with dumps.scratch_database(db.url, folder) as scratch:
                dumps.load(scratch, dest, replace=False, progress=progress)
                result.problems = compare(tables, database_checksums(scratch, progress))
                if kind == "sqlite" and not result.problems:
                    result.problems = dumps.sqlite_integrity(scratch)
            result.verification = "failed" if result.problems else "passed"
        except dumps.ScratchUnavailableError as exc:
            # Still a backup, and said to be unverified (in backup_log too), not a failure.
            result.problems = [str(exc)]
        except BackupError as exc:
            result.problems = [str(exc)]
            result.verification = "failed"
    result.duration_seconds = time.monotonic() - clock
    return result


def _write_private(path: Path, content: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.replace(tmp, path)


def record_backup(rt: Runtime, actor: Actor, result: BackupResult, error: str | None = None) -> Any:
    """The ``backup_log`` row for a backup (and its audit row)."""
    url = rt.db.url
    with rt.db.write() as session:
        row = BackupLog(
            backup_type=result.backup_type,
            status="failed" if error else "succeeded",
            file_path=str(result.path),
            file_size_bytes=result.size_bytes if not error else None,
            checksum_sha256=result.sha256 or None,
            backup_started_at=result.started_at,
            backup_completed_at=result.started_at + timedelta(seconds=result.duration_seconds),
            duration_seconds=round(result.duration_seconds),
            verification_status=result.verification,
            verification_details={
                "tables": len(result.tables),
                "rows": result.rows,
                "problems": result.problems,
            },
            database_name=url.database if family(url) != "sqlite" else Path(str(url.database)).name,
            database_dialect=family(url),
            database_host=url.host,
            backup_method="native",
            schema_revision=result.revision,
            error_message=error,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            rt.audit_signer,
            actor,
            "create",
            "backup_log",
            row.id,
            {"file_path": row.file_path, "verification_status": row.verification_status},
        )
        result.log_id = row.id
        return row


def record_failure(
    rt: Runtime, actor: Actor, *, backup_type: str, directory: Path, started: datetime, error: str
) -> Any:
    """The ``backup_log`` row of a backup whose dump failed (no file was kept)."""
    failed = BackupResult(
        path=directory,
        manifest=directory,
        backup_type=backup_type,
        dialect=family(rt.db.url),
        size_bytes=0,
        sha256="",
        revision=schema.status(rt.db).current,
        started_at=started,
        duration_seconds=(datetime.now(UTC) - started).total_seconds(),
        verification="not_verified",
    )
    return record_backup(rt, actor, failed, error=error)


# ---- retention ----------------------------------------------------------------------------------


def prune(
    rt: Runtime,
    actor: Actor,
    directory: Path,
    *,
    keep_daily: int = 7,
    keep_weekly: int = 4,
    keep_monthly: int = 12,
) -> list[Path]:
    """Delete this database's scheduled backups in ``directory`` that no rule keeps: the newest of each
    of the last ``keep_daily`` days that have one, of the last ``keep_weekly`` ISO weeks and of
    the last ``keep_monthly`` months. Their ``backup_log`` rows are marked pruned."""
    here = display_url(rt.db.url)
    found: list[tuple[datetime, Path]] = []
    for path in directory.glob(f"*{MANIFEST_SUFFIX}"):
        dump = path.with_name(path.name[: -len(MANIFEST_SUFFIX)])
        try:
            manifest = read_manifest(dump)
        except BackupError:
            continue
        scheduled = manifest.doc.get("backup_type") in SCHEDULED_TYPES
        if scheduled and manifest.doc.get("database") == here and dump.exists():
            found.append((manifest.created_at, dump))
    found.sort(key=lambda item: item[0], reverse=True)
    keep: set[Path] = set()
    for count, bucket in (
        (keep_daily, lambda d: d.date()),
        (keep_weekly, lambda d: d.isocalendar()[:2]),
        (keep_monthly, lambda d: (d.year, d.month)),
    ):
        seen: list[Any] = []
        for created, dump in found:
            key = bucket(created)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(key)
            keep.add(dump)
    doomed = [dump for _, dump in found if dump not in keep]
    for dump in doomed:
        dump.unlink(missing_ok=True)
        manifest_path(dump).unlink(missing_ok=True)
    if doomed:
        with rt.db.write() as session:
            paths = [str(d) for d in doomed]
            session.execute(
                update(BackupLog).where(BackupLog.file_path.in_(paths)).values(pruned_at=datetime.now(UTC))
            )
            audit.record(
                session,
                rt.audit_signer,
                actor,
                "delete",
                "backup_files",
                None,
                {"pruned": [d.name for d in doomed]},
            )
    return doomed


def cron_line(settings: Settings, directory: Path, msp_path: str, *, keep: tuple[int, int, int]) -> str:
    """A crontab line for a nightly verified backup with retention. The database URL is not in
    it (a crontab is readable by its owner's processes and often copied around): it comes
    from the environment or MSP_HOME as for every other msp command."""
    daily, weekly, monthly = keep
    return (
        f"17 2 * * * MSP_HOME={_sh(str(settings.home))} {_sh(msp_path)} backup --type daily "
        f"--to {_sh(str(directory))} --keep-daily {daily} --keep-weekly {weekly} --keep-monthly {monthly} "
        f">> {_sh(str(settings.home / 'backup.log'))} 2>&1"
    )


def _sh(value: str) -> str:
    import shlex

    return shlex.quote(value)


# ---- restore ------------------------------------------------------------------------------------


@dataclass
class RestorePlan:
    dump: Path
    manifest: Manifest
    target: URL
    target_revision: str | None
    signed: bool = True
    # The live chain's head just before the overwrite, named in the restore's audit row so
    # that other machines accept the rollback it is.
    replaced_head: audit.Checkpoint | None = None

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.manifest.tables.values())


def plan_restore(
    settings: Settings,
    db: Database,
    dump: Path,
    *,
    allow_unsigned: bool = False,
    progress: Progress = no_progress,
) -> RestorePlan:
    """Every check a restore makes before it touches the live database: the manifest is
    signed with this installation's key (or unsigned and ``allow_unsigned``), the file
    matches it, its schema is one this msp knows, it is for this kind of database, the live
    database is not from a newer msp, and the dump restores into a scratch database with
    every table's rows and checksum as recorded and a schema that is the models' own."""
    dump = dump.expanduser()
    manifest = read_manifest(dump)
    signed = check_signature(dump, manifest, settings, allow_unsigned=allow_unsigned)
    check_file(dump, manifest)
    kind = family(db.url)
    if manifest.doc.get("dialect") != kind:
        raise BackupError(
            f"{dump.name} is a {manifest.doc.get('dialect')} backup; this database is {kind}: "
            "nothing was restored"
        )
    revision = manifest.revision
    known = _known_revisions()
    if revision not in known:
        raise SchemaError(
            f"{dump.name} is from schema revision {revision}, newer than this msp knows "
            f"(its newest is {schema.head_revision()}): upgrade msp first; nothing was restored"
        )
    target = schema.status(db)  # refuses a live database newer than this msp
    with dumps.scratch_database(db.url, dump.parent) as scratch:
        dumps.load(scratch, dump, replace=False, progress=progress)
        problems = compare(manifest.tables, database_checksums(scratch, progress))
        if problems:
            raise BackupError(
                f"{dump.name} does not restore to what was backed up ({problems[0]}); nothing was restored"
            )
        problems = _schema_problems(scratch, revision)
    if problems:
        raise BackupError(
            f"{dump.name} restores a schema this msp does not make ({problems[0]}); nothing was restored"
        )
    return RestorePlan(
        dump=dump, manifest=manifest, target=db.url, target_revision=target.current, signed=signed
    )


def _schema_problems(scratch: URL, revision: str | None) -> list[str]:
    """How the restored schema differs from what the migrations and models make. Code the
    database runs by itself is checked as restored; a backup from an older revision is then
    upgraded in the scratch database, as `msp db upgrade` will upgrade it, and compared whole."""
    db = Database(scratch)
    try:
        extra = [line for line in schema.object_differences(db) if not line.endswith(schema.MISSING)]
        if extra:
            return extra
        if revision != schema.head_revision():
            schema.upgrade(db)
        return schema.differences(db)
    finally:
        db.dispose()


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(schema.alembic_config()).walk_revisions()}


def apply_restore(db: Database, plan: RestorePlan, *, progress: Progress = no_progress) -> list[str]:
    """Overwrite the live database with the planned dump; return any difference found
    afterwards (none on success). Close every other use of ``db`` first."""
    plan.replaced_head = _live_head(db)
    db.dispose()
    dumps.load(plan.target, plan.dump, replace=True, progress=progress)
    return compare(plan.manifest.tables, database_checksums(plan.target, progress))


def _live_head(db: Database) -> audit.Checkpoint | None:
    try:
        with db.read() as session:
            found = session.execute(select(AuditChainHead.sequence, AuditChainHead.mac)).first()
    except SQLAlchemyError:  # no schema, or one from before the chain had a head
        return None
    if found is None or not found.mac:
        return None
    return audit.Checkpoint(int(found.sequence), str(found.mac))


def record_restore(rt: Runtime, actor: Actor, plan: RestorePlan) -> bool:
    """An audit row for a restore, appended to the restored chain, naming the head it
    replaced; this machine's anchor then starts from it. Only when the restored schema is
    current and the audit key is here (an older schema is upgraded first, and the row written
    then would not fit the old tables); otherwise the anchor is forgotten, and the next
    verify or audited change starts a new one."""
    if not schema.status(rt.db).at_head or not rt.settings.key_path("audit").exists():
        audit.forget_anchor(rt.audit_anchor)
        return False
    replaced = plan.replaced_head
    with rt.db.write() as session:
        row = audit.record(
            session,
            rt.audit_signer,
            actor,
            "other",
            "database",
            None,
            {
                "restored_from": plan.dump.name,
                "sha256": plan.manifest.doc["sha256"],
                "schema_revision": plan.manifest.revision,
                "signed": plan.signed,
                "replaced_head": {"sequence": replaced.sequence, "mac": replaced.mac} if replaced else None,
            },
        )
        restored_head = audit.Checkpoint(row.sequence, row.mac)
    audit.reset_anchor(rt.audit_anchor, restored_head, [restored_head.mac])
    return True


__all__ = [
    "BackupError",
    "BackupResult",
    "Manifest",
    "Progress",
    "RestorePlan",
    "apply_restore",
    "backup",
    "check_file",
    "check_signature",
    "compare",
    "cron_line",
    "database_checksums",
    "default_directory",
    "file_sha256",
    "manifest_path",
    "manifest_signer",
    "plan_restore",
    "prune",
    "read_manifest",
    "record_backup",
    "record_failure",
    "record_restore",
    "sign_manifest",
    "table_checksums",
]
