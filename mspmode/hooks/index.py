"""The one store of what was learned: an SQLite file per database, read by key, so a new process
(a hook, the local service starting, the CLI) answers without replaying the history.

Why a file of its own
    The database holds the history; the engine's memory (patterns with their per-host
    evidence, fixes, trait links; the last run of every command on every host) is rebuilt by
    replaying it, which a hook cannot afford and a starting service should not have to.
    ``MSP_HOME/cache/hook-index-<hash>.sqlite`` holds it in two forms, under one format
    (``FORMAT``), one code version (:func:`code_stamp`) and one freshness check
    (:func:`freshness`, :func:`freshness_of`):

    - the pre-check index: that memory split by key — hosts, spellings, patterns, culprit
      keys, exact commands — written by the service (``services/hooks.py``) from the same
      ``LearningState`` ``msp check`` uses, and read by a PreToolUse hook when the service is
      down or starting (the documented fallback: a known failure is still stopped);
    - the warm-start state (table ``state``, keyed by name): the service's and the CLI's whole
      ``LearningState``, pickled, with the freshness it was read at and an HMAC under a key only
      the full stack holds (``services/learning/cache.py`` writes and checks it; a hook never
      reads it).

    Deleting the file is always safe: the next start or hook rebuilds it.

Fresh or not
    :func:`freshness` is the database's identity (its first audit row) and how far it has
    been read: the number of commands and hosts and their latest stamps (a few indexed
    reads). ``meta.freshness`` is it when the index was written, ``state.freshness`` when the
    state was. :func:`freshness_of` compares one with the database: *current*, *behind* (the
    same database with more rows after what was read: a state catches up) or *other* (another
    database, or rows gone or added before the mark: rebuilt). Every PostToolUse the service
    handles brings the index up to date, and so does its start; a PreToolUse hook without the
    service answers from the index only when it is current with an SQLite database it can read.
    ``meta.code`` stamps the engine (and the state's shape): another version means a rebuild
    of both.

The fast path
    Most commands an agent runs are not known failures, and loading the engine (≈ 12 ms) and
    compiling the rules a check uses cost more than the rest of the hook. ``triggers`` holds, for every
    culprit key with a pattern that can block or warn and every exact command that failed, a
    word any command carrying that key must contain (the longest ``[a-z0-9_]`` run of its
    program, option owner or syntax word); ``literals`` holds the operators, matched as
    substrings. A command that contains none of them is allowed without the engine; one that
    does goes to ``engine.check`` over a :class:`Memory` whose dictionaries load rows on first
    use. The triggers are a superset by construction: words are taken from the command with
    quotes and escapes both removed and replaced by spaces, lower-cased.

Blobs are pickles, read with an unpickler that accepts only classes of ``mspmode.engine`` (and
of the state, for the state) and ``datetime``: a tampered index can make a wrong verdict, never
run code; a tampered state is not even unpickled (its HMAC).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import zlib

TYPE_CHECKING = False  # typing costs a hook 5 ms of imports, pathlib 5: paths are strings here
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    StrPath = str | os.PathLike[str]

FORMAT = "msp-learning-store 3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hosts (key TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS lookup (spelling TEXT PRIMARY KEY, key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shared (spelling TEXT PRIMARY KEY, keys TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS culprits (key TEXT PRIMARY KEY, ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patterns (id TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS exact (host TEXT NOT NULL, norm TEXT NOT NULL, idx INTEGER NOT NULL,
                                  blob BLOB NOT NULL, PRIMARY KEY (host, norm));
CREATE TABLE IF NOT EXISTS host_patterns (host TEXT NOT NULL, pattern_id TEXT NOT NULL,
                                          PRIMARY KEY (host, pattern_id));
CREATE TABLE IF NOT EXISTS triggers (word TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS literals (text TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, freshness TEXT NOT NULL, mac TEXT NOT NULL,
                                  blob BLOB NOT NULL);
"""
_WORD = re.compile(r"[a-z0-9_]+")
_ESCAPES = re.compile(r"\\\r?\n|[\"'`^\\]")
_SQL_CHUNK = 500
_ALLOWED_MODULES = ("mspmode.engine.",)
# ``str``: text the redactor marked (``vault.redact.Redacted``) pickles as a call of ``str``.
_ALLOWED = {("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta"),
            ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "str"),
            ("uuid", "UUID")}  # fmt: skip


def index_path(home: StrPath, label: str) -> str:
    return os.path.join(home, "cache", f"hook-index-{zlib.crc32(label.encode()):08x}.sqlite")


# What the store's blobs are made of besides the engine: the warm-start state's shape.
_STATE_SOURCE = ("services", "learning", "state.py")


def code_stamp() -> str:
    """The code that wrote the store, as it is now: every engine source file (what it learns,
    the classes it pickles, the keys it stores, the rules that pick its triggers) and the
    state's module, by size and mtime: cheap enough for a hook. Another version of any of them
    is another store; an upgrade rewrites it at the service's next start."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    engine = os.path.join(package, "engine")
    paths = [os.path.join(engine, n) for n in sorted(os.listdir(engine)) if n.endswith(".py")]
    paths.append(os.path.join(package, *_STATE_SOURCE))
    parts = [FORMAT]
    for path in paths:
        st = os.stat(path)
        parts.append(f"{os.path.basename(path)}:{st.st_size}:{st.st_mtime_ns}")
    return f"{zlib.crc32(';'.join(parts).encode()):08x}"


# --------------------------------------------------------------------------------------------
# Freshness: what the database looks like now


_FRESHNESS_SQL = (
    "SELECT (SELECT id FROM audit_log WHERE sequence = 1)",  # identity: written by msp init
    "SELECT count(*) FROM commands_run",
    "SELECT max(created_at) FROM commands_run",
    "SELECT count(*), max(updated_at) FROM infrastructure",
)
_READ_UP_TO_SQL = "SELECT count(*) FROM commands_run WHERE created_at <= {mark}"
CURRENT, BEHIND, OTHER = "current", "behind", "other"


def freshness(conn: Any) -> str:
    """The database's identity and learning-relevant state, from a DB-API connection of any
    backend (compared only with values read from the same database by the same driver)."""
    values: list[Any] = []
    cur = conn.cursor()
    try:
        for sql in _FRESHNESS_SQL:
            cur.execute(sql)
            values.extend(cur.fetchone() or ())
    finally:
        cur.close()
    return json.dumps([None if v is None else str(v) for v in values])


def freshness_of(stored: str | None, conn: Any, now: str | None = None) -> str:
    """How what was read at ``stored`` (a :func:`freshness`) stands to the database at ``conn``
    (whose freshness ``now`` is, when the caller has it): ``CURRENT``; ``BEHIND``, the same
    database with only newer commands since (hosts are read again by a catch-up); or
    ``OTHER``: another database, commands removed, or stamped at or before the newest one read
    (a catch-up would miss them)."""
    if now is None:
        now = freshness(conn)
    if stored is None:
        return OTHER
    if stored == now:
        return CURRENT
    try:
        then, current = json.loads(stored), json.loads(now)
        identity, count, newest = then[0], int(then[1]), then[2]
    except (ValueError, TypeError, IndexError):
        return OTHER
    if identity != current[0]:
        return OTHER
    if newest is None:
        return BEHIND if count == 0 else OTHER
    # The driver's own parameter style: sqlite3 takes ?, psycopg and PyMySQL take %s.
    driver = getattr(conn, "driver_connection", conn)
    mark = "?" if isinstance(driver, sqlite3.Connection) else "%s"
    cur = conn.cursor()
    try:
        cur.execute(_READ_UP_TO_SQL.format(mark=mark), (newest,))
        (up_to,) = cur.fetchone()
    finally:
        cur.close()
    return BEHIND if int(up_to) == count else OTHER


def file_uri(path: StrPath) -> str:
    """``Path(path).absolute().as_uri()`` without pathlib: every character but unreserved ones
    percent-encoded as UTF-8 (``?``, ``#`` and ``%`` in a file name included)."""
    text = os.path.abspath(path).replace(os.sep, "/")
    safe = "/:-._~"
    quoted = "".join(
        c if (c.isascii() and c.isalnum()) or c in safe else "".join(f"%{b:02X}" for b in c.encode())
        for c in text
    )
    return "file://" + ("" if quoted.startswith("/") else "/") + quoted


def open_readonly(path: StrPath) -> sqlite3.Connection:
    conn = sqlite3.connect(file_uri(path) + "?mode=ro", uri=True, timeout=2.0)
    conn.execute("PRAGMA query_only = 1")
    return conn


# --------------------------------------------------------------------------------------------
# Triggers


def command_words(text: str) -> set[str]:
    low = text.lower()
    return set(_WORD.findall(_ESCAPES.sub("", low))) | set(_WORD.findall(_ESCAPES.sub(" ", low)))


def _longest_word(text: str) -> str | None:
    words = _WORD.findall(text.lower())
    return max(words, key=len) if words else None


def key_trigger(key: str) -> tuple[str, str]:
    """("word", w) or ("literal", s): what a command with culprit key ``key`` must contain."""
    kind, _, rest = key.partition(":")
    if kind == "op":
        return "literal", rest.lower()
    if kind in ("opt", "sub"):
        # opt:PROGRAM:OPTION and sub:PROGRAM:N:WORD. An option of three letters or more is the
        # word's own text (up to "=" or ":"), a subcommand its word: far more telling than the
        # program. Shorter ones may come out of a cluster (-l from -la): the program it is.
        parts = rest.split(":")
        own = _longest_word(parts[-1] if kind == "sub" else ":".join(parts[1:]).split(":", 1)[0])
        if own is not None and len(own) >= 3:
            return "word", own
        subject = parts[0]
    elif kind == "cmd":
        subject = rest
    elif kind == "syn":
        if rest.startswith("$"):
            return "literal", "${"  # an expansion's shape (``${,,}``), not its text
        subject = rest
    elif kind in ("use", "perm"):
        # use:PROGRAM[@where] and perm:PROGRAM[:VERB][@user][@where]: the program, by its family
        # name (pip for pip3), is part of the command's text
        return "literal", rest.split("@", 1)[0].split(":", 1)[0].lower()
    else:
        return "literal", ""  # an unknown kind of key: every command may carry it
    word = _longest_word(subject)
    return ("word", word) if word else ("literal", subject.lower())


# --------------------------------------------------------------------------------------------
# Writing (called by the full stack with the engine loaded)


def _dump(obj: Any) -> bytes:
    import pickle

    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


class Ops:
    """Statements noted with their rows (``execute``/``executemany`` as on a connection) and
    run on one later: what a writer read from the engine's memory, kept apart from it."""

    def __init__(self) -> None:
        self.ops: list[tuple[str, str, list[Any]]] = []

    def execute(self, sql: str, params: Iterable[Any] = ()) -> None:
        self.ops.append(("one", sql, [tuple(params)]))

    def executemany(self, sql: str, rows: Iterable[Any]) -> None:
        self.ops.append(("many", sql, list(rows)))

    def mirror(self, table: str, key: str, rows: Iterable[tuple[str, Any]]) -> None:
        """Make the two-column ``table`` (keyed by ``key``) hold exactly ``rows``, writing only
        the rows that differ from what it holds when run."""
        self.ops.append(("mirror", f"{table} {key}", list(rows)))

    def run(self, conn: sqlite3.Connection) -> None:
        for kind, sql, rows in self.ops:
            if kind == "many":
                conn.executemany(sql, rows)
            elif kind == "one":
                conn.execute(sql, rows[0])
            else:
                table, key = sql.split()
                have = dict(conn.execute(f"SELECT * FROM {table}"))
                want = dict(rows)
                gone = [(k,) for k in have.keys() - want.keys()]
                conn.executemany(f"DELETE FROM {table} WHERE {key} = ?", gone)
                changed = [(k, v) for k, v in want.items() if have.get(k) != v]
                conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", changed)


class Writer:
    """Writes ``memory`` (an engine ``Memory``) into the index at ``path``."""

    def __init__(self, path: StrPath, memory: Any) -> None:
        from pathlib import Path  # the full stack writes; only the hook's read path avoids it

        self.path, self.memory = Path(path), memory

    def full(self, fresh: str) -> None:
        """Write the whole index into a new file and put it in place atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp)
        try:
            os.chmod(tmp, 0o600)
            conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + _SCHEMA)
            mem = self.memory
            self._hosts(conn)
            self._patterns(conn, list(mem.patterns))
            self._culprits(conn, list(mem.by_culprit))
            self._exact(conn, list(mem.exact.items()))
            self._meta(conn, fresh)
            conn.commit()
            _keep_state(conn, self.path)
        finally:
            conn.close()
        os.replace(tmp, self.path)

    def delta(self, fresh: str, records: Iterable[Any], pattern_ids: Iterable[str]) -> None:
        """Bring an index up to date after ``records`` were learned (and ``pattern_ids``
        changed); writes the whole index when there is none or it is of another engine."""
        ops = self.delta_ops(fresh, records, pattern_ids)
        if ops is None:
            self.full(fresh)
        else:
            self.apply(ops)

    def delta_ops(self, fresh: str, records: Iterable[Any], pattern_ids: Iterable[str]) -> Ops | None:
        """What :meth:`delta` writes, read from the memory now and written by :meth:`apply`
        later: the memory is read under the learning lock, the file is written without it (a
        hook's request does not wait for the disk). None when the index must be written whole."""
        if not self._usable():
            return None
        from mspmode.engine.keys import command_keys
        from mspmode.engine.tokenize import parse_cached

        mem = self.memory
        ids = set(pattern_ids)
        keys: set[str] = set()
        exact: list[tuple[tuple[str, str], int]] = []
        for rec in records:
            if rec.pattern_id:
                ids.add(rec.pattern_id)
            for k in command_keys(parse_cached(rec.effective, rec.dialect)):
                keys.add(k)
                ids.update(mem.by_culprit.get(k, ()))
            slot = (rec.host, rec.normalized)
            if slot in mem.exact:
                exact.append((slot, mem.exact[slot]))
        for pid in ids:
            p = mem.patterns.get(pid)
            if p is not None and p.culprit is not None:
                keys.add(p.culprit.key)
        ops = Ops()
        self._hosts(ops)
        self._patterns(ops, sorted(ids))
        self._culprits(ops, sorted(keys))
        self._exact(ops, exact)
        self._meta(ops, fresh)
        return ops

    def apply(self, ops: Ops) -> None:
        """Write ``ops`` (from :meth:`delta_ops`) in one transaction."""
        conn = sqlite3.connect(self.path, timeout=10.0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            ops.run(conn)
            conn.commit()
        finally:
            conn.close()

    def _usable(self) -> bool:
        if not self.path.exists():
            return False
        try:
            conn = sqlite3.connect(self.path)
            try:
                meta = dict(conn.execute("SELECT name, value FROM meta"))
            finally:
                conn.close()
        except sqlite3.Error:
            return False
        return _is_index(meta)

    def _meta(self, conn: sqlite3.Connection | Ops, fresh: str) -> None:
        values = {"format": FORMAT, "code": code_stamp(), "freshness": fresh, "written_at": str(time.time())}
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def _host_rows(self) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]], list[tuple[str, str]]]:
        mem = self.memory
        return (
            [(k, _dump(h)) for k, h in mem.hosts.items()],
            list(mem.host_lookup.items()),
            [(k, json.dumps(v)) for k, v in mem.shared_spellings.items()],
        )

    def _hosts(self, conn: sqlite3.Connection | Ops) -> None:
        hosts, lookup, shared = self._host_rows()
        if isinstance(conn, Ops):  # a delta: only the hosts that changed are written
            conn.mirror("hosts", "key", hosts)
            conn.mirror("lookup", "spelling", lookup)
            conn.mirror("shared", "spelling", shared)
            return
        conn.execute("DELETE FROM hosts")
        conn.execute("DELETE FROM lookup")
        conn.execute("DELETE FROM shared")
        conn.executemany("INSERT INTO hosts VALUES (?, ?)", hosts)
        conn.executemany("INSERT INTO lookup VALUES (?, ?)", lookup)
        conn.executemany("INSERT INTO shared VALUES (?, ?)", shared)

    def _patterns(self, conn: sqlite3.Connection | Ops, ids: list[str]) -> None:
        mem = self.memory
        rows: list[tuple[str, bytes]] = []
        links: list[tuple[str, str]] = []
        for pid in ids:
            p = mem.patterns.get(pid)
            if p is None:
                conn.execute("DELETE FROM patterns WHERE id = ?", (pid,))
                continue
            rows.append((pid, _dump(p)))
            conn.execute("DELETE FROM host_patterns WHERE pattern_id = ?", (pid,))
            links.extend((host, pid) for host in p.active_hosts())
        # No triggers here: a pattern is reached through its culprit keys (``_culprits``) or,
        # without a culprit, only by an exact repeat (``_exact``).
        conn.executemany("INSERT OR REPLACE INTO patterns VALUES (?, ?)", rows)
        conn.executemany("INSERT OR IGNORE INTO host_patterns VALUES (?, ?)", links)

    def _culprits(self, conn: sqlite3.Connection | Ops, keys: list[str]) -> None:
        from mspmode.engine.precheck import culprit_blocks

        mem = self.memory
        words: set[str] = set()
        literals: set[str] = set()
        rows = []
        for key in keys:
            ids = list(mem.by_culprit.get(key, ()))
            if not ids:
                conn.execute("DELETE FROM culprits WHERE key = ?", (key,))
                continue
            rows.append((key, json.dumps(ids)))
            for pid in ids:
                p = mem.patterns.get(pid)
                if p is not None and culprit_blocks(p):
                    kind, value = key_trigger(key)
                    (words if kind == "word" else literals).add(value)
                    break
        conn.executemany("INSERT OR REPLACE INTO culprits VALUES (?, ?)", rows)
        self._triggers(conn, words, literals)

    def _exact(self, conn: sqlite3.Connection | Ops, items: list[tuple[tuple[str, str], int]]) -> None:
        from mspmode.engine.keys import command_keys
        from mspmode.engine.precheck import exact_blocks
        from mspmode.engine.tokenize import parse_cached

        mem = self.memory
        rows = []
        words: set[str] = set()
        literals: set[str] = set()
        for (host, norm), idx in items:
            rec = mem.commands[idx]
            rows.append((host, norm, idx, _dump(rec)))
            if not exact_blocks(mem, rec):
                continue  # a success or a transient failure only adds a note: allow
            # An exact repeat normalises to the same text: a word the normalised text kept from
            # the command as written is in every command that does. The rarest is wanted; a word
            # with digits, then the longest, is the guess.
            kept = set(_WORD.findall(norm.lower())) & command_words(rec.effective)
            rank = sorted(kept, key=lambda w: (any(c.isdigit() for c in w), len(w), w), reverse=True)
            if rank and len(best := rank[0]) >= 3:
                words.add(best)
                continue
            keys = command_keys(parse_cached(rec.effective, rec.dialect))
            chosen = [k for k in keys if k.startswith("cmd:")] or [k for k in keys if k.startswith("syn:")]
            if not chosen:
                literals.add("")
            for k in chosen[:1]:
                kind, value = key_trigger(k)
                (words if kind == "word" else literals).add(value)
        conn.executemany("INSERT OR REPLACE INTO exact VALUES (?, ?, ?, ?)", rows)
        self._triggers(conn, words, literals)

    @staticmethod
    def _triggers(conn: sqlite3.Connection | Ops, words: set[str], literals: set[str]) -> None:
        conn.executemany("INSERT OR IGNORE INTO triggers VALUES (?)", ((w,) for w in words))
        conn.executemany("INSERT OR IGNORE INTO literals VALUES (?)", ((s,) for s in literals))


def _is_index(meta: dict[str, str]) -> bool:
    """Whether ``meta`` is of a store of this code that holds an index (a store written only
    for the warm-start state has none yet: it must not answer a pre-check)."""
    return meta.get("format") == FORMAT and meta.get("code") == code_stamp() and "freshness" in meta


def _keep_state(conn: sqlite3.Connection, old: Any) -> None:
    """Copy the warm-start state from the store at ``old`` (being replaced) into ``conn``'s,
    when it is of this code: rewriting the index does not cost the next start its state."""
    if not os.path.exists(old):
        return
    try:
        conn.execute("ATTACH DATABASE ? AS old", (os.fspath(old),))
    except sqlite3.Error:
        return  # unreadable: nothing to keep
    try:
        meta = dict(conn.execute("SELECT name, value FROM old.meta"))
        if meta.get("format") == FORMAT and meta.get("code") == code_stamp():
            conn.execute("INSERT OR REPLACE INTO main.state SELECT * FROM old.state")
            conn.commit()
    except sqlite3.Error:
        conn.rollback()
    finally:
        conn.execute("DETACH DATABASE old")


# --------------------------------------------------------------------------------------------
# The warm-start state (the full stack: ``services/learning/cache.py`` seals and checks it)


def read_state(path: StrPath, name: str) -> tuple[str, str, str, bytes] | None:
    """``(code, freshness, mac, blob)`` of the state ``name`` in the store at ``path``; None
    when there is none, or the store is of another format or unreadable. The caller checks
    the code, the MAC and the freshness before it trusts a byte of the blob."""
    if not os.path.exists(path):
        return None
    try:
        conn = open_readonly(path)
        try:
            meta = dict(conn.execute("SELECT name, value FROM meta"))
            row = conn.execute("SELECT freshness, mac, blob FROM state WHERE name = ?", (name,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if row is None or meta.get("format") != FORMAT:
        return None
    return str(meta.get("code", "")), str(row[0]), str(row[1]), bytes(row[2])


def write_state(path: StrPath, name: str, fresh: str, mac: str, blob: bytes) -> None:
    """Put the state ``name`` into the store at ``path``; a store that is missing, unreadable
    or of another code is replaced by a new one holding only it (no index until the service
    writes one)."""
    if os.path.exists(path):
        try:
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                meta = dict(conn.execute("SELECT name, value FROM meta"))
                if meta.get("format") == FORMAT and meta.get("code") == code_stamp():
                    conn.execute("INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?)", (name, fresh, mac, blob))
                    conn.execute("COMMIT")
                    return
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        except sqlite3.Error:
            pass
    from pathlib import Path  # the full stack writes; only the hook's read path avoids it

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        os.chmod(tmp, 0o600)
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + _SCHEMA)
        values = {"format": FORMAT, "code": code_stamp()}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", values.items())
        conn.execute("INSERT INTO state VALUES (?, ?, ?, ?)", (name, fresh, mac, blob))
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, target)


def delete_state(path: StrPath, name: str) -> None:
    """Forget the state ``name`` (the next start rebuilds it from the database)."""
    if not os.path.exists(path):
        return
    try:
        conn = sqlite3.connect(path, timeout=10.0)
        try:
            conn.execute("DELETE FROM state WHERE name = ?", (name,))
            conn.commit()
        finally:
            conn.close()
    except sqlite3.Error:
        os.unlink(path)  # a store that cannot be changed cannot keep a stale state either


# --------------------------------------------------------------------------------------------
# Reading (the hook)


def load_blob(blob: bytes, modules: tuple[str, ...] = _ALLOWED_MODULES) -> Any:
    """Unpickle ``blob`` allowing only classes of ``modules`` (module names, or prefixes ending
    in a dot) and datetime, UUID, set, frozenset, str."""
    import io
    import pickle

    class EngineUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module.startswith(modules) or (module, name) in _ALLOWED:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"{module}.{name} is not an engine class")

    return EngineUnpickler(io.BytesIO(blob)).load()


_ABSENT = object()


class _Lazy(dict):  # type: ignore[type-arg]
    """A dictionary that fetches a missing key once (``fetch`` returns ``_ABSENT`` for none)."""

    def __init__(self, fetch: Callable[[Any], Any]) -> None:
        super().__init__()
        self._fetch = fetch
        self._absent: set[Any] = set()

    def _has(self, key: Any) -> bool:
        if dict.__contains__(self, key):
            return True
        if key in self._absent:
            return False
        value = self._fetch(key)
        if value is _ABSENT:
            self._absent.add(key)
            return False
        dict.__setitem__(self, key, value)
        return True

    def __contains__(self, key: object) -> bool:
        return self._has(key)

    def __missing__(self, key: Any) -> Any:
        if self._has(key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.__getitem__(self, key) if self._has(key) else default


def usable_at(path: str) -> bool:
    """Whether an index of this code can be read at ``path``."""
    if not os.path.exists(path):
        return False
    try:
        reader = Reader(path)
    except Exception:  # a damaged index is as good as none
        return False
    try:
        return reader.usable()
    finally:
        reader.close()


def current_at(path: str, database: str) -> bool:
    """Whether the index at ``path`` has everything the SQLite ``database`` has (its
    :func:`freshness` then): one written before an import or a record it has not seen would
    let those failures through. Unreadable is not current."""
    try:
        reader = Reader(path)
    except Exception:
        return False
    try:
        conn = open_readonly(database)
        try:
            return freshness_of(reader.meta.get("freshness"), conn) == CURRENT
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    finally:
        reader.close()


class Reader:
    """The index of one database, opened read-only."""

    def __init__(self, path: StrPath) -> None:
        self.conn = open_readonly(path)
        self.meta = dict(self.conn.execute("SELECT name, value FROM meta"))

    def close(self) -> None:
        self.conn.close()

    def usable(self) -> bool:
        return _is_index(self.meta)

    def may_match(self, command: str) -> bool:
        """False only when no recorded failure can match ``command`` (see the module doc)."""
        low = command.lower()
        variants = (low, _ESCAPES.sub("", low), _ESCAPES.sub(" ", low))
        for (text,) in self.conn.execute("SELECT text FROM literals"):
            if any(text in v for v in variants):
                return True
        words = sorted(command_words(command))
        for i in range(0, len(words), _SQL_CHUNK):
            chunk = words[i : i + _SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            if self.conn.execute(f"SELECT 1 FROM triggers WHERE word IN ({marks}) LIMIT 1", chunk).fetchone():
                return True
        return False

    def _one(self, sql: str, key: Any) -> Any:
        row = self.conn.execute(sql, key if isinstance(key, tuple) else (key,)).fetchone()
        return _ABSENT if row is None else row

    def memory(self) -> Any:
        """An engine ``Memory`` whose indexes load from the file on first use."""
        from mspmode.engine.memory import Memory

        mem = Memory()
        commands: dict[int, Any] = {}

        def host(key: Any) -> Any:
            row = self._one("SELECT blob FROM hosts WHERE key = ?", key)
            return row if row is _ABSENT else load_blob(row[0])

        def spelling(key: Any) -> Any:
            row = self._one("SELECT key FROM lookup WHERE spelling = ?", key)
            return row if row is _ABSENT else row[0]

        def shared(key: Any) -> Any:
            row = self._one("SELECT keys FROM shared WHERE spelling = ?", key)
            return row if row is _ABSENT else json.loads(row[0])

        def pattern(pid: Any) -> Any:
            row = self._one("SELECT blob FROM patterns WHERE id = ?", pid)
            return row if row is _ABSENT else load_blob(row[0])

        def culprit(key: Any) -> Any:
            row = self._one("SELECT ids FROM culprits WHERE key = ?", key)
            return row if row is _ABSENT else json.loads(row[0])

        def exact(slot: Any) -> Any:
            if not isinstance(slot, tuple) or len(slot) != 2:
                return _ABSENT
            row = self._one("SELECT idx, blob FROM exact WHERE host = ? AND norm = ?", slot)
            if row is _ABSENT:
                return row
            commands[row[0]] = load_blob(row[1])
            return row[0]

        mem.hosts = _Lazy(host)
        mem.host_lookup = _Lazy(spelling)
        mem.shared_spellings = _Lazy(shared)
        mem.patterns = _Lazy(pattern)
        mem.by_culprit = _Lazy(culprit)
        mem.exact = _Lazy(exact)
        mem.commands = commands  # type: ignore[assignment]  # only read at indexes exact returned
        return mem

    def patterns_on(self, host_key: str, limit: int = 20) -> list[Any]:
        """The active patterns failing on a host (for the facts a prompt about it gets)."""
        rows = self.conn.execute(
            "SELECT p.blob FROM host_patterns h JOIN patterns p ON p.id = h.pattern_id "
            "WHERE h.host = ? LIMIT ?",
            (host_key, limit),
        )
        return [load_blob(blob) for (blob,) in rows]

    def host_keys_in(self, text: str) -> list[str]:
        """Keys of the known hosts ``text`` names (by name, alias, IP or FQDN)."""
        words = {w.strip(".,;:!?()[]{}<>\"'`") for w in text.lower().split()}
        words |= {w.rsplit("@", 1)[1] for w in words if "@" in w}
        found: list[str] = []
        ordered = sorted(w for w in words if w)
        for i in range(0, len(ordered), _SQL_CHUNK):
            chunk = ordered[i : i + _SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            for (key,) in self.conn.execute(
                f"SELECT DISTINCT key FROM lookup WHERE spelling IN ({marks})", chunk
            ):
                if key not in found:
                    found.append(key)
        return found
