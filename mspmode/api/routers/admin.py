"""What only an admin does over the API: create, disable and re-role users, issue and revoke
API keys, verify the audit chain. Listing users and keys is the generic read-only CRUD. Every
route here needs the ``admin`` scope (and role)."""

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mspmode.api.deps import ActorDep, RuntimeDep, access
from mspmode.api.routing import ApiRouter
from mspmode.errors import NotFoundError, PermissionDeniedError
from mspmode.models.core import User
from mspmode.services import audit, auth

router = ApiRouter(tags=["admin"])
ADMIN = access("admin")

Role = Literal["admin", "technician", "readonly"]
Scope = Literal["read", "check", "record", "write", "reveal", "admin"]  # services.actor.SCOPES


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = "technician"
    # The strength rule is the service's, so its message is the same as the CLI's.
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    email: str | None = Field(default=None, max_length=255)
    full_name: str | None = Field(default=None, max_length=255)
    clients: list[str] | None = Field(
        default=None, max_length=1000, description="Client names or ids; omit for all."
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    username: str
    role: str
    email: str | None
    full_name: str | None
    client_scope: list[Any] | None
    is_active: bool
    must_change_password: bool
    created_at: datetime


class UserCreated(BaseModel):
    user: UserOut
    generated_password: str | None = Field(description="Shown once when no password was given.")


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role = "technician"
    username: str | None = Field(default=None, max_length=100, description="Owner; default: you.")
    clients: list[str] | None = Field(default=None, max_length=1000)
    scopes: list[Scope] | None = Field(
        default=None,
        max_length=6,
        description=(
            "What the key may do: read, check (pre-check commands), record (commands, contexts, "
            "work), write (change rows), reveal (secrets), admin; omit to let its role decide."
        ),
    )
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    prefix: str
    role: str
    user_id: uuid.UUID
    client_scope: list[Any] | None
    scopes: list[str] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(BaseModel):
    api_key: ApiKeyOut
    key: str = Field(description="The key itself: shown once, never stored.")


class ChainOut(BaseModel):
    ok: bool
    rows: int
    problem: str | None
    sequence: int | None
    row_id: uuid.UUID | None
    head: str | None = Field(description="The last row as SEQ:MAC, to keep outside the database.")
    anchor: int | None = Field(description="The newest sequence this server had seen before.")


@router.post(
    "/users",
    response_model=UserCreated,
    status_code=201,
    summary="Create a user (admin)",
    openapi_extra=ADMIN,
)
def create_user(body: UserCreate, rt: RuntimeDep, actor: ActorDep) -> Any:
    user, generated = auth.create_user(
        rt,
        actor,
        username=body.username,
        role=body.role,
        password=body.password,
        email=body.email,
        full_name=body.full_name,
        clients=body.clients,
    )
    return {"user": user, "generated_password": generated}


def _username(rt: RuntimeDep, actor: ActorDep, user_id: uuid.UUID) -> str:
    if not actor.has_role("admin"):
        raise PermissionDeniedError("only an admin may manage users")
    with rt.db.read() as session:
        user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no users with id {user_id}")
    return user.username


@router.post(
    "/users/{user_id}/disable", response_model=UserOut, summary="Disable a user (admin)", openapi_extra=ADMIN
)
def disable_user(user_id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Every sign-in of theirs ends and their API keys are revoked, at once."""
    return auth.set_user_active(rt, actor, _username(rt, actor, user_id), False)


@router.post(
    "/users/{user_id}/enable", response_model=UserOut, summary="Enable a user (admin)", openapi_extra=ADMIN
)
def enable_user(user_id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Any:
    """They may sign in again; tokens and keys from before the disable stay dead."""
    return auth.set_user_active(rt, actor, _username(rt, actor, user_id), True)


@router.post(
    "/users/{user_id}/role",
    response_model=UserOut,
    summary="Change a user's role (admin)",
    openapi_extra=ADMIN,
)
def change_role(user_id: uuid.UUID, body: RoleChange, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Every sign-in of theirs ends; their API keys above the new role are lowered to it."""
    return auth.set_user_role(rt, actor, _username(rt, actor, user_id), body.role)


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Issue an API key (admin)",
    openapi_extra=ADMIN,
)
def create_api_key(body: ApiKeyCreate, rt: RuntimeDep, actor: ActorDep) -> Any:
    key, plaintext = auth.create_api_key(
        rt,
        actor,
        name=body.name,
        role=body.role,
        username=body.username,
        clients=body.clients,
        scopes=list(body.scopes) if body.scopes is not None else None,
        expires_at=body.expires_at,
    )
    return {"api_key": key, "key": plaintext}


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyOut,
    summary="Revoke an API key (admin)",
    openapi_extra=ADMIN,
)
def revoke_api_key(key_id: uuid.UUID, rt: RuntimeDep, actor: ActorDep) -> Any:
    return auth.revoke_api_key(rt, actor, str(key_id))


@router.get(
    "/audit-log/verify",
    response_model=ChainOut,
    summary="Verify the audit chain (admin)",
    openapi_extra=ADMIN,
)
def verify_audit_log(
    rt: RuntimeDep,
    actor: ActorDep,
    expect: str | None = Query(
        None,
        max_length=100,
        description="A head kept earlier (SEQ:MAC): fail unless the chain still holds it.",
    ),
) -> Any:
    """As `msp audit verify`: every row, the signed head, and the newest head this server saw."""
    checkpoint = audit.Checkpoint.parse(expect) if expect is not None else None
    return audit.verify_chain(rt, actor, expect=checkpoint).__dict__
