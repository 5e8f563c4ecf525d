"""Sign-in: ``/api/auth/login``, ``/refresh``, ``/logout``, ``/password`` and ``/me``.

Sign-in and refresh are public. Change your password, who am I and sign out are the only
routes a user holding a one-time password may call: changing it is what they must do, ``/me``
tells a client that it must be done, and signing out is always safe.
"""

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from mspmode.api.deps import ActorDep, RuntimeDep, access, client_address
from mspmode.api.routing import ApiRouter
from mspmode.services import auth

router = ApiRouter(prefix="/auth", tags=["auth"])


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
    # The length rule is the service's, so its message is the same as the CLI's.
    new_password: str = Field(min_length=1, max_length=1024)


class Logout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    everywhere: bool = Field(default=False, description="End every sign-in of yours, not only this one.")


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
    scopes: list[str] | None


SELF = access(one_time_password=True)


@router.post(
    "/login",
    response_model=Tokens,
    summary="Sign in with user name and password",
    openapi_extra=access(public=True),
)
def login(body: Login, rt: RuntimeDep, address: Annotated[str | None, Depends(client_address)]) -> Any:
    """Returns a short-lived access token (send it as ``Authorization: Bearer …``) and a
    refresh token, for a new sign-in. Failures are counted per user name, per address and per
    both; past each limit attempts wait, longer each time (429 with Retry-After)."""
    return auth.login(rt, body.username, body.password, address).__dict__


@router.post(
    "/refresh",
    response_model=Tokens,
    summary="Exchange a refresh token for new tokens",
    openapi_extra=access(public=True),
)
def refresh(body: Refresh, rt: RuntimeDep, address: Annotated[str | None, Depends(client_address)]) -> Any:
    """Each refresh token works once: keep the new one. One presented again (a copy) ends its
    sign-in, and both holders must sign in again."""
    return auth.refresh(rt, body.refresh_token, address).__dict__


@router.post("/logout", status_code=204, summary="Sign out", openapi_extra=SELF)
def logout(rt: RuntimeDep, actor: ActorDep, body: Logout | None = None) -> None:
    """Ends this sign-in: its refresh token and every access token issued with it stop working
    at once. ``{"everywhere": true}`` ends every sign-in of yours. API keys are revoked instead."""
    auth.logout(rt, actor, everywhere=body.everywhere if body else False)


@router.post("/password", response_model=Tokens, summary="Change your own password", openapi_extra=SELF)
def change_password(body: PasswordChange, rt: RuntimeDep, actor: ActorDep) -> Any:
    """Allowed with a one-time password, which it replaces; every other route refuses such a
    sign-in until this is done. Every sign-in of yours ends (a stolen token stops working);
    the answer is a new one."""
    return auth.change_password(rt, actor, body.current_password, body.new_password).__dict__


@router.get("/me", response_model=Me, summary="Who the credentials belong to", openapi_extra=SELF)
def me(actor: ActorDep) -> Any:
    return Me(
        type=actor.type,
        id=str(actor.id) if actor.id else None,
        name=actor.name,
        role=actor.role,
        client_scope=sorted(str(c) for c in actor.client_scope) if actor.client_scope is not None else None,
        must_change_password=actor.must_change_password,
        scopes=sorted(actor.scopes) if actor.scopes is not None else None,
    )
