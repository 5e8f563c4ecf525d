"""Who holds the learning states, and the CLI's snapshot of one.

Who holds one
    The API process keeps one state per client scope (``None``: everything; a scoped key gets
    a state built only from its clients' hosts and commands, so nothing of another client can
    reach its pre-checks). The CLI is a new process each time: it loads a snapshot instead of
    replaying the history, then catches up the same way.

The snapshot (CLI only)
    ``$MSP_HOME/cache/learning-<hash of the database URL>.pickle``, written 0600 and replaced
    atomically. It holds what the database holds, already redacted, and nothing else. A header
    names the format, the engine's code (a hash of its source), the database's identity (its
    first audit row), and an HMAC of the body under a key derived from ``audit.key``; the body
    is unpickled only if the HMAC matches. A snapshot that does not match the database (other
    identity, the mark row gone, a different number of commands up to the mark) is ignored and
    rebuilt. Deleting the file is always safe: the next command rebuilds it.

Warm before writing
    Building a state replays the whole history, and loading the snapshot counts it: work that
    grows with the history. A write never does it while it holds the writer (SQLite's single
    write lock, the audit chain's row lock elsewhere): ``warm`` builds or loads the state and
    catches it up in a read transaction first, so that the write, once it has the lock, only
    catches up on the few rows committed in between.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import os
import pickle
import threading
import uuid
import weakref
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mspmode.engine.fingerprint import STRATEGY
from mspmode.models.work import CommandRun
from mspmode.services.learning import state as state_module
from mspmode.services.learning.state import LearningState, build, catch_up, database_identity
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import table_of
from mspmode.settings import display_url

SNAPSHOT_FORMAT = b"msp-learning-snapshot 1\n"
_SEQUENCE_SQL = "SELECT sequence FROM audit_chain_head WHERE id = 1"
_COMMANDS = table_of(CommandRun)


def unchanged(rt: Runtime, scope: frozenset[uuid.UUID] | None = None) -> LearningState | None:
    """The state for ``scope`` if it exists and nothing changed since it last looked: one
    primary-key read on a bare connection (a pre-check's whole cost when nothing is new)."""
    st = cached(rt, scope)
    if st is None or st.audit_seq is None:
        return None
    # The driver's own connection from the pool: a Session or even a Connection costs several
    # times this read (events, autobegin) and would be most of a pre-check's time.
    raw = rt.db.reader.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(_SEQUENCE_SQL)
        row = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()
    return st if row is not None and int(row[0]) == st.audit_seq else None


# --------------------------------------------------------------------------------------------
# Who holds the states


_states: weakref.WeakKeyDictionary[Runtime, dict[frozenset[uuid.UUID] | None, LearningState]] = (
    weakref.WeakKeyDictionary()
)
_locks: weakref.WeakKeyDictionary[Runtime, threading.RLock] = weakref.WeakKeyDictionary()
_snapshot_runtimes: weakref.WeakSet[Runtime] = weakref.WeakSet()
_registry_lock = threading.Lock()


def lock_for(rt: Runtime) -> threading.RLock:
    """The lock every use of ``rt``'s states holds: the engine's memory is not thread-safe."""
    with _registry_lock:
        lock = _locks.get(rt)
        if lock is None:
            lock = _locks[rt] = threading.RLock()
        return lock


def use_snapshots(rt: Runtime, use: bool = True) -> None:
    """Load and save the snapshot under MSP_HOME for ``rt`` (the CLI: one process per command);
    ``use=False`` stops it (a process that loaded the snapshot and writes it back itself, less
    often than after every recording)."""
    if use:
        _snapshot_runtimes.add(rt)
    else:
        _snapshot_runtimes.discard(rt)


def current(rt: Runtime, session: Session, scope: frozenset[uuid.UUID] | None = None) -> LearningState:
    """The state for ``scope``, built or loaded on first use and caught up on every use.
    The caller holds :func:`lock_for`."""
    states = _states.setdefault(rt, {})
    st = states.get(scope)
    if st is None:
        if scope is None and rt in _snapshot_runtimes:
            st = load_snapshot(rt, session)
        if st is None:
            st = build(session, scope)
            st.changed = True
        states[scope] = st
    catch_up(session, st)
    return st


def warm_for_service(rt: Runtime) -> None:
    """Build or load what was learned (for callers that see every client) before a server
    answers its first check: a check must not pay for it, nor time out on it."""
    with lock_for(rt):
        warm(rt)


def warm(rt: Runtime, scope: frozenset[uuid.UUID] | None = None) -> LearningState:
    """The state for ``scope``, built, loaded or caught up in a read transaction: call it
    before taking the writer. The caller holds :func:`lock_for`."""
    with rt.db.read() as session:
        return current(rt, session, scope)


def replace(rt: Runtime, st: LearningState) -> None:
    _states.setdefault(rt, {})[st.scope] = st


def invalidate(rt: Runtime) -> None:
    """Forget every state of ``rt`` (after a failed write): the next use rebuilds."""
    _states.pop(rt, None)


def cached(rt: Runtime, scope: frozenset[uuid.UUID] | None = None) -> LearningState | None:
    return _states.get(rt, {}).get(scope)


# --------------------------------------------------------------------------------------------
# The snapshot


def snapshot_path(rt: Runtime) -> Path:
    digest = hashlib.sha256(display_url(rt.settings.db_url).encode()).hexdigest()[:16]
    return rt.settings.home / "cache" / f"learning-{digest}.pickle"


def _code_version() -> str:
    from mspmode.engine import memory as _memory_module

    digest = hashlib.sha256(STRATEGY.encode())
    own = [Path(state_module.__file__), Path(__file__)]  # the state's shape is part of the format
    for path in [*sorted(Path(_memory_module.__file__).parent.glob("*.py")), *own]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _mac(rt: Runtime, body: bytes) -> str:
    key = hmac.new(rt.audit_signer.key, b"msp learning snapshot", hashlib.sha256).digest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def save_snapshot(rt: Runtime) -> Path | None:
    """Write the unscoped state of ``rt`` if snapshots are on for it and it changed."""
    st = cached(rt)
    if st is None or rt not in _snapshot_runtimes or not st.changed:
        return None
    body = pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL)
    header = {"code": _code_version(), "identity": st.identity, "mac": _mac(rt, body)}
    path = snapshot_path(rt)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(SNAPSHOT_FORMAT)
            f.write(json.dumps(header).encode() + b"\n")
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    st.changed = False
    return path


def _unpickle(body: bytes) -> object:
    """``pickle.loads`` with the cyclic garbage collector paused: a state is ~180k objects at a
    100k history, and every few hundred of them made would start a collection that walks all
    those made so far (it halves the load; nothing loaded is garbage)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(body)
    finally:
        if was_enabled:
            gc.enable()


def load_snapshot(rt: Runtime, session: Session) -> LearningState | None:
    """The snapshot's state if it is intact and matches this database, else None."""
    path = snapshot_path(rt)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(SNAPSHOT_FORMAT):
        return None
    rest = data[len(SNAPSHOT_FORMAT) :]
    line, _, body = rest.partition(b"\n")
    try:
        header = json.loads(line)
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("code") != _code_version():
        return None
    if not hmac.compare_digest(str(header.get("mac", "")), _mac(rt, body)):
        return None  # not written with this installation's key: never unpickled
    if header.get("identity") != database_identity(session):
        return None
    try:
        st = _unpickle(body)
    except Exception:
        return None
    if not isinstance(st, LearningState) or st.scope is not None:
        return None
    if st.mark_at is not None:
        stored_at = session.execute(
            select(_COMMANDS.c.created_at).where(_COMMANDS.c.id == st.mark_id)
        ).scalar_one_or_none()
        count = session.execute(
            select(func.count()).select_from(_COMMANDS).where(_COMMANDS.c.created_at <= st.mark_at)
        ).scalar_one()
        if stored_at != st.mark_at or count != len(st.row_ids):
            return None
    st.changed = False
    return st
