"""The MCP tools over streamable HTTP, mounted at ``/mcp`` on the API server.

Stateless (each POST is a complete exchange) with JSON responses: an agent's API key is
checked on every request, before the MCP layer sees it, exactly as the REST API checks it —
a request without a valid ``Authorization: Bearer`` key is a 401 in the API's error shape.
The SDK's session manager needs its task group running for the app's lifetime, so
:func:`mount` wraps the app's lifespan to enter ``session_manager.run()`` around it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mspmode.errors import AuthenticationError, MSPError
from mspmode.mcp.server import bearer_actor, build_server
from mspmode.services import auth
from mspmode.services.runtime import Runtime

PATH = "/mcp"


class _RequireApiKey:
    """Answers 401 unless the request carries a credential the REST API would accept."""

    def __init__(self, app: ASGIApp, rt: Runtime) -> None:
        self.app = app
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        client = scope.get("client")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError("authentication required: send Authorization: Bearer <API key>")
            await anyio.to_thread.run_sync(
                auth.authenticate, self.rt, token, client[0] if client else None, headers.get("x-request-id")
            )
        except MSPError as exc:
            await _json(send, exc.status_code, {"error": {"type": type(exc).__name__, "message": str(exc)}})
            return
        await self.app(scope, receive, send)


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def mount(app: Starlette, rt: Runtime, *, path: str = PATH) -> None:
    """Serve the MCP tools at ``path`` of ``app`` (a FastAPI/Starlette app), with its lifespan."""
    server = build_server(rt, bearer_actor(rt))
    # Builds the session manager (the Starlette app it returns is not used: one route is enough).
    server.streamable_http_app(stateless_http=True, json_response=True, host=rt.settings.host)
    manager = server.session_manager
    endpoint = _RequireApiKey(StreamableHTTPASGIApp(manager), rt)
    app.router.routes.append(Route(path, endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with manager.run(), inner(a) as state:
            yield state

    app.router.lifespan_context = lifespan
