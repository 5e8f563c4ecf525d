"""Recording commands: resolve the host and the session, clean the text, let the engine learn,
and write the rows — one transaction, the engine's state moving with it.

A :class:`Recorder` lives for one write transaction. It holds the audit chain's lock (taken
first, so learners on other processes and machines queue instead of learning from a history
that misses each other's commands), brings the process's learning state up to date, and then
records commands in order. Rows are written in batches: the hosts, sessions, patterns and
drafts a batch needs first, then its ``commands_run`` rows. In bulk mode (imports) the
``commands_run`` insert of one batch runs on a worker thread while the engine learns from the
next one — SQLite's insert works outside the interpreter's lock, so the two use both cores —
and nothing else touches the connection until it is done; unless another process already
takes the second core (``insert_thread=False``: an import whose file a child process reads),
where the thread would only contend for the lock.

If the transaction fails the state has learned things that were never stored: the caller
throws it away (``cache.invalidate``) and the next use rebuilds it from the database.
"""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mspmode import engine
from mspmode.db import bulk
from mspmode.db.base import utcnow
from mspmode.engine.learn import take_touched
from mspmode.engine.memory import LOCAL, HostScope, host_name
from mspmode.engine.reading import parse_for_host
from mspmode.engine.tokenize import targets
from mspmode.errors import NotFoundError, ValidationError
from mspmode.models.core import Session as WorkSession
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import FailurePattern as PatternRow
from mspmode.models.work import FAILURE_CATEGORIES, CommandRun, WorkItem
from mspmode.services import audit
from mspmode.services.actor import Actor
from mspmode.services.learning import hosts, persist, text
from mspmode.services.learning.command import CommandIn, PreparedCommand, exit_code_value, host_label, utc_at
from mspmode.services.learning.state import ClientRef, HostRef, LearningState, NewHost, next_stamp, remember
from mspmode.services.runtime import Runtime
from mspmode.services.scoping import scope_clause, table_of

BATCH = 2_000
_COMMANDS = table_of(CommandRun)
_HOSTS = table_of(Infrastructure)
_SESSIONS = table_of(WorkSession)
_PATTERNS = table_of(PatternRow)
# The engine's classes map onto the column's vocabulary; usage errors are its syntax errors.
CATEGORY = {c: c for c in FAILURE_CATEGORIES} | {"usage_error": "syntax_error"}


@dataclass
class Recorded:
    """A stored command and what the engine made of it."""

    row: dict[str, Any]
    learned: engine.Learned
    given: str | None  # the name of the host the caller named (None: this machine)
    given_id: uuid.UUID | None = None  # … and its id
    scope: HostScope = field(default_factory=HostScope)  # whose hosts the names in it meant
    new_pattern: bool = False
    fixed: list[str] = field(default_factory=list)


@dataclass
class _SessionSlot:
    id: uuid.UUID
    started: datetime
    ended: datetime
    moved: bool = False
    label: str = field(init=False, default="")  # str(id), as the engine takes it

    def __post_init__(self) -> None:
        self.label = str(self.id)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Recorder:
    def __init__(
        self,
        rt: Runtime,
        actor: Actor,
        session: Session,
        st: LearningState,
        *,
        source: str,
        bulk_mode: bool = False,
        session_status: str = "active",
        insert_thread: bool | None = None,
        preload_sessions: bool = False,
    ) -> None:
        self.rt, self.actor, self.s, self.st = rt, actor, session, st
        self.source = source
        self.session_status = session_status
        self.pipeline = bulk.Pipeline(threaded=bulk_mode if insert_thread is None else insert_thread)
        self.bulk_mode = bulk_mode
        self.pending: list[dict[str, Any]] = []
        self.pending_at: dict[int, dict[str, Any]] = {}  # engine record index -> pending row
        self.resolutions: list[dict[str, Any]] = []
        self.new_hosts: dict[uuid.UUID, NewHost] = {}
        self.sessions: dict[tuple[str, uuid.UUID | None], _SessionSlot] = {}
        self.new_sessions: list[dict[str, Any]] = []
        # Drafts name their pattern: they are written once the batch that stores it is done.
        self.drafts: set[tuple[str, str]] = set()
        self.drafts_ready: set[tuple[str, str]] = set()
        self.cleaned: dict[str, str] = {}  # captured text -> cleaned, for the repeats of one recording
        self.capture = text.Capture(rt)
        self.ids = bulk.time_ordered_ids()
        self.count = 0
        self.failures = 0
        self.new_patterns = 0
        self.patterns_written = 0
        self.fixes = 0
        self.audit_sequence: int | None = None
        # An import of many lines reads every labelled session once (``preload_sessions``);
        # a short recording asks for the few labels it meets: what it reads under the lock
        # stays the size of what it records, not of the history.
        self._known_sessions: (
            dict[tuple[str, uuid.UUID | None], tuple[uuid.UUID, datetime, datetime]] | None
        ) = None
        self._session_clients: dict[uuid.UUID, uuid.UUID | None] = {}
        self._label_clients: dict[str, set[uuid.UUID]] = {}
        self._labels_read = False
        self._scopes: dict[uuid.UUID | None, HostScope] = {}
        self.found_sessions: dict[
            tuple[str, uuid.UUID | None], tuple[uuid.UUID, datetime, datetime] | None
        ] = {}
        if preload_sessions:
            self._preload_sessions()

    # ---- hosts ------------------------------------------------------------------------------

    def visible(self, ref: HostRef) -> bool:
        scope = self.actor.client_scope
        return scope is None or ref.client_id in scope

    def scope_for(self, item: CommandIn) -> HostScope:
        """Whose hosts the names in ``item`` may mean (``hosts``): the actor's clients', its
        session's client's first. ``item.session`` is the cleaned label."""
        client: uuid.UUID | None = None
        if item.session_id is not None:
            if item.session_id not in self._session_clients:
                with self._reader() as r:
                    found = hosts.session_client(r, self.actor, session_id=item.session_id)
                self._session_clients[item.session_id] = found
            client = self._session_clients[item.session_id]
        elif item.session:
            client = self.label_client(item.session)
        scope = self._scopes.get(client)
        if scope is None:
            scope = self._scopes[client] = hosts.host_scope(self.actor.client_scope, client)
        return scope

    def label_client(self, label: str) -> uuid.UUID | None:
        """The only client whose sessions carry ``label`` (stored, or made by this recording)."""
        clients = self._label_clients.get(label)
        if clients is None:
            if self._known_sessions is not None:  # an import: every stored label, read once
                if not self._labels_read:
                    self._labels_read = True
                    scope = self.actor.client_scope
                    for lab, c in self._known_sessions:
                        if c is not None and (scope is None or c in scope):
                            self._label_clients.setdefault(lab, set()).add(c)
                clients = self._label_clients.setdefault(label, set())
            else:
                with self._reader() as r:
                    clients = hosts.session_clients(r, self.actor, label=label)
            self._label_clients[label] = clients
        return next(iter(clients)) if len(clients) == 1 else None

    def owner_for(self, scope: HostScope) -> uuid.UUID | None:
        """The client a host first met in a command belongs to: the scope's (the session's, or
        the actor's only client); none for an actor who sees every client."""
        if scope.client is not None:
            return uuid.UUID(scope.client)
        if self.actor.client_scope is None:
            return None
        raise ValidationError(
            "this host is not known: create it under one of your clients first "
            "(POST /api/infrastructure), name it by infrastructure_id, or record into a session of its client"
        )

    def new_host(
        self, hostname: str, client_id: uuid.UUID | None, shell_type: str | None, key: str | None = None
    ) -> HostRef:
        """A host first met in a command: recorded (``is_auto_created``) rather than dropped."""
        hostname = host_name(hostname)[:255]
        row = NewHost(
            id=next(self.ids),
            hostname=hostname,
            client_id=client_id,
            ip_address=hostname if _is_ip(hostname) and len(hostname) <= 45 else None,
            shell_type=shell_type[:50] if shell_type else None,
            is_auto_created=True,
        )
        return self.add_host(row)

    def add_host(self, row: NewHost) -> HostRef:
        """Register a new host now; its row is written before the commands that use it."""
        self.new_hosts[row.id] = row
        client = self.st.clients.get(row.client_id) if row.client_id else None
        return self.st.register_host(row, client.name if client else None)

    def new_host_key(self, hostname: str, client_id: uuid.UUID | None, key: str) -> HostRef:
        """A host the engine met in a command (ssh root@new-box) under ``key``."""
        hostname = host_name(hostname)[:255]
        row = NewHost(
            id=next(self.ids),
            hostname=hostname,
            client_id=client_id,
            ip_address=hostname if _is_ip(hostname) and len(hostname) <= 45 else None,
            is_auto_created=True,
        )
        self.new_hosts[row.id] = row
        client = self.st.clients.get(client_id) if client_id else None
        return self.st.register_host(row, client.name if client else None, key=key)

    def by_id(self, infrastructure_id: uuid.UUID) -> HostRef:
        key = self.st.by_id.get(infrastructure_id)
        ref = self.st.hosts.get(key) if key else None
        if ref is None or not self.visible(ref):
            raise NotFoundError(f"infrastructure_id: no infrastructure with id {infrastructure_id}")
        return ref

    def resolve(self, item: CommandIn, label: str | None, scope: HostScope) -> HostRef | None:
        """The host the caller named (None: this machine), created if it names none ``scope``
        sees; ``label``: the ``host_label`` of ``item.host``."""
        if item.infrastructure_id is not None:
            return self.by_id(item.infrastructure_id)
        if not label:
            return None
        found = hosts.find(self.st, label, scope)
        if found is not None:
            return found
        bare = label.rsplit("@", 1)[-1].strip("[]") or label
        return self.new_host(bare, self.owner_for(scope), item.shell_type)

    def target_name(self, command: str) -> str | None:
        """The host a command with no host given names itself (ssh user@ip, -ComputerName)."""
        return targets(parse_for_host(self.st.memory, LOCAL, command))[0][0]

    def validate(self, item: CommandIn) -> None:
        """Refuse, before anything is learned, what the actor may not name."""
        for column, value in (("session_id", item.session_id), ("work_item_id", item.work_item_id)):
            if value is None:
                continue
            model: Any = WorkSession if column == "session_id" else WorkItem
            stmt = select(model.id).where(model.id == value)
            if self.actor.client_scope is not None:
                stmt = stmt.where(scope_clause(table_of(model), self.actor.client_scope))
            if self.s.execute(stmt).first() is None:
                raise NotFoundError(f"{column}: no {model.__tablename__} with id {value}")
        scope = self.scope_for(replace(item, session=text.prepare_label(item.session, 255)))
        if item.infrastructure_id is not None:
            self.by_id(item.infrastructure_id)
        else:
            label = host_label(item.host)
            name = label or (self.target_name(item.command) if isinstance(item.command, str) else None)
            if name and hosts.find(self.st, name, scope) is None:
                self.owner_for(scope)  # a new host needs a client the actor may use
        exit_code_value(item.exit_code)
        utc_at(item.at)
        if not isinstance(item.command, str) or not item.command.strip():
            raise ValidationError("command must be a non-empty string")

    # ---- sessions ---------------------------------------------------------------------------

    def _preload_sessions(self) -> None:
        stmt = select(
            WorkSession.id,
            WorkSession.external_session_id,
            WorkSession.client_id,
            WorkSession.started_at,
            WorkSession.ended_at,
        ).where(WorkSession.external_session_id.is_not(None))
        known: dict[tuple[str, uuid.UUID | None], tuple[uuid.UUID, datetime, datetime]] = {}
        for sid, label, client_id, started, ended in self.s.execute(stmt.order_by(WorkSession.created_at)):
            known.setdefault((label, client_id), (sid, started, ended or started))
        self._known_sessions = known

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Session]:
        """Where to read stored sessions mid-recording. An import's own connection may have an
        insert in flight on the pipeline's thread (MariaDB's driver then loses its place): a
        connection of its own sees the same sessions (no other writer runs meanwhile, and this
        import's are in ``self.sessions``)."""
        if not self.bulk_mode:
            yield self.s
            return
        with self.rt.db.read() as r:
            yield r

    def _find_session(
        self, label: str, client_id: uuid.UUID | None
    ) -> tuple[uuid.UUID, datetime, datetime] | None:
        if self._known_sessions is not None:
            return self._known_sessions.get((label, client_id))
        found = self.found_sessions.get((label, client_id), False)
        if found is not False:
            return found
        stmt = (
            select(WorkSession.id, WorkSession.started_at, WorkSession.ended_at)
            .where(WorkSession.external_session_id == label)
            .where(
                WorkSession.client_id.is_(None) if client_id is None else WorkSession.client_id == client_id
            )
            .order_by(WorkSession.created_at)
            .limit(1)
        )
        with self._reader() as r:
            row = r.execute(stmt).first()
        result = None if row is None else (row[0], row[1], row[2] or row[1])
        self.found_sessions[(label, client_id)] = result
        return result

    def session_for(self, item: CommandIn, client_id: uuid.UUID | None, at: datetime) -> _SessionSlot:
        """The work session of ``item`` (its ``session`` label already cleaned by
        ``prepare_label``), created if it is new, its span stretched to ``at``."""
        if item.session_id is not None:
            return _SessionSlot(item.session_id, at, at)  # the caller's: its span is not ours to move
        label = item.session
        auto = label is None
        if auto:
            label = f"msp:{self.source_kind}:{at.date().isoformat()}"
        assert label is not None
        key = (label, client_id)
        slot = self.sessions.get(key)
        if slot is None:
            found = self._find_session(label, client_id)
            if found is not None:
                slot = _SessionSlot(found[0], found[1], found[2])
            else:
                client = self.st.clients.get(client_id) if client_id else None
                title = (
                    f"{'Imported' if self.source_kind == 'import' else 'Recorded'} commands of {at.date()}"
                    + (f" for {client.name}" if client else "")
                    if auto
                    else label
                )
                now = utcnow()
                row = {
                    "id": next(self.ids),
                    "client_id": client_id,
                    "external_session_id": label,
                    "session_title": title[:500],
                    "status": self.session_status,
                    "started_at": at,
                    "ended_at": at,
                    "is_billable": _billable(client),
                    "billable_hours": 0,
                    "technician": (self.actor.name or "")[:255] or None,
                    "created_at": now,
                    "updated_at": now,
                }
                self.new_sessions.append(row)
                slot = _SessionSlot(row["id"], at, at)
                if client_id is not None and not auto:
                    self.label_client(label)
                    self._label_clients[label].add(client_id)
            self.sessions[key] = slot
        if at < slot.started:
            slot.started, slot.moved = at, True
        if at > slot.ended:
            slot.ended, slot.moved = at, True
        return slot

    @property
    def source_kind(self) -> str:
        return "import" if self.bulk_mode else "api"

    # ---- commands ---------------------------------------------------------------------------

    def add(self, item: CommandIn) -> Recorded:
        """Record ``item`` and learn from it."""
        label = host_label(item.host)
        item = replace(item, session=text.prepare_label(item.session, 255))
        scope = self.scope_for(item)
        given = self.resolve(item, label, scope)
        row, learned = self._add(
            given,
            label,
            text.prepare_command(self.capture, item.command, self.cleaned),
            text.prepare_output(self.capture, item.output, self.cleaned),
            exit_code_value(item.exit_code),
            utc_at(item.at) or utcnow(),
            item,
            scope,
        )
        return Recorded(
            row,
            learned,
            given.hostname if given else None,
            given.id if given else None,
            scope,
            learned.new_pattern,
            list(learned.fixes),
        )

    def add_prepared(self, line: PreparedCommand, import_key: str | None = None) -> None:
        """Record a command line of an import as ``reader.prepare`` made it (with this
        recording's ``capture``): its text redacted and cut, its fields checked, its labels
        cleaned, and what ``engine.read_ahead`` found in it, if that ran. ``import_key``:
        the line's identity (``history.import_key``), stored with its row."""
        command, exit_code, output, label, at, session, reading = line
        item = CommandIn(command=command, host=label, session=session)
        scope = self.scope_for(item)
        given = self.resolve(item, label, scope)
        self._add(given, label, command, output, exit_code, at or utcnow(), item, scope, reading, import_key)

    def _add(
        self,
        given: HostRef | None,
        label: str | None,
        command: str,
        output: str,
        exit_code: int | None,
        at: datetime,
        item: CommandIn,
        scope: HostScope,
        reading: engine.Reading | None = None,
        import_key: str | None = None,
    ) -> tuple[dict[str, Any], engine.Learned]:
        """Learn from one command and queue its row: the row and what was learned."""
        st, mem = self.st, self.st.memory
        target_name: str | None = None
        target = given
        if given is None:
            # The host the command itself names (ssh user@ip, -ComputerName) is where it ran,
            # and its client is whose session it belongs to.
            target_name = self.target_name(command)
            if target_name:
                target = hosts.find(st, target_name, scope)
        client_id = target.client_id if target else (uuid.UUID(scope.client) if scope.client else None)
        session = self.session_for(item, client_id, at)
        session_id = session.id
        # The engine keeps plain text (``str()`` of a ``Redacted`` is one): what it holds is
        # pickled into snapshots, and a mark of redaction means nothing outside this process.
        learned = engine.record(
            mem,
            mem.hosts[given.key] if given else None,
            str(command),
            exit_code,
            str(output),
            at,
            session.label,
            reading,
            scope,
        )
        rec = learned.record
        ref = st.hosts.get(rec.host) if rec.host != LOCAL else None
        if rec.host != LOCAL and ref is None:
            # The engine met a new host in the command (ssh root@new-box): record it too, as
            # the client's the engine gave it to (the scope's, or the host it was run from's).
            met = mem.hosts[rec.host]
            owner = uuid.UUID(met.owner) if met.owner else None
            if owner is None and self.actor.client_scope is not None:
                owner = self.owner_for(scope)
            ref = self.new_host_key(met.hostname or met.name, owner, rec.host)
        pattern = mem.patterns.get(rec.pattern_id) if rec.pattern_id else None
        row_id = next(self.ids)
        stamp = next_stamp(st)
        row: dict[str, Any] = {
            "id": row_id,
            "work_item_id": item.work_item_id,
            "session_id": session_id,
            "infrastructure_id": ref.id if ref else None,
            "command_text": command,
            "host": (label or None) if label is not None else text.prepare_label(target_name, 255),
            "shell_type": text.prepare_label(item.shell_type, 50)
            or (str(mem.traits(rec.host).get("shell_type") or "")[:50] or None),
            "output_summary": output or None,
            "exit_code": exit_code,
            **derived_values(learned, output),
            "resolution": None,
            "resolved": False,
            "execution_order": None,
            "duration_ms": item.duration_ms,
            "executed_at": at,
            "created_at": stamp,
            "import_key": import_key,
        }
        assert rec.index == len(st.row_ids), "engine records and stored rows out of step"
        st.row_ids.append(row_id)
        remember(st, row_id, stamp)
        self.pending.append(row)
        self.pending_at[rec.index] = row
        self.count += 1
        if rec.failure_class:
            self.failures += 1
            if pattern is not None and any(f.host == rec.host for f in pattern.fixes):
                self.drafts.add((pattern.id, rec.host))
        if learned.new_pattern:
            self.new_patterns += 1
        for pid in learned.fixes:
            fixing = mem.patterns[pid]
            fix = fixing.fixes[-1]
            self.fixes += 1
            self.drafts.add((pid, rec.host))
            resolution = resolution_text(fix.fix_command)
            failed_row = self.pending_at.get(fix.failed_index)
            if failed_row is not None:
                failed_row["resolved"], failed_row["resolution"] = True, resolution
            elif 0 <= fix.failed_index < len(st.row_ids):
                self.resolutions.append(
                    {"id": st.row_ids[fix.failed_index], "resolved": True, "resolution": resolution}
                )
        if len(self.pending) >= BATCH:
            self.flush()
        return row, learned

    # ---- writing ----------------------------------------------------------------------------

    def db(self) -> Session:
        """The database session, once no insert is in flight on it."""
        self.pipeline.wait()
        return self.s

    def sync(self, final: bool = True) -> None:
        """Wait for the insert in flight, then write the hosts and sessions met so far: after
        this the caller may use the database session itself. An import moves its sessions'
        start and end only at the end (``final``): nothing reads them before."""
        self.pipeline.wait()
        connection = self.s.connection()
        if self.new_hosts:
            bulk.insert_many(connection, _HOSTS, [h.row() for h in self.new_hosts.values()])
            self.new_hosts = {}
        if self.new_sessions:
            bulk.insert_many(connection, _SESSIONS, self.new_sessions)
            self.new_sessions = []
        if self.bulk_mode and not final:
            return
        # A session inserted above may have grown since its row was made: moved too.
        moved = [slot for slot in self.sessions.values() if slot.moved]
        if moved:
            bulk.update_many(
                connection,
                _SESSIONS,
                [{"id": slot.id, "started_at": slot.started, "ended_at": slot.ended} for slot in moved],
            )
        for slot in moved:
            slot.moved = False

    def flush(self, final: bool = False) -> None:
        """Write what the commands recorded so far need, then hand their rows to the insert:
        patterns (new ones inserted, the others updated) and commands in one job, so the
        commands' references hold when they are inserted."""
        self.sync(final)
        s, st = self.s, self.st
        if self.drafts_ready:
            persist.upsert_drafts(s, st, self.drafts_ready)
        self.drafts_ready, self.drafts = self.drafts, set()
        if self.resolutions:
            # Failures stored by an earlier batch or call, fixed by a command of this one.
            bulk.update_many(s.connection(), _COMMANDS, self.resolutions)
            self.resolutions = []
        patterns = take_touched(st.memory)
        self.patterns_written += len(patterns)
        values = [persist.pattern_values(st, p) for p in patterns]
        unknown = [v["id"] for v in values if str(v["id"]) not in st.stored]
        existing = persist.existing_patterns(s, unknown)
        new = [v for v in values if str(v["id"]) not in st.stored and v["id"] not in existing]
        old = [v for v in values if str(v["id"]) in st.stored or v["id"] in existing]
        st.stored.update(str(v["id"]) for v in values)
        rows, self.pending, self.pending_at = self.pending, [], {}
        connection = s.connection()

        def job() -> None:
            bulk.insert_many(connection, _PATTERNS, new)
            bulk.update_many(connection, _PATTERNS, old)
            bulk.insert_many(connection, _COMMANDS, rows)

        self.pipeline.submit(job)

    def finish(self, entity_id: Any = None, changes: dict[str, Any] | None = None) -> None:
        """Write the rest and the one audit row of this recording."""
        self.flush(final=True)
        self.pipeline.wait()
        if self.drafts_ready:
            persist.upsert_drafts(self.s, self.st, self.drafts_ready)
            self.drafts_ready = set()
        row = audit.record(
            self.s,
            self.rt.audit_signer,
            self.actor,
            "create",
            "commands_run",
            entity_id,
            changes if changes is not None else {"count": self.count, "source": self.source},
        )
        self.audit_sequence = row.sequence

    def abandon(self) -> None:
        """Let a running insert end before the transaction is rolled back."""
        with contextlib.suppress(BaseException):
            self.pipeline.wait()

    def committed(self) -> None:
        """After the commit: the state has seen everything up to this recording's audit row."""
        if self.audit_sequence is not None:
            self.st.audit_seq = self.audit_sequence
        self.st.changed = True


def derived_values(learned: engine.Learned, output: str) -> dict[str, Any]:
    """The columns of a ``commands_run`` row that the engine decides."""
    rec = learned.record
    failed = rec.failure_class is not None
    return {
        "failure_pattern_id": uuid.UUID(rec.pattern_id) if rec.pattern_id else None,
        "success": None if rec.exit_code is None and not failed else not failed,
        "error_message": text.first_error_line(output) if failed else None,
        "failure_category": CATEGORY.get(rec.failure_class or "", "unknown") if failed else None,
        "is_transient": rec.is_transient if failed else None,
        "culprit": learned.culprit.text[:255] if learned.culprit else None,
        "fingerprint": learned.fingerprint.hash if learned.fingerprint else None,
    }


def resolution_text(fix_command: str) -> str:
    return f"fixed by `{fix_command}`"[:2000]


def _billable(client: ClientRef | None) -> bool:
    """Seed 002: client work is billable by default, the MSP's own work is not."""
    return client is not None and client.client_type != "internal"


__all__ = [
    "CATEGORY",
    "CommandIn",
    "Recorded",
    "Recorder",
    "derived_values",
    "exit_code_value",
    "resolution_text",
]
