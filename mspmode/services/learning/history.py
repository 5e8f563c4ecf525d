"""Adding to the history: commands recorded one by one or in a batch (the API), and JSONL
history files imported (``msp import``). Learning is done when these return: the patterns,
fixes and drafts are in the database and in the process's state.

The import format is one JSON object a line, ``{"kind": …}`` (``shared/scenarios/README.md``):

    client   {"name"}
    host     {"client", "hostname", traits…}: the typed traits go to their columns
             (``ip_address``, ``aliases``, ``os``, ``os_version``, ``shell_type``, …), any other
             key to ``traits``; a host already known (same client and hostname, or one
             auto-created from a command) is updated, traits merged
    command  {"host", "command", "exit_code", "output", "at", "session"}: ``command`` and
             ``exit_code`` (null when the outcome was not seen) are required; no host is the
             local machine; no ``at`` is now
    check    counted and skipped: checks are questions, not history

Other kinds are counted and skipped. A bad line (not JSON, not an object, a field missing or
of the wrong type, longer than ``reader.MAX_LINE_BYTES``) is reported with its number and
skipped; everything else is imported. The whole file is one transaction with one audit row
(``{"count", "source"}``) standing for all it wrote: an import that fails half-way leaves
nothing behind. The lines are parsed, checked and redacted by ``reader`` — for a large file in
a second process, while this one learns.

Importing again adds nothing
    A command line's identity is ``import_key``: a hash of its host (as written), session
    label, time (``at``), command (as stored: redacted and cut) and exit code — and of which
    repeat of those it is in its file, so that two identical lines are two commands, and the
    same two lines imported again are none. The key is stored with the row
    (``commands_run.import_key``, a unique index). A line whose key is already stored is
    counted (``already_imported``) and skipped before the engine sees it: nothing is learned
    from it twice (patterns' counts, fixes, drafts). Clients and hosts are matched by name and
    updated, sessions by label, so they are not duplicated either. The output is not part of
    the identity: the same run exported twice may carry a differently cut output. A line
    without ``at`` is identified by its place among its identical lines (its time is the
    import's): a file imported again is recognised, but the same undated command in two
    different files is imported from each. Commands imported before this key existed have
    none, and a file they came from is imported once more.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from mspmode import engine
from mspmode.db import search
from mspmode.engine.memory import host_key, host_name
from mspmode.engine.transfer import suggest_fixes
from mspmode.errors import PermissionDeniedError, ValidationError
from mspmode.models.core import CLIENT_TYPES, Client
from mspmode.models.infrastructure import ASSET_TYPES, INFRASTRUCTURE_STATUSES, Infrastructure
from mspmode.models.work import CommandRun
from mspmode.services import recovery  # issue 5/7: explanations and attempts of API batches
from mspmode.services.actor import Actor
from mspmode.services.learning import cache, reader, state, text
from mspmode.services.learning.command import CommandIn, PreparedCommand
from mspmode.services.learning.reader import BadLineError
from mspmode.services.learning.recorder import Recorded, Recorder
from mspmode.services.learning.state import ClientRef, HostRef, LearningState, NewHost
from mspmode.services.runtime import Runtime

MAX_BATCH = 1_000  # commands in one API batch
# A report keeps this many bad lines (and kinds) by name and counts the rest: a file of
# millions of bad lines must not make a report of millions of entries.
BAD_LINES_KEPT = 1_000
UNKNOWN_KINDS_KEPT = 100
BYTES_PER_LINE = 500  # a command line of a history file, for guessing how many a file holds
# From this many commands an import reads every labelled session at once; a smaller one looks
# up the labels it meets (the writer is held for the file's work, not the history's).
PRELOAD_SESSIONS_FROM = 5_000

# Typed columns of a host line, with their lengths; lists; vocabularies (a value outside one
# is kept as a trait rather than refused).
HOST_STRINGS = {
    "ip_address": 45,
    "fqdn": 255,
    "mac_address": 17,
    "role": 255,
    "os": 100,
    "os_version": 100,
    "shell_type": 50,
    "powershell_version": 20,
    "init_system": 50,
    "package_manager": 50,
}
HOST_TEXTS = ("environmental_notes", "notes")
HOST_LISTS = ("aliases", "limitations")
HOST_VOCABULARIES = {"asset_type": ASSET_TYPES, "status": INFRASTRUCTURE_STATUSES}
_NOT_TRAITS = frozenset({"kind", "client", "hostname", "name"})
_HOST_NAMES = frozenset({"ip_address", "fqdn"})  # stored as host_name makes them, like hostname


@dataclass
class ImportReport:
    """What an import did, line by line kind."""

    source: str
    lines: int = 0
    clients: int = 0
    clients_created: int = 0
    hosts: int = 0
    hosts_created: int = 0
    commands: int = 0
    failures: int = 0
    patterns_new: int = 0
    patterns_updated: int = 0
    fixes: int = 0
    checks_skipped: int = 0
    already_imported: int = 0  # command lines skipped: their import_key was stored before
    unknown_kinds: dict[str, int] = field(default_factory=dict)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # the first BAD_LINES_KEPT
    bad_line_count: int = 0
    seconds: float = 0.0

    def bad(self, number: int, error: str) -> None:
        self.bad_line_count += 1
        if len(self.bad_lines) < BAD_LINES_KEPT:
            self.bad_lines.append((number, error))

    def unknown(self, kind: str) -> None:
        name = kind[:40]
        if name not in self.unknown_kinds and len(self.unknown_kinds) >= UNKNOWN_KINDS_KEPT:
            name = "(other kinds)"
        self.unknown_kinds[name] = self.unknown_kinds.get(name, 0) + 1

    @property
    def per_second(self) -> float:
        return self.commands / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "lines": self.lines,
            "clients": self.clients,
            "clients_created": self.clients_created,
            "hosts": self.hosts,
            "hosts_created": self.hosts_created,
            "commands": self.commands,
            "failures": self.failures,
            "patterns_new": self.patterns_new,
            "patterns_updated": self.patterns_updated,
            "fixes_learned": self.fixes,
            "checks_skipped": self.checks_skipped,
            "already_imported": self.already_imported,
            "unknown_kinds": dict(sorted(self.unknown_kinds.items())),
            "bad_lines": [{"line": n, "error": e} for n, e in self.bad_lines],
            "bad_line_count": self.bad_line_count,
            "seconds": round(self.seconds, 3),
            "commands_per_second": round(self.per_second, 1),
        }


# --------------------------------------------------------------------------------------------
# The API: one command or a batch


def _require_writer(actor: Actor) -> None:
    if actor.must_change_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")
    if not actor.has_role("technician"):
        raise PermissionDeniedError(f"role {actor.role} may not record commands (needs technician)")


def record_commands(
    rt: Runtime, actor: Actor, items: Sequence[CommandIn], *, source: str = "api"
) -> list[Recorded]:
    """Record ``items`` in order, in one transaction with one audit row; learning included."""
    _require_writer(actor)
    if not items:
        raise ValidationError("no commands to record")
    if len(items) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} commands in one batch, got {len(items)}")
    with cache.lock_for(rt):
        recorder: Recorder | None = None
        learning = False
        try:
            cache.warm(rt)  # the history's replay, before the writer is taken
            with rt.db.write() as s:
                state.chain_sequence(s, lock=True)
                st = cache.current(rt, s)  # only what was written since the warm-up
                recorder = Recorder(rt, actor, s, st, source=source)
                for item in items:
                    recorder.validate(item)
                learning = True
                results = [recorder.add(item) for item in items]
                entity = results[0].row["id"] if len(results) == 1 else None
                recorder.finish(entity, {"count": len(results), "source": source})
                # Issue 5/7: explain this batch's failures and write the attempts it completes, in bulk
                # (imports are explained lazily by recovery.catch_up: see services/recovery.py).
                recovery.after_batch(rt, s, results)
        except BaseException:
            if recorder is not None:
                recorder.abandon()
            if learning:
                cache.invalidate(rt)  # it learned what was not stored
            raise
        recorder.committed()
        cache.save_state(rt)
        return results


def recovery_hints(rt: Runtime, actor: Actor, recorded: Sequence[Recorded]) -> list[dict[str, Any] | None]:
    """For each recorded failure, what to do next: retry a transient failure, or what worked
    instead — from what the actor may see (a scoped actor's own clients only)."""
    hints: list[dict[str, Any] | None] = [None] * len(recorded)
    failed = [i for i, r in enumerate(recorded) if r.learned.record.failure_class]
    if not failed:
        return hints
    with cache.lock_for(rt), rt.db.read() as s:
        st = cache.current(rt, s, actor.client_scope)
        for i in failed:
            r = recorded[i]
            key = st.by_id.get(r.given_id) if r.given_id is not None else None
            given = st.memory.hosts[key] if key is not None else None
            result = engine.check(st.memory, given, r.row["command_text"], r.scope)
            # The fixes learned for this pattern and for the same failure with other words,
            # transplanted onto this command.
            transferred = suggest_fixes(st.memory, r.learned)
            hints[i] = {
                "retry": r.learned.record.is_transient,
                "verdict": result.verdict,
                "reason": result.reason,
                "suggestions": list(dict.fromkeys([*result.suggestions, *transferred]))[:5],
            }
    return hints


# --------------------------------------------------------------------------------------------
# Import


def import_file(
    rt: Runtime,
    actor: Actor,
    path: Path,
    *,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
) -> ImportReport:
    """Import a JSONL history file (see the module docstring); ``progress`` gets bytes read.
    ``parallel``: read the file in a second process (``reader``); None decides by its size."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        return _import(
            rt,
            actor,
            reader.bounded_lines(handle),
            source=path.name,
            progress=progress,
            expected_commands=size // BYTES_PER_LINE,
            path=path,
            fork=size >= reader.PARALLEL_FROM if parallel is None else parallel,
        )


def import_lines(
    rt: Runtime,
    actor: Actor,
    lines: Iterable[bytes | str | reader.LongLine],
    *,
    source: str,
    progress: Callable[[int], None] | None = None,
    expected_commands: int = 0,
) -> ImportReport:
    """Import history lines; ``expected_commands`` (a guess is fine) lets a large import defer
    the commands' indexes to its end (``search.bulk_indexing``)."""
    return _import(rt, actor, lines, source=source, progress=progress, expected_commands=expected_commands)


def _import(
    rt: Runtime,
    actor: Actor,
    lines: Iterable[bytes | str | reader.LongLine],
    *,
    source: str,
    progress: Callable[[int], None] | None,
    expected_commands: int,
    path: Path | None = None,
    fork: bool = False,
) -> ImportReport:
    _require_writer(actor)
    report = ImportReport(source=source)
    started = time.perf_counter()
    with cache.lock_for(rt):
        recorder: Recorder | None = None
        # The engine's memory is millions of small objects that live as long as the process:
        # the cyclic collector would walk them again and again while an import adds more.
        collecting = gc.isenabled()
        gc.disable()
        try:
            cache.warm(rt)  # the history's replay, before the writer is taken
            with rt.db.write() as s:
                state.chain_sequence(s, lock=True)
                st = cache.current(rt, s)  # only what was written since the warm-up
                # A reading process takes the other core: the inserts then run on this thread
                # (a second thread would only contend for the interpreter's lock).
                forking = fork and path is not None and reader.can_fork()
                recorder = Recorder(
                    rt,
                    actor,
                    s,
                    st,
                    source=source,
                    bulk_mode=True,
                    session_status="completed",
                    insert_thread=not forking,
                    preload_sessions=expected_commands >= PRELOAD_SESSIONS_FROM,
                )
                importer = _Importer(rt, s, st, recorder, report)
                with (
                    search.bulk_indexing(s, "commands_run", expected_rows=expected_commands),
                    reader.chunks(recorder.capture, lines, path, fork=forking, memory=st.memory) as chunks,
                ):
                    for done, items in chunks:
                        importer.chunk(items)
                        if progress is not None:
                            progress(done)
                    recorder.finish(None, {"count": recorder.count, "source": source})
        except BaseException:
            if recorder is not None:
                recorder.abandon()
            cache.invalidate(rt)
            raise
        finally:
            if collecting:
                gc.enable()
        recorder.committed()
        report.commands = recorder.count
        report.failures = recorder.failures
        report.patterns_new = recorder.new_patterns
        report.patterns_updated = max(0, recorder.patterns_written - recorder.new_patterns)
        report.fixes = recorder.fixes
        cache.save_state(rt)
    report.seconds = time.perf_counter() - started
    return report


def import_key(line: PreparedCommand, repeat: int = 1) -> str:
    """The identity of a command line of an import (see the module docstring): ``repeat`` is
    which of the identical lines of its file this one is, from 1."""
    command, exit_code, _output, label, at, session, _reading = line
    fields = [label, session, at.isoformat() if at is not None else None, exit_code, command]
    digest = hashlib.blake2b(orjson.dumps(fields), digest_size=16)
    if repeat > 1:
        digest.update(repeat.to_bytes(8, "big"))
    return digest.hexdigest()


class _Importer:
    def __init__(
        self, rt: Runtime, session: Session, st: LearningState, recorder: Recorder, report: ImportReport
    ) -> None:
        self.rt, self.s, self.st, self.rec, self.report = rt, session, st, recorder, report
        # How often each line (by a prefix of its key) came so far: its repeat number.
        self.seen: dict[int, int] = {}
        # Whether any import key is stored at all: a first import asks nothing more. Nothing
        # else can store one meanwhile: every import holds the chain's lock (and SQLite's).
        self.keys_stored = (
            session.execute(select(CommandRun.id).where(CommandRun.import_key.is_not(None)).limit(1)).first()
            is not None
        )

    def chunk(self, items: list[reader.Prepared]) -> None:
        """Import a chunk of prepared lines, skipping the command lines imported before."""
        keys: dict[int, str] = {}
        for i, (_number, kind, payload) in enumerate(items):
            if kind == "command":
                first = import_key(payload)
                slot = int(first[:16], 16)
                repeat = self.seen.get(slot, 0) + 1
                self.seen[slot] = repeat
                keys[i] = first if repeat == 1 else import_key(payload, repeat)
        stored = self.stored_keys(list(keys.values())) if keys and self.keys_stored else set()
        for i, item in enumerate(items):
            key = keys.get(i)
            if key is not None and key in stored:
                self.report.lines += 1
                self.report.already_imported += 1
                continue
            self.line(item, key)

    def stored_keys(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` are stored: read on a connection of its own, so that the insert
        in flight on the import's (``recorder``) need not be waited for; it sees every key
        stored before this import, and this import's own are never asked for."""
        with self.rt.db.read() as r:
            return set(r.scalars(select(CommandRun.import_key).where(CommandRun.import_key.in_(keys))))

    def line(self, item: reader.Prepared, key: str | None = None) -> None:
        number, kind, payload = item
        self.report.lines += 1
        try:
            if kind == "bad":
                raise BadLineError(payload)
            if kind == "command":
                self.rec.add_prepared(payload, key)
                return
            payload = text.prepare_event(self.rec.capture, payload)
            kind = payload["kind"]
            if kind == "host":
                self.host(payload)
            elif kind == "client":
                self.client(payload)
            elif kind == "check":
                self.report.checks_skipped += 1
            else:
                self.report.unknown(kind)
        except BadLineError as exc:
            self.report.bad(number, str(exc))

    # ---- clients ----------------------------------------------------------------------------

    def client(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadLineError("lacks the field 'name'")
        client_type = event.get("client_type")
        if client_type is not None and client_type not in CLIENT_TYPES:
            raise BadLineError(f"client_type must be one of {', '.join(CLIENT_TYPES)}")
        self.report.clients += 1
        self.client_named(name, client_type)

    def client_named(self, name: str, client_type: str | None = None) -> ClientRef:
        clean = text.prepare_label(name, 255)
        if not clean:
            raise BadLineError("the client name is empty")
        found = self.st.client_by_name(clean)
        if found is not None:
            return found
        self.rec.db()
        row = Client(id=uuid.uuid4(), name=clean, client_type=client_type or "msp_client")
        self.s.add(row)
        self.s.flush()
        ref = ClientRef(row.id, row.name, row.client_type)
        self.st.clients[row.id] = ref
        self.report.clients_created += 1
        return ref

    # ---- hosts ------------------------------------------------------------------------------

    def host(self, event: dict[str, Any]) -> None:
        hostname = event.get("hostname", event.get("name"))
        if not isinstance(hostname, str) or not hostname.strip():
            raise BadLineError("lacks the field 'hostname'")
        hostname = host_name(text.prepare_label(hostname, 1000))
        if not hostname:
            raise BadLineError("the hostname is empty once cleaned")
        if len(hostname) > 255:
            raise BadLineError("hostname is longer than 255 characters")
        values, traits = _host_values(event)
        client_name = event.get("client")
        if client_name is not None and not isinstance(client_name, str):
            raise BadLineError("client must be a client's name")
        client = self.client_named(client_name) if client_name else None
        self.report.hosts += 1
        row = self._existing_host(hostname, client.id if client else None)
        if row is None:
            row = NewHost(id=next(self.rec.ids), hostname=hostname, client_id=client.id if client else None)
            self.rec.new_hosts[row.id] = row
            self.report.hosts_created += 1
        elif row.client_id is None and client is not None:
            row.client_id = client.id  # an auto-created host now described by its client's list
        for column, value in values.items():
            if column == "aliases":
                value = list(dict.fromkeys([*(row.aliases or []), *value]))
            setattr(row, column, value)
        if traits:
            row.traits = {**(row.traits or {}), **traits}
        row.is_auto_created = False
        if isinstance(row, Infrastructure):
            self.s.flush()
        self.st.register_host(row, client.name if client else None)

    def _existing_host(self, hostname: str, client_id: uuid.UUID | None) -> Infrastructure | NewHost | None:
        """The host this line describes: the same client's host of that name, or one first met
        in a command (auto-created, no client yet)."""
        low = host_key(hostname)
        rows: list[Infrastructure | NewHost] = []
        for ref in self.st.candidates(hostname):
            pending = self.rec.new_hosts.get(ref.id)
            found = pending if pending is not None else self.rec.db().get(Infrastructure, ref.id)
            if found is not None and host_key(found.hostname) == low:
                rows.append(found)
        for r in rows:
            if r.client_id == client_id:
                return r
        for r in rows:
            if r.client_id is None and r.is_auto_created:
                return r
        return None


def _host_values(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    for key, value in event.items():
        if key in _NOT_TRAITS:
            continue
        if key in HOST_STRINGS:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise BadLineError(f"{key} must be text")
            clean = text.prepare_label(str(value), 10_000)
            if key in _HOST_NAMES:
                clean = host_name(clean) or None
            if clean and len(clean) > HOST_STRINGS[key]:
                raise BadLineError(f"{key} is longer than {HOST_STRINGS[key]} characters")
            values[key] = clean
        elif key in HOST_LISTS:
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise BadLineError(f"{key} must be a list of strings")
            items = [text.prepare_label(v, 255) for v in value if v.strip()]
            values[key] = [host_name(v) for v in items if v] if key == "aliases" else items
        elif key in HOST_TEXTS:
            if value is not None and not isinstance(value, str):
                raise BadLineError(f"{key} must be text")
            values[key] = text.prepare_label(value, 100_000) if value else None
        elif key in HOST_VOCABULARIES and isinstance(value, str) and value in HOST_VOCABULARIES[key]:
            values[key] = value
        else:
            traits[str(key)[:100]] = value  # kept: generalising may need it one day
    return values, traits


__all__ = [
    "MAX_BATCH",
    "CommandIn",
    "HostRef",
    "ImportReport",
    "Recorded",
    "import_file",
    "import_lines",
    "record_commands",
    "recovery_hints",
]
