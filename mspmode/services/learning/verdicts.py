"""Keeping what a pre-check stopped or warned about (``check_verdicts``), off the check's path.

    check_many ──block/warn rows──▶ keep() ──▶ this runtime's writer thread ──▶ one INSERT a batch

A pre-check answers a hook inside the agent's tool call, and a known failure must never get
through because something was slow: the check does not wait for the database's writer
(SQLite's is one connection per process, and an import may hold it for seconds). ``keep``
hands the rows to a thread of the runtime that writes them in batches, and returns at once; the
thread ends when it has been idle a while and the next verdict starts another. ``flush`` waits
for what was handed over (when the runtime is disposed, at exit, and for a reader that must see
it now): a row written after its runtime closed its database would open a connection nobody
closes.

Losing a row is preferred to stalling a check: past ``MAX_PENDING`` rows waiting (a database
that is down), new ones are dropped and the loss is logged.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
import weakref
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from mspmode.db.base import utcnow
from mspmode.models.learning import CheckVerdict
from mspmode.services.actor import Actor
from mspmode.services.learning.text import fit, storable
from mspmode.services.runtime import Runtime

log = logging.getLogger(__name__)

# A writer thread with nothing to write for this long ends: enough to take a burst of checks
# in one batch, short enough that a process is soon single-threaded again (an import forks its
# reader only then: services/learning/reader.can_fork).
IDLE_SECONDS = 0.5
MAX_BATCH = 500
MAX_PENDING = 10_000
EXIT_FLUSH_SECONDS = 2.0


def row_for(
    result: dict[str, Any],
    actor: Actor,
    *,
    client_id: uuid.UUID | None,
    infrastructure_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The ``check_verdicts`` row of one pre-check answer, a block or a warn."""
    host = result.get("host")
    return {
        "id": uuid.uuid4(),
        "client_id": client_id,
        "infrastructure_id": infrastructure_id,
        "failure_pattern_id": _first_pattern(result.get("pattern_ids")),
        "verdict": result["verdict"],
        "confidence": result.get("confidence"),
        "host": storable(host)[:255] if isinstance(host, str) and host else None,
        "command": fit(storable(str(result.get("command") or ""))),
        "reason": fit(storable(str(result.get("reason") or ""))),
        "actor_type": actor.type,
        "actor_name": actor.name,
    }


def _first_pattern(ids: Any) -> uuid.UUID | None:
    """The pattern that decided (the engine lists it first)."""
    for ident in ids or ():
        try:
            return uuid.UUID(str(ident))
        except ValueError:
            return None
    return None


class _Writer:
    def __init__(self, rt: Runtime) -> None:
        # Weak: the runtime's entry in ``_writers`` must not keep the runtime alive.
        self.rt = weakref.ref(rt)
        self.changed = threading.Condition()
        self.rows: list[dict[str, Any]] = []
        self.writing = False
        self.thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        with self.changed:
            room = MAX_PENDING - len(self.rows)
            if room < len(rows):
                self.dropped += len(rows) - max(room, 0)
                log.warning("check verdicts: %d not kept (the database is not taking them)", self.dropped)
                rows = rows[: max(room, 0)]
            self.rows.extend(rows)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="msp-check-verdicts", daemon=True)
                self.thread.start()
            self.changed.notify_all()

    def flush(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: not self.rows and not self.writing, timeout)

    def _run(self) -> None:
        while True:
            with self.changed:
                if not self.rows:
                    self.changed.wait(IDLE_SECONDS)
                if not self.rows:
                    self.thread = None
                    self.changed.notify_all()
                    return
                batch, self.rows = self.rows[:MAX_BATCH], self.rows[MAX_BATCH:]
                self.writing = True
            try:
                rt = self.rt()
                if rt is not None:
                    _write(rt, batch)
                del rt
            except Exception as exc:  # a lost verdict row must not end the thread
                log.warning("check verdicts: %d not kept: %s: %s", len(batch), type(exc).__name__, exc)
            finally:
                with self.changed:
                    self.writing = False
                    self.changed.notify_all()


def _write(rt: Runtime, batch: list[dict[str, Any]]) -> None:
    # Stamped as written, as a recorded command is: the live feed reads on from the newest
    # ``created_at`` it saw, and a row stamped before a later-written one would be skipped.
    at = utcnow()
    batch = [{**r, "created_at": at} for r in batch]
    try:
        with rt.db.write() as s:
            s.execute(insert(CheckVerdict), batch)
    except IntegrityError:
        # A host or pattern deleted since the check: keep the verdict without the link.
        unlinked = [{**r, "infrastructure_id": None, "failure_pattern_id": None} for r in batch]
        with rt.db.write() as s:
            s.execute(insert(CheckVerdict), unlinked)


_writers: weakref.WeakKeyDictionary[Runtime, _Writer] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(rt: Runtime) -> _Writer:
    with _writers_lock:
        found = _writers.get(rt)
        if found is None:
            found = _writers[rt] = _Writer(rt)
            # Written before the database is disposed (the CLI's ends with the command), by
            # whoever disposes it: the runtime, or a caller that owns the database itself.
            rt.db.before_dispose(lambda: found.flush(EXIT_FLUSH_SECONDS))
        return found


def keep(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    """Have ``rows`` written soon; returns without waiting for the database."""
    if rows:
        _writer(rt).add(rows)


def flush(rt: Runtime, timeout: float = 10.0) -> bool:
    """Wait until the verdicts handed over so far are written (or given up); False on timeout."""
    with _writers_lock:
        found = _writers.get(rt)
    return found.flush(timeout) if found is not None else True


@atexit.register
def _flush_all() -> None:
    with _writers_lock:
        writers = list(_writers.values())
    for w in writers:
        w.flush(EXIT_FLUSH_SECONDS)
