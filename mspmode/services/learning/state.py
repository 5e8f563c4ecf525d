"""What the learning engine knows, kept as a cache of the database.

The database is the source of truth: ``infrastructure`` holds the hosts and their traits,
``commands_run`` the history. A :class:`LearningState` is the engine's :class:`Memory` rebuilt
from them — hosts first, then every command replayed in insertion order — plus the maps between
engine host keys and ``infrastructure`` rows and between engine records and ``commands_run`` ids.

Keeping it current
    ``catch_up`` brings a state up to date incrementally. Every change made through MSP Mode
    writes an audit row in the same transaction, so the audit chain's ``sequence`` is a change
    counter: when it has not moved since the last look, nothing needs reading (one primary-key
    read per check). When it has, hosts changed since the host mark and commands created since
    the command mark are applied, in ``(created_at, id)`` order. Writers give ``created_at``
    strictly increasing values while holding the chain's lock, but a row committed late by a
    long transaction elsewhere can carry an older stamp, so rows up to ``LAG`` older than the
    mark are re-counted and any not applied yet are applied then (``recent`` remembers which
    were). A state changed by a write that then failed is thrown away, never patched.

Who holds a state, and the one store on disk it is saved in and loaded from: ``cache``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from mspmode import engine
from mspmode.db.base import utcnow
from mspmode.engine.learn import take_touched
from mspmode.engine.memory import Memory, add_host, host_candidates, host_key
from mspmode.models.core import Client
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import FailurePattern as PatternRow
from mspmode.models.operations import AuditChainHead, AuditLog
from mspmode.models.work import CommandRun
from mspmode.services.scoping import scope_clause, table_of
from mspmode.settings import display_url

# How far behind the command mark a row committed late may be and still be found.
LAG = timedelta(minutes=15)
# Typed infrastructure columns that are traits to the engine (``traits`` JSON adds the rest).
TRAIT_COLUMNS = (
    "os",
    "os_version",
    "shell_type",
    "powershell_version",
    "init_system",
    "package_manager",
    "role",
    "asset_type",
)
_COMMANDS = table_of(CommandRun)
_HOSTS = table_of(Infrastructure)


@dataclass(slots=True)
class HostRef:
    """An ``infrastructure`` row as the engine knows it."""

    id: uuid.UUID
    client_id: uuid.UUID | None
    key: str  # the engine's host key (unique)
    name: str  # the engine's host name: the hostname, suffixed when another host has it
    hostname: str  # the name people use


@dataclass
class NewHost:
    """An ``infrastructure`` row about to be inserted (a host met in a command or an import),
    with the attributes the engine reads, like the model's."""

    hostname: str
    client_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    ip_address: str | None = None
    fqdn: str | None = None
    mac_address: str | None = None
    aliases: list[Any] | None = None
    traits: dict[str, Any] | None = None
    limitations: list[Any] | None = None
    environmental_notes: str | None = None
    notes: str | None = None
    os: str | None = None
    os_version: str | None = None
    shell_type: str | None = None
    powershell_version: str | None = None
    init_system: str | None = None
    package_manager: str | None = None
    role: str | None = None
    asset_type: str | None = None
    status: str = "active"
    is_auto_created: bool = False

    def row(self) -> dict[str, Any]:
        now = utcnow()
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {**values, "last_seen_at": now, "created_at": now, "updated_at": now}


@dataclass(slots=True)
class ClientRef:
    id: uuid.UUID
    name: str
    client_type: str


class RowIds:
    """The ``commands_run`` id of each engine record, in record order, packed 16 bytes apiece:
    the stored state of a 100k-command history loads them as one ``bytes`` instead of unpickling
    100k ``UUID`` objects (a third of the local service's start)."""

    __slots__ = ("_packed",)

    def __init__(self, ids: Iterable[uuid.UUID] = ()) -> None:
        self._packed = bytearray(b"".join(u.bytes for u in ids))

    def __len__(self) -> int:
        return len(self._packed) // 16

    def __getitem__(self, index: int) -> uuid.UUID:
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        return uuid.UUID(bytes=bytes(self._packed[16 * i : 16 * i + 16]))

    def __iter__(self) -> Iterator[uuid.UUID]:
        packed = self._packed
        for at in range(0, len(packed), 16):
            yield uuid.UUID(bytes=bytes(packed[at : at + 16]))

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, uuid.UUID):
            return False
        packed, needle = self._packed, item.bytes
        at = packed.find(needle)
        while at >= 0 and at % 16:  # a match across two ids is none
            at = packed.find(needle, at + 1)
        return at >= 0

    def append(self, row_id: uuid.UUID) -> None:
        self._packed += row_id.bytes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RowIds) and self._packed == other._packed

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> bytes:
        return bytes(self._packed)

    def __setstate__(self, packed: bytes) -> None:
        self._packed = bytearray(packed)


@dataclass
class LearningState:
    scope: frozenset[uuid.UUID] | None
    identity: str
    memory: Memory = field(default_factory=lambda: Memory(lazy_refresh=True, keep_outputs=False))
    hosts: dict[str, HostRef] = field(default_factory=dict)  # engine key -> row
    by_id: dict[uuid.UUID, str] = field(default_factory=dict)  # infrastructure id -> engine key
    clients: dict[uuid.UUID, ClientRef] = field(default_factory=dict)
    row_ids: RowIds = field(default_factory=RowIds)  # engine record index -> commands_run id
    mark_at: datetime | None = None
    mark_id: uuid.UUID | None = None
    # commands_run id (its 16 bytes: cheap to unpickle, unlike 100k UUIDs) -> created_at
    recent: dict[bytes, datetime] = field(default_factory=dict)
    host_mark: datetime | None = None
    audit_seq: int | None = None
    stored: set[str] = field(default_factory=set)  # pattern ids known to have a row
    changed: bool = False  # since it was loaded from or saved to the one store

    # ---- hosts ------------------------------------------------------------------------------

    def client_by_name(self, name: str) -> ClientRef | None:
        for ref in self.clients.values():
            if ref.name == name:
                return ref
        return None

    def candidates(self, spelling: str) -> list[HostRef]:
        """Every host that ``spelling`` names (hostname, alias, IP, FQDN or its short name; as
        ``host_key`` compares them), oldest first, whoever owns it: what a name means for a
        caller is ``hosts.find``'s to say."""
        low = host_key(spelling)
        keys = host_candidates(self.memory, low)
        if not keys and "." in low and not low.replace(".", "").isdigit():
            keys = host_candidates(self.memory, low.split(".", 1)[0])
        return [self.hosts[k] for k in keys if k in self.hosts]

    def register_host(
        self, row: Infrastructure | NewHost, client_name: str | None, key: str | None = None
    ) -> HostRef:
        """Add ``row`` to the engine, or bring the engine's copy up to date with it."""
        mem = self.memory
        key = key or self.by_id.get(row.id)
        traits = engine_traits(row)
        aliases = [a for a in (row.aliases or []) if isinstance(a, str) and a.strip()]
        owner = str(row.client_id) if row.client_id else None
        if key is None:
            name = row.hostname
            if host_key(name) in mem.hosts:  # another client's host of the same name came first
                name = f"{row.hostname}~{row.id.hex[:8]}"
            host = add_host(
                mem,
                name,
                traits,
                aliases=aliases,
                ip_address=row.ip_address,
                fqdn=row.fqdn,
                client=client_name,
                auto_created=row.is_auto_created,
                owner=owner,
                hostname=row.hostname if name != row.hostname else None,
            )
            key = host.key
        else:
            host = mem.hosts[key]
            current = self.hosts.get(key)
            if (
                current is not None
                and current.client_id == row.client_id
                and host.traits == traits
                and host.aliases == aliases
                and host.ip_address == row.ip_address
                and host.fqdn == row.fqdn
                and host.auto_created == row.is_auto_created
                and (host.hostname or host.name) == row.hostname
            ):
                return current  # read again by a catch-up, unchanged
            # Replace, not merge: a trait a technician removed must stop counting.
            host.traits = {}
            host.aliases = []
            host.ip_address = None
            host.fqdn = None
            add_host(
                mem,
                host.name,
                traits,
                aliases=aliases,
                ip_address=row.ip_address,
                fqdn=row.fqdn,
                client=client_name,
                auto_created=row.is_auto_created,
                hostname=row.hostname if host.name != row.hostname else None,
            )
            host.auto_created = row.is_auto_created
            host.owner = owner  # a host moved to another client, or to none
            host.hostname = row.hostname if host.name != row.hostname else None
        ref = HostRef(row.id, row.client_id, key, host.name, row.hostname)
        self.hosts[key] = ref
        self.by_id[row.id] = key
        self.changed = True
        return ref


def engine_traits(row: Infrastructure | NewHost) -> dict[str, Any]:
    traits: dict[str, Any] = {k: v for k, v in (row.traits or {}).items() if v is not None}
    for column in TRAIT_COLUMNS:
        value = getattr(row, column)
        if value:
            traits[column] = value
    return traits


# --------------------------------------------------------------------------------------------
# Reading the database


_SEQUENCE = select(AuditChainHead.sequence).where(AuditChainHead.id == 1)
_SEQUENCE_LOCKED = _SEQUENCE.with_for_update()


def chain_sequence(session: Session, *, lock: bool = False) -> int | None:
    """The audit chain's sequence: it moves with every audited change. ``lock`` takes the
    chain's row lock until the transaction ends, which serialises learners across processes."""
    value = session.execute(_SEQUENCE_LOCKED if lock else _SEQUENCE).scalar_one_or_none()
    return None if value is None else int(value)


def database_identity(session: Session) -> str:
    """The URL and the first audit row (written by ``msp init``): another database at the same
    address is another identity."""
    first = session.execute(select(AuditLog.id).where(AuditLog.sequence == 1)).scalar_one_or_none()
    bind = session.get_bind()
    return f"{display_url(bind.url)}#{first}"


def _scope(st: LearningState, table: Any) -> ColumnElement[bool]:
    return true() if st.scope is None else scope_clause(table, st.scope)


def load_clients(session: Session, st: LearningState) -> None:
    stmt = select(Client.id, Client.name, Client.client_type)
    if st.scope is not None:
        stmt = stmt.where(Client.id.in_(list(st.scope)))
    st.clients = {cid: ClientRef(cid, name, ctype) for cid, name, ctype in session.execute(stmt)}


def load_hosts(session: Session, st: LearningState, *, since: datetime | None = None) -> int:
    stmt = select(Infrastructure).where(_scope(st, _HOSTS))
    if since is not None:
        stmt = stmt.where(Infrastructure.updated_at >= since)
    rows = list(session.scalars(stmt.order_by(Infrastructure.created_at, Infrastructure.id)))
    for row in rows:
        client = st.clients.get(row.client_id) if row.client_id else None
        st.register_host(row, client.name if client else None)
        if st.host_mark is None or row.updated_at > st.host_mark:
            st.host_mark = row.updated_at
    return len(rows)


REPLAY_COLUMNS = (
    _COMMANDS.c.id,
    _COMMANDS.c.created_at,
    _COMMANDS.c.infrastructure_id,
    _COMMANDS.c.session_id,
    _COMMANDS.c.command_text,
    _COMMANDS.c.exit_code,
    _COMMANDS.c.output_summary,
    _COMMANDS.c.executed_at,
)


def replay_row(session: Session, st: LearningState, row: Any) -> engine.Learned | None:
    """Learn from one stored command, exactly as when it was recorded: the engine is given the
    host it ran on (its target), the stored (redacted, truncated) text and the session's id."""
    key: str | None = None
    if row.infrastructure_id is not None:
        key = st.by_id.get(row.infrastructure_id)
        if key is None:
            host = session.get(Infrastructure, row.infrastructure_id)
            if host is not None and (st.scope is None or host.client_id in st.scope):
                client = st.clients.get(host.client_id) if host.client_id else None
                key = st.register_host(host, client.name if client else None).key
        if key is None:
            remember(st, row.id, row.created_at)
            return None  # a host out of this scope: what ran there is not this scope's to know
    learned = engine.record(
        st.memory,
        st.memory.hosts[key] if key is not None else None,
        row.command_text,
        row.exit_code,
        row.output_summary or "",
        row.executed_at,
        str(row.session_id),
    )
    st.row_ids.append(row.id)
    remember(st, row.id, row.created_at)
    return learned


def remember(st: LearningState, row_id: uuid.UUID, created_at: datetime) -> None:
    mark = st.mark_at
    if (
        mark is None
        or created_at > mark
        or (created_at == mark and row_id.hex > (st.mark_id.hex if st.mark_id else ""))
    ):
        st.mark_at, st.mark_id = created_at, row_id
    st.recent[row_id.bytes] = created_at
    st.changed = True


def build(session: Session, scope: frozenset[uuid.UUID] | None) -> LearningState:
    """A state replayed from the whole history visible in ``scope``."""
    st = LearningState(scope=scope, identity=database_identity(session))
    st.audit_seq = chain_sequence(session)
    load_clients(session, st)
    load_hosts(session, st)
    stmt = (
        select(*REPLAY_COLUMNS).where(_scope(st, _COMMANDS)).order_by(_COMMANDS.c.created_at, _COMMANDS.c.id)
    )
    for row in session.execute(stmt, execution_options={"yield_per": 2000}):
        replay_row(session, st, row)
    prune(st)
    st.stored = {str(i) for i in session.scalars(select(PatternRow.id))}
    settle(st)
    return st


def settle(st: LearningState) -> None:
    """Forget which patterns a replay changed (their rows were written by whoever recorded the
    commands), bringing their columns up to date."""
    take_touched(st.memory)


def catch_up(session: Session, st: LearningState, *, force: bool = False) -> int:
    """Apply what changed in the database since ``st`` last looked; the number of commands."""
    seq = chain_sequence(session)
    if not force and seq is not None and seq == st.audit_seq:
        return 0
    load_clients(session, st)
    load_hosts(session, st, since=st.host_mark - LAG if st.host_mark else None)
    applied = 0
    where = [_scope(st, _COMMANDS)]
    base = select(*REPLAY_COLUMNS).where(*where)
    order = (_COMMANDS.c.created_at, _COMMANDS.c.id)
    if st.mark_at is not None:
        low = st.mark_at - LAG
        known = sum(1 for at in st.recent.values() if low <= at <= st.mark_at)
        stored = session.execute(
            select(func.count())
            .select_from(_COMMANDS)
            .where(*where, _COMMANDS.c.created_at >= low, _COMMANDS.c.created_at <= st.mark_at)
        ).scalar_one()
        if stored != known:
            # A row committed late, stamped before the mark: apply the ones not seen yet.
            late = base.where(_COMMANDS.c.created_at >= low, _COMMANDS.c.created_at <= st.mark_at)
            for row in session.execute(late.order_by(*order)):
                if row.id.bytes not in st.recent:
                    replay_row(session, st, row)
                    applied += 1
        newer = base.where(_COMMANDS.c.created_at > st.mark_at)
    else:
        newer = base
    for row in session.execute(newer.order_by(*order), execution_options={"yield_per": 2000}):
        if row.id.bytes not in st.recent:
            replay_row(session, st, row)
            applied += 1
    st.audit_seq = seq
    prune(st)
    settle(st)
    return applied


def prune(st: LearningState) -> None:
    if st.mark_at is None:
        return
    low = st.mark_at - LAG
    if any(at < low for at in st.recent.values()):
        st.recent = {k: at for k, at in st.recent.items() if at >= low}


def next_stamp(st: LearningState) -> datetime:
    """A ``created_at`` later than every row this state has seen: insertion order is kept even
    when the clock steps back or two rows come within one microsecond."""
    now = utcnow()
    if st.mark_at is not None and now <= st.mark_at:
        now = st.mark_at + timedelta(microseconds=1)
    return now
