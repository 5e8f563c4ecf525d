"""``/api/docs``: Swagger UI served from this server, never from a CDN.

Its files come from the pinned ``fastapi-offline`` package (MIT), which ships Swagger UI's
``dist`` build (Apache License 2.0, SmartBear Software); they are served as they are, from the
installed package, licence headers included. The page has no inline script or style, so its
Content-Security-Policy allows only this origin.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mspmode.api.deps import access

DOCS = "/api/docs"
ASSETS = f"{DOCS}/assets"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# Swagger UI's own files change only with the pinned package: a browser may keep them a day.
_ASSET_CACHE = b"public, max-age=86400"

_INIT = """\
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
"""


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


class _Cached:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                message["headers"] = [*message["headers"], (b"cache-control", _ASSET_CACHE)]
            await send(message)

        await self.app(scope, receive, send_cached)


def mount(app: FastAPI) -> None:
    """Serve the docs page, its start-up script and Swagger UI's files under ``/api/docs``."""
    openapi_url = app.openapi_url or "/api/openapi.json"

    @app.get(DOCS, include_in_schema=False, openapi_extra=access(public=True))
    def docs_page(request: Request) -> HTMLResponse:
        root = escape(request.scope.get("root_path", ""), quote=True)
        page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(app.title)} API</title>
<link rel="icon" href="{root}{ASSETS}/favicon.png">
<link rel="stylesheet" href="{root}{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}{escape(openapi_url, quote=True)}"></div>
<script src="{root}{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{root}{DOCS}/init.js"></script>
</body>
</html>
"""
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})

    @app.get(f"{DOCS}/init.js", include_in_schema=False, openapi_extra=access(public=True))
    def docs_script() -> Response:
        return Response(_INIT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    app.mount(ASSETS, _Cached(StaticFiles(directory=assets_dir())), name="docs-assets")
