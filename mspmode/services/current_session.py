"""The session of work running on this machine, remembered between commands.

``msp session start`` writes it, ``msp session stop`` removes it, and ``msp work add`` and the
agent hooks read it. It is a small JSON file in ``MSP_HOME`` (the hooks read it with the
standard library alone, so its shape is a contract)::

    {"session_id": "<uuid>", "client_id": "<uuid>"|null, "project_id": "<uuid>"|null,
     "machine_id": "<uuid>"|null, "started_at": "2026-03-02T09:00:00+00:00",
     "database": "sqlite:////home/tech/.local/share/mspmode/msp.db"}

``database`` is the display form of the database URL (never a password), so a file left by
another database is recognised rather than pointing at a row that does not exist there.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from mspmode.errors import ValidationError
from mspmode.settings import Settings

FILE_NAME = "current-session.json"


def current_session_path(settings: Settings) -> Path:
    """Where this machine's current session is remembered."""
    return settings.home / FILE_NAME


@dataclass(frozen=True)
class CurrentSession:
    session_id: str
    client_id: str | None
    project_id: str | None
    machine_id: str | None
    started_at: str
    database: str

    @property
    def session_uuid(self) -> uuid.UUID:
        return uuid.UUID(self.session_id)

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)


def read(settings: Settings) -> CurrentSession | None:
    """The current session, or None when none is running. A damaged file is an error that
    says how to get out of it, not a silent None (work would be lost to no session)."""
    path = current_session_path(settings)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
        uuid.UUID(doc["session_id"])
        return CurrentSession(
            session_id=str(doc["session_id"]),
            client_id=doc.get("client_id"),
            project_id=doc.get("project_id"),
            machine_id=doc.get("machine_id"),
            started_at=str(doc["started_at"]),
            database=str(doc.get("database", "")),
        )
    except (ValueError, KeyError, TypeError):
        raise ValidationError(
            f"{path} is not a current-session file: remove it, or run `msp session stop --force`"
        ) from None


def write(settings: Settings, current: CurrentSession) -> Path:
    """Write the file atomically (a reader sees the old file or the new one, never half) and
    private to the user (0600), like everything else in MSP_HOME."""
    path = current_session_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".current-session.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(current), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def clear(settings: Settings) -> bool:
    """Remove the file; True if there was one."""
    try:
        current_session_path(settings).unlink()
    except FileNotFoundError:
        return False
    return True
