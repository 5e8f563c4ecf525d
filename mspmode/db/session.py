"""The unit of work: the only way code above ``db/`` gets a Session.

``with db.write() as s:`` is one transaction: committed when the block ends, rolled back if it
raises, so a failed request or command leaves nothing half-written. ``with db.read() as s:``
never commits. On SQLite writes take the single writer connection (see ``engine.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mspmode.db.engine import create_engines, is_sqlite, ping
from mspmode.errors import ConflictError, DatabaseUnreachableError
from mspmode.settings import Settings, display_url


class Database:
    """One database: its engines and session factories."""

    def __init__(self, url: URL, *, busy_timeout_ms: int = 5000) -> None:
        self.url = url
        self.reader, self.writer = create_engines(url, busy_timeout_ms=busy_timeout_ms)
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False, autoflush=False)
        self._write_sessions = sessionmaker(self.writer, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.db_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)

    @property
    def dialect(self) -> str:
        return self.reader.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    def __repr__(self) -> str:
        return f"<Database {display_url(self.url)}>"

    def ping(self) -> None:
        ping(self.reader)

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        session = self._write_sessions()
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise ConflictError(_integrity_message(exc)) from exc
        except OperationalError as exc:
            session.rollback()
            if _is_connection_error(exc):
                raise DatabaseUnreachableError(
                    f"lost the database at {display_url(self.url)} during a write; nothing was saved"
                ) from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.reader.dispose()
        if self.writer is not self.reader:
            self.writer.dispose()


def _integrity_message(exc: IntegrityError) -> str:
    # The driver's text names the constraint (ck_/uq_/fk_ by our convention) but may quote row
    # values; keep its first line only, which is where every backend names the rule.
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "integrity error"
    return f"rejected by the database: {detail}"


def _is_connection_error(exc: OperationalError) -> bool:
    return bool(exc.connection_invalidated)
