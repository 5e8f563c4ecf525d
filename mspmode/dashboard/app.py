"""``create_dashboard(runtime)``: the dashboard as an ASGI app of its own, mounted at ``/`` by the
composition root (``mspmode/server.py``) after the API and MCP routes.

Errors become pages: not signed in → the sign-in page (then back), a one-time password → the
password page, another client's row or an unknown id → 404, a refused action or a form without
its CSRF token → 403, bad input → 422 with the reason.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mspmode.dashboard.routes import ROUTERS
from mspmode.dashboard.web import HERE, Guard, MustChangePassword, redirect, render
from mspmode.errors import AuthenticationError, MSPError
from mspmode.services.runtime import Runtime


def create_dashboard(rt: Runtime) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = rt
    app.add_middleware(Guard)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(AuthenticationError)
    async def _sign_in(request: Request, exc: AuthenticationError) -> Response:
        return redirect("/signin?next=" + quote(request.url.path, safe="/"))

    @app.exception_handler(MustChangePassword)
    async def _password(request: Request, exc: MustChangePassword) -> Response:
        return redirect("/password")

    @app.exception_handler(MSPError)
    async def _error(request: Request, exc: MSPError) -> HTMLResponse:
        return render(request, "error.html", status=exc.status_code, message=str(exc), code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html", status=exc.status_code, message=message, code=exc.status_code)

    for router in ROUTERS:
        app.include_router(router)
    return app
