"""Who is acting: the identity every service call carries, whatever the entry point."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

ROLE_RANK = {"readonly": 0, "technician": 1, "admin": 2}


@dataclass(frozen=True)
class Actor:
    """The caller of a service: a signed-in user, an API key, or the local CLI/system.

    ``client_scope`` is the set of client ids the actor may see and touch; None means all.
    """

    type: str  # one of operations.ACTOR_TYPES
    role: str
    id: uuid.UUID | None = None
    name: str | None = None
    client_scope: frozenset[uuid.UUID] | None = None
    client_address: str | None = None
    request_id: str | None = None
    api_key_id: uuid.UUID | None = None
    # A user signed in with a one-time password may do nothing but change it.
    must_change_password: bool = False

    def has_role(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]

    @property
    def scoped(self) -> bool:
        return self.client_scope is not None


def local_actor(kind: str = "cli", name: str | None = None) -> Actor:
    """The person at this machine's terminal: the CLI runs with the installation's own rights
    (whoever can read MSP_HOME's key files already has everything)."""
    import getpass

    try:
        who = name or getpass.getuser()
    except Exception:  # no login name in some containers
        who = name or "local"
    return Actor(type=kind, role="admin", name=who)
