"""First-run setup: MSP_HOME, the key files, the schema, the first administrator."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from mspmode.db import schema
from mspmode.db.session import Database
from mspmode.models.core import User
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from mspmode.vault.keyfiles import KEY_NAMES, ensure_key_file
from mspmode.vault.passwords import generate_password, hash_password

ADMIN_USERNAME = "admin"


@dataclass
class InitReport:
    home: Path
    created_home: bool = False
    # The mode MSP_HOME had when it let group or others in (it is 0700 now).
    tightened_home_from: int | None = None
    created_keys: list[Path] = field(default_factory=list)
    revision_before: str | None = None
    revision_after: str | None = None
    admin_username: str | None = None
    admin_password: str | None = None  # shown once, never stored or logged

    @property
    def changed(self) -> bool:
        return bool(
            self.created_home
            or self.tightened_home_from is not None
            or self.created_keys
            or self.revision_before != self.revision_after
            or self.admin_password
        )


def initialize(settings: Settings) -> InitReport:
    """Bring an installation to a usable state; a second run changes nothing.

    Order matters: the database is checked before anything else is written, so a bad URL or
    a database from a newer msp leaves the disk as it was.
    """
    report = InitReport(home=settings.home, created_home=not settings.home.exists())
    db = Database.from_settings(settings)  # validates the URL first
    try:
        db.ping()
        schema.status(db)  # refuses a newer schema before we create anything
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        report.tightened_home_from = _make_private(settings.home)
        _initialize(settings, db, report)
    finally:
        db.dispose()
    return report


def _initialize(settings: Settings, db: Database, report: InitReport) -> None:
    for name in KEY_NAMES:
        path = settings.key_path(name)
        if ensure_key_file(name, path):
            report.created_keys.append(path)

    report.revision_before, report.revision_after = schema.upgrade(db)

    signer = Runtime(settings, db).audit_signer
    if report.revision_before in audit.UNSIGNED_HEAD_REVISIONS:
        audit.sign_legacy_head(db, signer)
    with db.write() as session:
        if session.scalar(select(func.count()).select_from(User)) == 0:
            password = generate_password()
            admin = User(
                username=ADMIN_USERNAME,
                full_name="Administrator",
                password_hash=hash_password(password),
                role="admin",
                must_change_password=True,
            )
            session.add(admin)
            session.flush()
            actor = Actor(type="system", role="admin", name="msp init")
            audit.record(
                session,
                signer,
                actor,
                "create",
                "users",
                admin.id,
                {"username": ADMIN_USERNAME, "role": "admin"},
            )
            report.admin_username, report.admin_password = ADMIN_USERNAME, password


def _make_private(home: Path) -> int | None:
    """Take group and others out of MSP_HOME (keys, the database, caches live there); return
    the mode it had if it let them in."""
    mode = stat.S_IMODE(home.stat().st_mode)
    if not mode & 0o077:
        return None
    home.chmod(0o700)
    return mode
