"""The application ``msp serve`` runs: the REST API with the MCP tools mounted at ``/mcp`` and
the web dashboard at ``/``.

The composition root: the one module that puts the interface layers together (the API, the CLI
and the MCP server never import each other; see tests/test_layering.py). ``msp serve`` and the
tests start it by import string, ``mspmode.server:create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Match, Mount
from starlette.types import Scope

from mspmode.api import app as api
from mspmode.dashboard import create_dashboard
from mspmode.db.session import Database
from mspmode.mcp import http as mcp_http
from mspmode.settings import Settings


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    app = api.create_app(settings, db)
    mcp_http.mount(app, app.state.runtime)
    app.router.routes.append(_Dashboard(create_dashboard(app.state.runtime)))
    return app


class _Dashboard(Mount):
    """The dashboard at ``/``, for every path the API and MCP do not own: an unknown ``/api``
    path stays the API's JSON 404."""

    def __init__(self, dashboard: FastAPI) -> None:
        super().__init__("", app=dashboard, name="dashboard")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith(("/api/", "/mcp")):
            return Match.NONE, {}
        return super().matches(scope)
