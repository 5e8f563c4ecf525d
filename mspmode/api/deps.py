"""Request dependencies: the runtime, and the authenticated Actor behind the bearer header."""

import re
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mspmode.errors import AuthenticationError
from mspmode.services import auth
from mspmode.services.actor import Actor
from mspmode.services.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A JWT access token from /api/auth/login, or an API key.")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthenticationError("authentication required: send Authorization: Bearer <token or API key>")
    return auth.authenticate(rt, credentials.credentials, client_address(request), request_id(request))


ActorDep = Annotated[Actor, Depends(current_actor)]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
