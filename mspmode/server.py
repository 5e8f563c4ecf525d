"""The application ``msp serve`` runs: the REST API with the MCP tools mounted at ``/mcp``.

The composition root: the one module that puts the interface layers together (the API, the CLI
and the MCP server never import each other; see tests/test_layering.py). ``msp serve`` and the
tests start it by import string, ``mspmode.server:create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from mspmode.api import app as api
from mspmode.db.session import Database
from mspmode.mcp import http as mcp_http
from mspmode.settings import Settings


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    app = api.create_app(settings, db)
    mcp_http.mount(app, app.state.runtime)
    return app
