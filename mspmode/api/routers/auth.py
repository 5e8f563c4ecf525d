"""Sign-in: ``/api/auth/login``, ``/refresh``, ``/password`` and ``/me``."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from mspmode.api.deps import ActorDep, RuntimeDep, client_address
from mspmode.services import auth

router = APIRouter(prefix="/auth", tags=["auth"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=4096)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=auth.MIN_PASSWORD_LENGTH, max_length=1024)


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    must_change_password: bool


class Me(BaseModel):
    type: str
    id: str | None
    name: str | None
    role: str
    client_scope: list[str] | None
    must_change_password: bool


@router.post("/login", response_model=Tokens, summary="Sign in with user name and password")
def login(body: Login, rt: RuntimeDep, address: Annotated[str | None, Depends(client_address)]) -> Any:
    """Returns a short-lived access token (send it as ``Authorization: Bearer …``) and a
    refresh token. Repeated failures for a user name or from an address are refused for a
    growing time (429 with Retry-After)."""
    return auth.login(rt, body.username, body.password, address).__dict__


@router.post("/refresh", response_model=Tokens, summary="Exchange a refresh token for new tokens")
def refresh(body: Refresh, rt: RuntimeDep) -> Any:
    return auth.refresh(rt, body.refresh_token).__dict__


@router.post("/password", status_code=204, summary="Change your own password")
def change_password(body: PasswordChange, rt: RuntimeDep, actor: ActorDep) -> None:
    """Allowed with a one-time password, which it replaces; every other route refuses such a
    sign-in until this is done."""
    auth.change_password(rt, actor, body.current_password, body.new_password)


@router.get("/me", response_model=Me, summary="Who the credentials belong to")
def me(actor: ActorDep) -> Any:
    return Me(
        type=actor.type,
        id=str(actor.id) if actor.id else None,
        name=actor.name,
        role=actor.role,
        client_scope=sorted(str(c) for c in actor.client_scope) if actor.client_scope is not None else None,
        must_change_password=actor.must_change_password,
    )
