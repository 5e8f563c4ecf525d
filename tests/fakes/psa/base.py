"""What every fake PSA shares: its tickets and what was posted to them, the requests it saw,
and knobs to make it fail the way real PSAs do (a scripted status with headers, a slow answer,
an answer held back after the entry was stored).

A fake is a FastAPI app served by uvicorn in a thread on 127.0.0.1 (tests/servers.py). Each
vendor's module implements the endpoints its adapter uses, from the vendor's documentation
(cited there), and refuses requests without the vendor's kind of credentials.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.servers import serve_in_thread


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class FakePsa:
    kind = ""

    def __init__(self) -> None:
        self.tickets: dict[int, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []
        self.times: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.script: list[Scripted] = []
        self.delay_s = 0.0
        # Set to an Event: a create stores its entry, then waits for the event before answering
        # (the PSA did the work; the caller never hears of it).
        self.hold_after_create: threading.Event | None = None
        self.held = threading.Event()
        self.lock = threading.Lock()
        self._ids = itertools.count(1001)
        self.app = FastAPI()
        self.app.middleware("http")(self._middleware)
        self.routes(self.app)
        self.base_url = ""

    # -- what a vendor module provides
    def routes(self, app: FastAPI) -> None:
        raise NotImplementedError

    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def public(self, request: Request) -> bool:
        """Paths that need no credentials (a zone lookup, a token request)."""
        return False

    def add_ticket(self, number: int, title: str, status: str = "New") -> dict[str, Any]:
        raise NotImplementedError

    # -- shared
    def next_id(self) -> int:
        return next(self._ids)

    def fail_next(
        self, status: int, headers: dict[str, str] | None = None, body: Any = None, times: int = 1
    ) -> None:
        for _ in range(times):
            self.script.append(Scripted(status, headers or {}, body))

    def created(self) -> None:
        """Called by a create endpoint once the entry is stored."""
        if self.hold_after_create is not None:
            self.held.set()
            self.hold_after_create.wait(60)

    async def _middleware(self, request: Request, call_next: Any) -> Response:
        with self.lock:
            self.requests.append((request.method, request.url.path))
            scripted = self.script.pop(0) if self.script else None
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if scripted is not None:
            return JSONResponse(
                scripted.body or {"error": "scripted"}, scripted.status, headers=scripted.headers
            )
        if not self.public(request) and not self.authorized(request):
            return JSONResponse({"message": "unauthorized"}, 401)
        response: Response = await call_next(request)
        return response

    def posts(self) -> int:
        return len(self.notes) + len(self.times)

    @contextmanager
    def serve(self) -> Iterator[FakePsa]:
        with serve_in_thread(self.app) as base:
            self.base_url = base
            yield self
