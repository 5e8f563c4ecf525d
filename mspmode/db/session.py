"""The unit of work: the only way code above ``db/`` gets a Session.

``with db.write() as s:`` is one transaction: committed when the block ends, rolled back if it
raises, so a failed request or command leaves nothing half-written. ``with db.read() as s:``
never commits. On SQLite writes take the single writer connection (see ``engine.py``).

A write that waited for another writer past the busy timeout, or lost a deadlock, raises
``DatabaseBusyError`` (nothing of it was kept: the caller may simply try again); a value the
database refuses as too long or malformed raises ``ValidationError``. Neither carries the
driver's text, which may quote what was written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from mspmode.db import redaction
from mspmode.db.engine import create_engines, is_busy, is_sqlite, ping
from mspmode.errors import (
    ConflictError,
    DatabaseBusyError,
    DatabaseUnreachableError,
    MSPError,
    ValidationError,
)
from mspmode.settings import DEFAULT_BUSY_TIMEOUT_MS, Settings, display_url

BUSY_MESSAGE = "the database is busy (another msp process is writing); try again"


class Database:
    """One database: its engines and session factories, and the redactor every text written
    through them passes (``db/redaction.py``; the runtime gives it the vault's known secrets).

    ``on_wait``, if set, is called when a write starts waiting for another process's lock
    (SQLite): the CLI sets it to tell the person why nothing happens yet."""

    def __init__(self, url: URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        self.on_wait: Callable[[], None] | None = None
        self.reader, self.writer = create_engines(url, busy_timeout_ms=busy_timeout_ms, on_wait=self._waiting)
        redaction.install()
        self.redactor = redaction.Redactor()
        redaction.attach(self.reader, self.redactor)
        redaction.attach(self.writer, self.redactor)
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False, autoflush=False)
        self._write_sessions = sessionmaker(self.writer, expire_on_commit=False)
        # Run first by ``dispose``: work handed to a thread (services/learning/verdicts.py) is
        # finished while the database is open. A connection such a thread held while the pool
        # was disposed would stay open until garbage-collected, on a database maybe dropped.
        self._before_dispose: list[Callable[[], object]] = []

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

    def _waiting(self) -> None:
        if self.on_wait is not None:
            self.on_wait()

    def busy_error(self) -> DatabaseBusyError:
        return DatabaseBusyError(BUSY_MESSAGE, retry_after=max(1, self.busy_timeout_ms // 10_000))

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        except (OperationalError, PoolTimeoutError) as exc:
            if isinstance(exc, PoolTimeoutError) or is_busy(exc):
                raise self.busy_error() from exc
            raise
        finally:
            # close() ends the transaction without expiring what was loaded (rollback() would),
            # so rows read here stay usable after the block.
            session.close()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A reading connection without a Session, for a column select that needs no mapped
        objects; like ``read`` it never commits."""
        try:
            with self.reader.connect() as conn:
                yield conn
        except (OperationalError, PoolTimeoutError) as exc:
            if isinstance(exc, PoolTimeoutError) or is_busy(exc):
                raise self.busy_error() from exc
            raise

    @contextmanager
    def write(self) -> Iterator[Session]:
        session = self._write_sessions()
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise _constraint_error(exc) from exc
        except DataError as exc:
            session.rollback()
            raise ValidationError(
                "rejected by the database: a value is too long or malformed for its field"
            ) from exc
        except PoolTimeoutError as exc:
            # This process's other writers kept the single writer connection past the timeout.
            session.rollback()
            raise self.busy_error() from exc
        except OperationalError as exc:
            session.rollback()
            if _is_check_violation(exc):
                raise _constraint_error(exc) from exc
            if _is_connection_error(exc):
                raise DatabaseUnreachableError(
                    f"lost the database at {display_url(self.url)} during a write; nothing was saved"
                ) from exc
            if is_busy(exc):
                raise self.busy_error() from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def before_dispose(self, finish: Callable[[], object]) -> None:
        self._before_dispose.append(finish)

    def dispose(self) -> None:
        try:
            for finish in list(self._before_dispose):
                finish()
        finally:
            self.reader.dispose()
            if self.writer is not self.reader:
                self.writer.dispose()


_CONSTRAINT_NAME = re.compile(r"\b((?:ck|uq|fk|pk)_[A-Za-z0-9_]+)")


def _constraint_error(exc: DBAPIError) -> MSPError:
    """A refused write as a domain error naming the rule, never the row's values.

    Every backend names the violated constraint in its message, and our naming convention
    says what kind it is; the rest of the driver's text (which may quote values) is dropped.
    """
    text = str(exc.orig)
    found = _CONSTRAINT_NAME.search(text)
    name = found.group(1) if found else None
    if name and name.startswith("ck_"):
        return ValidationError(f"rejected by the database: a value is outside what {name} allows")
    if name and name.startswith("fk_"):
        return ConflictError(
            f"rejected by the database: {name} — the referenced row does not exist or is still in use"
        )
    if name and (name.startswith("uq_") or name.startswith("pk_")):
        return ConflictError(f"rejected by the database: {name} — that value is already taken")
    sqlite_unique = re.search(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)", text)
    if sqlite_unique:  # SQLite names the columns, not the constraint
        return ConflictError(
            f"rejected by the database: {sqlite_unique.group(1)} — that value is already taken"
        )
    lowered = text.lower()
    if "not null" in lowered or "cannot be null" in lowered:
        return ValidationError("rejected by the database: a required field is missing")
    if "unique" in lowered or "duplicate" in lowered:
        return ConflictError("rejected by the database: that value is already taken")
    if "foreign key" in lowered:
        return ConflictError("rejected by the database: a referenced row does not exist or is still in use")
    return ConflictError("rejected by the database: the change breaks an integrity rule")


def _is_check_violation(exc: OperationalError) -> bool:
    # MariaDB reports CHECK violations as error 4025, which PyMySQL raises as OperationalError.
    args: tuple[object, ...] = tuple(getattr(exc.orig, "args", ()))
    return len(args) > 0 and args[0] == 4025


def _is_connection_error(exc: OperationalError) -> bool:
    return bool(exc.connection_invalidated)
