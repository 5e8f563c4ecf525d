"""Request dependencies: the runtime, and the one gate every route passes.

``guard`` is an app-wide dependency (``create_app``), so a route added later is protected
without saying anything: it needs a valid bearer credential, refuses a one-time password, and
needs the scope its method implies (GET reads, anything else writes). A route that needs
something else says so with ``access(...)`` in its decorator; the few public ones (health,
sign-in, refresh) and the password-change allow-list are the only exceptions, and
tests/security/test_one_time_password.py enumerates every route to hold that true.
"""

import re
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from mspmode.errors import AuthenticationError
from mspmode.services import auth
from mspmode.services.actor import Access, Actor, access_for_method, authorize
from mspmode.services.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A JWT access token from /api/auth/login, or an API key.")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ACCESS_KEY = "x-msp-access"


def access(
    scope: str | None = None, *, public: bool = False, one_time_password: bool = False
) -> dict[str, Any]:
    """``openapi_extra`` for a route whose access is not its method's default: it is enforced by
    ``guard`` and published in the OpenAPI document. ``access("check")``; ``access(public=True)``
    (no credentials); ``access(one_time_password=True)`` (any signed-in caller, even one who
    must still change a one-time password)."""
    declared = Access(scope, public=public, one_time_password=one_time_password)  # validates the scope
    return {
        ACCESS_KEY: {
            "scope": declared.scope,
            "public": declared.public,
            "one_time_password": declared.one_time_password,
        }
    }


def route_access(openapi_extra: dict[str, Any] | None, method: str) -> Access:
    """What a route declared, or its method's default."""
    declared = (openapi_extra or {}).get(ACCESS_KEY)
    if declared is None:
        return access_for_method(method)
    return Access(
        declared["scope"], public=declared["public"], one_time_password=declared["one_time_password"]
    )


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def client_address(request: Request) -> str | None:
    """The caller's address: the peer, or what a trusted proxy said it was (api/proxies.py)."""
    return request.client.host if request.client else None


async def guard(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    rt: Annotated[Runtime, Depends(runtime)],
) -> Actor | None:
    """Authenticate and authorize the request for its route; None only on a public route.

    Async, with only the credential lookup in a worker thread: FastAPI runs a plain ``def``
    dependency in its thread pool, and every hop there costs more than this gate's own work.
    An API key verified while the database has not changed since needs no lookup at all.
    """
    route = request.scope.get("route")
    needed = route_access(getattr(route, "openapi_extra", None), request.method)
    if needed.public:
        return None
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthenticationError("authentication required: send Authorization: Bearer <token or API key>")
    address, rid = client_address(request), request_id(request)
    actor = auth.authenticate_known_key(rt, credentials.credentials, address, rid)
    if actor is None:
        actor = await run_in_threadpool(auth.authenticate, rt, credentials.credentials, address, rid)
    authorize(actor, needed)
    return actor


async def current_actor(actor: Annotated[Actor | None, Depends(guard)]) -> Actor:
    """The Actor ``guard`` let through (the same call: FastAPI caches it per request)."""
    if actor is None:
        raise AuthenticationError("this route is public and has no caller")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
