"""Who holds the learning states, and the one store on disk they start from.

Who holds one
    Every :class:`Runtime` owns a ``LearningStore`` (``runtime.learning``): one state per
    client scope (``None``: everything; a scoped key gets a state built only from its clients'
    hosts and commands, so nothing of another client can reach its pre-checks) and the lock
    every use holds. Nothing is kept in module globals: two runtimes never share a state.

The one store (the local service and the CLI)
    What was learned is persisted in one place: the store file of the database
    (``mspmode/hooks/index.py``, ``$MSP_HOME/cache/hook-index-<hash>.sqlite``), beside the
    pre-check index the hooks fall back on. The unscoped state is kept there under the key
    ``learning``, pickled, with the database's :func:`index.freshness` when it was read and an
    HMAC, under a key derived from ``audit.key``, over the store's format, the code version,
    the freshness and the body; the body is unpickled only if the HMAC matches, and then only
    with engine and state classes. It is used only if it is of this code
    (:func:`index.code_stamp`) and :func:`index.freshness_of` finds the database the same, or
    the same with newer commands (the state catches up): another database, or commands gone,
    rebuild it. It holds what the database holds, already redacted, and nothing else. Deleting
    the file is always safe: the next start rebuilds it.

Warm before writing
    Building a state replays the whole history, and loading the stored one counts it: work
    that grows with the history. A write never does it while it holds the writer (SQLite's
    single write lock, the audit chain's row lock elsewhere): ``warm`` builds or loads the
    state and catches it up in a read transaction first, so that the write, once it has the
    lock, only catches up on the few rows committed in between.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import logging
import pickle
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mspmode.hooks import config as hook_config
from mspmode.hooks import index
from mspmode.services.learning.state import LearningState, build, catch_up
from mspmode.services.runtime import Runtime

log = logging.getLogger("mspmode.learning")
STATE_NAME = "learning"  # the unscoped state's key in the store
# What a stored state may be made of, besides datetime, UUID, set and frozenset.
STATE_MODULES = ("mspmode.engine.", "mspmode.services.learning.state")
_SEQUENCE_SQL = "SELECT sequence FROM audit_chain_head WHERE id = 1"


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


def lock_for(rt: Runtime) -> threading.RLock:
    """The lock every use of ``rt``'s states holds: the engine's memory is not thread-safe."""
    return rt.learning.lock


def use_store(rt: Runtime, use: bool = True) -> None:
    """Load the unscoped state of ``rt`` from the store on disk and save it back after each
    recording (the CLI: one process per command); ``use=False`` stops it (a process that
    loaded it and saves it itself, less often than after every recording)."""
    rt.learning.persist = use


def current(rt: Runtime, session: Session, scope: frozenset[uuid.UUID] | None = None) -> LearningState:
    """The state for ``scope``, built or loaded on first use and caught up on every use.
    The caller holds :func:`lock_for`."""
    states = rt.learning.states
    st = states.get(scope)
    if st is None:
        if scope is None and rt.learning.persist:
            st = load_state(rt, session)
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
    rt.learning.states[st.scope] = st


def invalidate(rt: Runtime) -> None:
    """Forget every state of ``rt`` (after a failed write): the next use rebuilds."""
    rt.learning.states.clear()


def cached(rt: Runtime, scope: frozenset[uuid.UUID] | None = None) -> LearningState | None:
    return rt.learning.states.get(scope)


# --------------------------------------------------------------------------------------------
# The one store on disk


def store_path(rt: Runtime) -> Path:
    """The store file of ``rt``'s database (its name never holds a password)."""
    label = hook_config.database_label(rt.settings.database_url, rt.settings.home)
    return Path(index.index_path(rt.settings.home, label))


def freshness(rt: Runtime) -> str:
    """The database's :func:`index.freshness` now."""
    raw = rt.db.reader.raw_connection()
    try:
        return index.freshness(raw)
    finally:
        raw.close()


def seal(rt: Runtime, code: str, fresh: str, body: bytes) -> str:
    """The HMAC a stored state carries: over the store's format, the code that wrote it, its
    name, the freshness it was read at and the pickle."""
    key = hmac.new(rt.audit_signer.key, b"msp learning store", hashlib.sha256).digest()
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (index.FORMAT.encode(), code.encode(), STATE_NAME.encode(), fresh.encode()):
        mac.update(len(part).to_bytes(8, "big") + part)
    mac.update(body)
    return mac.hexdigest()


def save_state(rt: Runtime) -> Path | None:
    """Write the unscoped state of ``rt`` into the store if it is kept there and changed since
    it was loaded or saved."""
    with lock_for(rt):
        st = cached(rt)
        if st is None or not rt.learning.persist or not st.changed:
            return None
        with rt.db.read() as session:
            catch_up(session, st)
            fresh = index.freshness(session.connection().connection)
        if _read_count(fresh) != len(st.row_ids):
            # Another writer committed between the catch-up and the count: the freshness
            # would not describe this state. The next save (or the next start's load) does.
            return None
        body = pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL)
        code = index.code_stamp()
        path = store_path(rt)
        index.write_state(path, STATE_NAME, fresh, seal(rt, code, fresh, body), body)
        st.changed = False
        return path


def forget_state(rt: Runtime) -> None:
    """Remove the stored state (what it remembers was deleted): the next start rebuilds."""
    index.delete_state(store_path(rt), STATE_NAME)


def _read_count(fresh: str) -> int | None:
    """How many commands a :func:`index.freshness` says were read."""
    try:
        return int(json.loads(fresh)[1])
    except (ValueError, TypeError, IndexError):
        return None


def _unpickle(body: bytes) -> Any:
    """Unpickle a stored state (engine and state classes only) with the cyclic garbage
    collector paused: a state is ~180k objects at a 100k history, and every few hundred of
    them made would start a collection that walks all those made so far (it halves the load;
    nothing loaded is garbage)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return index.load_blob(body, STATE_MODULES)
    finally:
        if was_enabled:
            gc.enable()


def load_state(rt: Runtime, session: Session) -> LearningState | None:
    """The stored state if it is intact, of this code and of this database (as it was, or
    with newer commands since), else None."""
    stored = index.read_state(store_path(rt), STATE_NAME)
    if stored is None:
        return None
    code, fresh, mac, body = stored
    if code != index.code_stamp():
        return None
    if not hmac.compare_digest(mac, seal(rt, code, fresh, body)):
        return None  # not written with this installation's key: never unpickled
    if index.freshness_of(fresh, session.connection().connection) == index.OTHER:
        return None
    try:
        st = _unpickle(body)
    except Exception as exc:
        log.warning("stored learning state unreadable: %s", type(exc).__name__)
        return None
    if not isinstance(st, LearningState) or st.scope is not None or len(st.row_ids) != _read_count(fresh):
        return None
    st.changed = False
    return st
