"""Application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import mspmode
from mspmode.api.routers import health
from mspmode.db.session import Database
from mspmode.errors import MSPError
from mspmode.settings import Settings


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    database = db or Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        title="MSP Mode",
        version=mspmode.__version__,
        summary="Memory that learns for MSP technicians and their AI agents.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database

    @app.exception_handler(MSPError)
    async def _msp_error(_: Request, exc: MSPError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": {"type": type(exc).__name__, "message": str(exc)}},
        )

    app.include_router(health.router, prefix="/api")
    return app
