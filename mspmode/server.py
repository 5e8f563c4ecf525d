"""The application ``msp serve`` runs: the REST API with the MCP tools mounted at ``/mcp`` and
the web dashboard at ``/``.

The composition root: the one module that puts the interface layers together (the API, the CLI
and the MCP server never import each other; see tests/test_layering.py). ``msp serve`` and the
tests start it by import string, ``mspmode.server:create_app``.

The dashboard (Jinja2, Markdown) and the MCP tools (the MCP SDK: ~0.8 s of imports) are built
on their first request, not at start: a hook's first call after the local service starts does
not wait for code it does not use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio.to_thread
from fastapi import FastAPI
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from mspmode.api import app as api
from mspmode.db.session import Database
from mspmode.mcp import http as mcp_http
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    app = api.create_app(settings, db)
    mcp_http.mount(app, app.state.runtime)
    app.router.routes.append(_Dashboard(app.state.runtime))
    return app


class BuiltOnFirstUse:
    """An ASGI app made by ``build`` on its first request (in a worker thread: building it
    imports), then served as it is."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    def get(self) -> ASGIApp:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:
            app = await anyio.to_thread.run_sync(self.get)
        await app(scope, receive, send)


def _dashboard(rt: Runtime) -> ASGIApp:
    from mspmode.dashboard import create_dashboard

    return create_dashboard(rt)


class _Dashboard(Mount):
    """The dashboard at ``/``, for every path the API and MCP do not own: an unknown ``/api``
    path stays the API's JSON 404."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__("", app=BuiltOnFirstUse(lambda: _dashboard(rt)), name="dashboard")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith(("/api/", "/mcp")):
            return Match.NONE, {}
        return super().matches(scope)
