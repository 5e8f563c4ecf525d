"""Who is acting, and what they may do: the identity every service call carries, whatever the
entry point, and the one check every API route and MCP tool passes before its service runs.

    Access(scope)  what an operation needs ──▶ authorize(actor, access) ──▶ 403 or go on

Deny by default: a route or tool declares nothing and still needs a signed-in caller, no
one-time password, and the scope its HTTP method implies (a read for GET, a write for anything
else). Client scoping (another client's row answers 404) stays with the services, which know
which rows an operation touches.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mspmode.errors import PermissionDeniedError, ValidationError

ROLE_RANK = {"readonly": 0, "technician": 1, "admin": 2}

# What an API key may be limited to, and the least role each needs. A key with no scopes may do
# whatever its role allows; a key with scopes may do only those (and still only what its role
# allows).
SCOPES: dict[str, str] = {
    "read": "readonly",  # read rows, recall, search, insights, explain a pattern
    "check": "readonly",  # pre-check a command (POST /api/check, check_command)
    "record": "technician",  # what an agent did: commands, operation failures, contexts, work items
    "write": "technician",  # create, change and delete rows through the API; refresh insights
    "reveal": "technician",  # decrypt a stored secret or a TOTP code
    "admin": "admin",  # users, API keys, the audit chain, retention
}


@dataclass(frozen=True)
class Actor:
    """The caller of a service: a signed-in user, an API key, or the local CLI/system.

    ``client_scope`` is the set of client ids the actor may see and touch; None means all.
    ``scopes`` is what an API key was limited to; None means its role decides.
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
    scopes: frozenset[str] | None = None
    # The sign-in (auth_sessions row) an access token belongs to; sign-out ends it.
    auth_session_id: uuid.UUID | None = None

    def has_role(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]

    @property
    def scoped(self) -> bool:
        return self.client_scope is not None


@dataclass(frozen=True)
class Access:
    """What one operation (an API route, an MCP tool) needs of its caller.

    ``scope`` None: any signed-in caller (who am I, sign out, change my password).
    ``public``: no credentials at all (health, sign-in, refresh).
    ``one_time_password``: allowed to a user who must still change a one-time password.
    """

    scope: str | None
    public: bool = False
    one_time_password: bool = False

    def __post_init__(self) -> None:
        if self.scope is not None and self.scope not in SCOPES:
            raise ValueError(f"unknown scope {self.scope!r}; scopes: {', '.join(SCOPES)}")


PUBLIC = Access(None, public=True)
# Allowed with a one-time password: changing it, asking who you are (which says that it must be
# changed), and signing out. Nothing else, so a leaked one-time password is worth no more.
SELF_SERVICE = Access(None, one_time_password=True)


def access_for_method(method: str) -> Access:
    """The default for an operation that declares nothing: reads need ``read``, the rest ``write``."""
    return Access("read" if method.upper() in ("GET", "HEAD", "OPTIONS") else "write")


def authorize(actor: Actor, access: Access) -> None:
    """Raise PermissionDeniedError unless ``actor`` may perform an operation needing ``access``."""
    if actor.must_change_password and not access.one_time_password:
        raise PermissionDeniedError("change your one-time password first (POST /api/auth/password)")
    scope = access.scope
    if scope is None:
        return
    if actor.scopes is not None and scope not in actor.scopes:
        allowed = ", ".join(sorted(actor.scopes)) or "none"
        raise PermissionDeniedError(f"this API key is limited to scopes {allowed}; this needs {scope!r}")
    # Reveals keep their role check in the vault, which records every refused attempt.
    if scope != "reveal" and not actor.has_role(SCOPES[scope]):
        raise PermissionDeniedError(f"role {actor.role} may not do this (needs {SCOPES[scope]})")


def check_scopes(scopes: list[str] | None, role: str) -> list[str] | None:
    """Validate the scopes asked for a key of ``role``: known, not empty, each usable by the role."""
    if scopes is None:
        return None
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationError(f"unknown scope(s) {', '.join(unknown)}; scopes: {', '.join(SCOPES)}")
    if not scopes:
        raise ValidationError("give at least one scope, or none to let the key's role decide")
    beyond = sorted(s for s in set(scopes) if ROLE_RANK[SCOPES[s]] > ROLE_RANK[role])
    if beyond:
        raise ValidationError(f"a {role} key cannot have scope(s) {', '.join(beyond)}")
    return [s for s in SCOPES if s in scopes]


def local_actor(kind: str = "cli", name: str | None = None) -> Actor:
    """The person at this machine's terminal: the CLI runs with the installation's own rights
    (whoever can read MSP_HOME's key files already has everything)."""
    import getpass

    try:
        who = name or getpass.getuser()
    except Exception:  # no login name in some containers
        who = name or "local"
    return Actor(type=kind, role="admin", name=who)
