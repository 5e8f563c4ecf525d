"""The MCP tools over streamable HTTP, mounted at ``/mcp`` on the API server.

Stateless (each POST is a complete exchange) with JSON responses: an agent's API key is
checked on every request, before the MCP layer sees it, exactly as the REST API checks it —
a request without a valid ``Authorization: Bearer`` key is a 401 in the API's error shape.
The SDK's session manager needs its task group running for the app's lifetime: :func:`mount`
wraps the app's lifespan in a task group, where the manager runs from the first MCP request on
(the SDK is imported then, not when the server starts).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mspmode.errors import AuthenticationError, MSPError
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


class _Tools:
    """The MCP endpoint, built on its first request: the SDK is ~0.8 s of imports that a
    server which never sees an MCP client (a local service answering hooks) does not pay. Its
    session manager then runs in the task group the app's lifespan holds open."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.task_group: anyio.abc.TaskGroup | None = None
        self._endpoint: ASGIApp | None = None
        self._starting = anyio.Lock()  # one build: the first request's, the others wait for it

    def _build(self) -> Any:
        from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

        from mspmode.mcp.server import bearer_actor, build_server

        server = build_server(self.rt, bearer_actor(self.rt))
        # Builds the session manager (the Starlette app it returns is not used).
        server.streamable_http_app(stateless_http=True, json_response=True, host=self.rt.settings.host)
        return server.session_manager, StreamableHTTPASGIApp

    async def _run(self, manager: Any, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        async with manager.run():
            task_status.started()
            await anyio.sleep_forever()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._endpoint is None:
            async with self._starting:
                if self._endpoint is None:
                    if self.task_group is None:
                        raise RuntimeError("the MCP endpoint serves only while the app's lifespan runs")
                    manager, asgi = await anyio.to_thread.run_sync(self._build)
                    await self.task_group.start(self._run, manager)
                    self._endpoint = asgi(manager)
        await self._endpoint(scope, receive, send)


def mount(app: Starlette, rt: Runtime, *, path: str = PATH) -> None:
    """Serve the MCP tools at ``path`` of ``app`` (a FastAPI/Starlette app), with its lifespan."""
    tools = _Tools(rt)
    endpoint = _RequireApiKey(tools, rt)
    app.router.routes.append(Route(path, endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with anyio.create_task_group() as tg:
            tools.task_group = tg
            try:
                async with inner(a) as state:
                    yield state
            finally:
                tools.task_group = None
                tg.cancel_scope.cancel()  # the session manager, if it was started

    app.router.lifespan_context = lifespan
