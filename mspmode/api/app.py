"""Application factory: ``create_app(settings)``; every route under ``/api``.

Errors are JSON everywhere: ``{"error": {"type": …, "message": …}}`` with the status the error
tree assigns (401, 403, 404, 409, 422, 429, 503); validation errors also carry ``detail``, the
list of fields and why. An unexpected exception is a 500 with a request id, never a trace.
Hosts, body sizes and response headers are checked around the routes (``api/middleware.py``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import mspmode
from mspmode.api import docs, logs
from mspmode.api.crud import crud_router
from mspmode.api.deps import guard, request_id
from mspmode.api.middleware import (
    BodyGuard,
    BodyRefusedError,
    SecurityHeaders,
    TrustedHosts,
    error_response,
    parse_hosts,
)
from mspmode.api.proxies import TrustedProxies
from mspmode.api.routers import admin, auth, health, hooks, learning
from mspmode.api.routers.credentials import credentials_router
from mspmode.api.routers.insights import router as insights_router
from mspmode.api.routers.psa import router as psa_router
from mspmode.api.routers.recall import router as recall_router
from mspmode.api.routing import include
from mspmode.db.session import Database
from mspmode.errors import AuthenticationError, DatabaseBusyError, MSPError, RateLimitedError
from mspmode.services import learning as services_learning
from mspmode.services.credentials import SECRET_FIELDS
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings

log = logging.getLogger("mspmode.api")


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = Runtime(settings, db)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Every log record the process makes passes the redactor while the app runs.
        stop_redacting = logs.install(lambda: rt.known_secrets)
        try:
            # Warm before the socket opens (uvicorn binds after this): a hook's first check
            # after a restart waits for the server instead of timing out on a cold one.
            try:
                await anyio.to_thread.run_sync(services_learning.warm_for_service, rt)
            except Exception as exc:  # a schema not there yet: the first check builds it
                log.warning("what was learned not loaded at start: %s: %s", type(exc).__name__, exc)
            yield
        finally:
            stop_redacting()
            rt.dispose()

    app = FastAPI(
        title="MSP Mode",
        version=mspmode.__version__,
        summary="Memory that learns for MSP technicians and their AI agents.",
        docs_url=None,  # served from the package, not a CDN (api/docs.py)
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        # Deny by default: every route authenticates and is authorized here (api/deps.py).
        dependencies=[Depends(guard)],
    )
    app.state.settings = settings
    app.state.runtime = rt
    app.state.db = rt.db
    # Outermost last: every answer gets the headers, even a refused host or body.
    app.add_middleware(BodyGuard, runtime=rt, max_body_bytes=settings.max_body_bytes)
    # Outside the body guard, so its sign-in throttle sees the client a trusted proxy names.
    app.add_middleware(TrustedProxies, trusted=settings.trusted_proxy_networks)
    app.add_middleware(TrustedHosts, allowed=parse_hosts(settings.allowed_hosts))
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(MSPError)
    async def _msp_error(_: Request, exc: MSPError) -> JSONResponse:
        response = error_response(exc.status_code, type(exc).__name__, str(exc))
        if isinstance(exc, RateLimitedError | DatabaseBusyError):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, AuthenticationError):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "message": err.get("msg", ""),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return error_response(422, "ValidationError", summary or "invalid request", detail=details)

    @app.exception_handler(BodyRefusedError)
    async def _body_refused(_: Request, exc: BodyRefusedError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "HTTPError", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        log.error(
            "unhandled %s on %s %s (request %s)", type(exc).__name__, request.method, request.url.path, rid
        )
        return error_response(500, "InternalError", f"internal error (request {rid}); nothing was changed")

    docs.mount(app)
    include(app, health.router)
    include(app, auth.router)
    # Before the generic routes, so /audit-log/verify is not read as /audit-log/{id}.
    include(app, admin.router)
    # Before the generic routes too: commands are recorded through the learning engine.
    include(app, learning.router)
    include(app, hooks.router)
    # Before the generic routes: /problem-solutions/search is not /problem-solutions/{id}.
    include(app, insights_router)
    # Before the generic routes: /conversation-contexts/transcript is not a context's id.
    include(app, recall_router)
    # Before the generic routes: /psa-posts/sync is not a post's id.
    include(app, psa_router)
    for spec in RESOURCES:
        if spec.table.name in SECRET_FIELDS:
            include(app, credentials_router(spec))
    for spec in RESOURCES:
        include(app, crud_router(spec))
    return app
