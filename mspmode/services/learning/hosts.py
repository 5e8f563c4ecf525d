"""Which host a name means, for one caller.

The engine matches spellings — hostnames, IPs, aliases, FQDNs and their short names,
``user@host``, all compared as ``engine.memory.host_key`` makes them (NFKC, casefolded) — and
picks among the hosts that share one for a :class:`HostScope` (``engine.memory.resolve_host``).
This module makes that scope for a caller, and is what every service asks:

* the clients the caller may see bound it. A host of another client does not exist for an
  actor limited to some clients: a name it gives that only such a host answers to is a name
  nobody recorded — recording creates a host of the actor's own, a pre-check answers as for
  an unknown host, nothing says the other one exists;
* the client of the session a command belongs to (its ``session_id``, or the one client
  whose sessions carry its ``session`` label) comes first: the same private 192.168.1.10 at
  two clients is two hosts, and work in client A's session on 192.168.1.10 is on A's;
* a host first met in a command belongs to that client, or to the actor's only client.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mspmode.engine.memory import HostScope, host_key, host_name, resolve_host
from mspmode.errors import ConflictError
from mspmode.models.core import Session as WorkSession
from mspmode.models.infrastructure import Infrastructure
from mspmode.services.actor import Actor
from mspmode.services.learning.state import HostRef, LearningState
from mspmode.services.scoping import scope_clause, table_of

_SESSIONS = table_of(WorkSession)


def host_scope(client_scope: frozenset[uuid.UUID] | None, client: uuid.UUID | None = None) -> HostScope:
    """The hosts a caller limited to ``client_scope`` (None: every client) may mean, those of
    ``client`` (the command's session's; else the caller's only client) first."""
    owners = None if client_scope is None else frozenset(str(c) for c in client_scope)
    if client is not None and client_scope is not None and client not in client_scope:
        client = None
    if client is None and client_scope is not None and len(client_scope) == 1:
        client = next(iter(client_scope))
    return HostScope(owners, str(client) if client is not None else None)


def find(st: LearningState, name: str, scope: HostScope) -> HostRef | None:
    """The host ``name`` means for ``scope`` in ``st``, None if it means none the scope sees."""
    key = resolve_host(st.memory, name, scope)
    return st.hosts.get(key) if key is not None else None


def session_clients(
    session: Session, actor: Actor, session_id: uuid.UUID | None = None, label: str | None = None
) -> set[uuid.UUID]:
    """The client of the work session a command belongs to — ``session_id``'s, or those
    whose sessions carry ``label`` (two at most: one is an answer, two are none) — among the
    sessions ``actor`` may see."""
    if session_id is None and not label:
        return set()
    stmt: Any = select(WorkSession.client_id).where(WorkSession.client_id.is_not(None))
    if session_id is not None:
        stmt = stmt.where(WorkSession.id == session_id)
    else:
        stmt = stmt.where(WorkSession.external_session_id == label).distinct()
    if actor.client_scope is not None:
        stmt = stmt.where(scope_clause(_SESSIONS, actor.client_scope))
    return set(session.scalars(stmt.limit(2)))


def session_client(
    session: Session, actor: Actor, session_id: uuid.UUID | None = None, label: str | None = None
) -> uuid.UUID | None:
    """The one client of the work session a command belongs to (see :func:`session_clients`)."""
    clients = session_clients(session, actor, session_id, label)
    return next(iter(clients)) if len(clients) == 1 else None


# --------------------------------------------------------------------------------------------
# Host rows written through the generic routes (POST/PATCH /api/infrastructure, msp host add)


_NAMES = ("hostname", "fqdn", "ip_address")


def prepare_host(session: Session, values: dict[str, Any], row: Infrastructure | None) -> None:
    """A host's names are stored as ``host_name`` makes them (``ＤＣ０１`` is ``DC01``), and
    a client has one host of a name however it is spelled: ``dc01`` next to ``DC01`` is the
    same host, refused as it is on every backend."""
    for column in _NAMES:
        if isinstance(values.get(column), str):
            values[column] = host_name(values[column])
    if isinstance(values.get("aliases"), list):
        values["aliases"] = [host_name(a) if isinstance(a, str) else a for a in values["aliases"]]
    if "hostname" not in values and "client_id" not in values:
        return
    hostname = values.get("hostname", row.hostname if row is not None else None)
    client_id = values.get("client_id", row.client_id if row is not None else None)
    if not isinstance(hostname, str) or client_id is None:
        return
    key = host_key(hostname)
    stmt = select(Infrastructure.id, Infrastructure.hostname).where(Infrastructure.client_id == client_id)
    for other_id, other in session.execute(stmt):
        if (row is None or other_id != row.id) and host_key(other) == key:
            raise ConflictError(f"this client already has the host {other!r}: {hostname!r} is the same name")
