"""A fake HaloPSA, from https://halopsa.com/apidoc/: ``POST /auth/token?tenant=`` (form
``grant_type=client_credentials``, ``client_id``, ``client_secret``, ``scope``; 400
``invalid_client`` for a bad pair) and the bearer token on ``/api``: ``GET /api/Agent/me``,
``GET /api/Tickets/{id}`` (``summary``, ``status_id``), ``GET /api/Status/{id}``, ``GET
/api/Actions?ticket_id=``, ``POST /api/Actions`` with a JSON array (``timetaken`` decimal
hours). ``expire_tokens()`` makes every issued token stale, as when one expires mid-run."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Body, FastAPI, Form, Request
from fastapi.responses import JSONResponse

from tests.fakes.psa.base import FakePsa

CLIENT_ID = "halo-client-5e6f7a8b"
CLIENT_SECRET = "halo-secret-2b4d6f8a0c1e"
TENANT = "acmemsp"
STATUSES = {1: "New", 2: "In Progress", 9: "Closed"}


class FakeHalo(FakePsa):
    kind = "halopsa"

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.token_requests = 0
        super().__init__()

    def public(self, request: Request) -> bool:
        return request.url.path == "/auth/token"

    def authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.tokens

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def add_ticket(self, number: int, title: str, status: str = "New") -> dict[str, Any]:
        code = {v: k for k, v in STATUSES.items()}[status]
        self.tickets[number] = {"id": number, "summary": title, "status_id": code}
        return self.tickets[number]

    def routes(self, app: FastAPI) -> None:
        @app.post("/auth/token")
        def token(
            tenant: str | None = None,
            grant_type: str = Form(...),
            client_id: str = Form(...),
            client_secret: str = Form(...),
            scope: str = Form("all"),
        ) -> Any:
            self.token_requests += 1
            if grant_type != "client_credentials" or tenant != TENANT:
                return JSONResponse({"error": "unsupported_grant_type"}, 400)
            if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
                return JSONResponse({"error": "invalid_client"}, 400)
            value = secrets.token_hex(16)
            self.tokens.add(value)
            return {"access_token": value, "token_type": "Bearer", "expires_in": 3600, "scope": scope}

        @app.get("/api/Agent/me")
        def me() -> Any:
            return {"id": 3, "name": "API Agent"}

        @app.get("/api/Tickets/{tid}")
        def ticket(tid: int) -> Any:
            return self.tickets.get(tid) or JSONResponse({"message": "Ticket not found"}, 404)

        @app.get("/api/Status/{sid}")
        def status(sid: int) -> Any:
            return {"id": sid, "name": STATUSES[sid]}

        @app.get("/api/Actions")
        def actions(ticket_id: int) -> Any:
            found = [a for a in self.notes + self.times if a["ticket_id"] == ticket_id]
            return {"record_count": len(found), "actions": found}

        @app.post("/api/Actions")
        def add(body: list[dict[str, Any]] = Body(...)) -> Any:
            out = []
            for action in body:
                if action.get("ticket_id") not in self.tickets:
                    return JSONResponse({"message": "Ticket not found"}, 404)
                row = {"id": self.next_id(), **action}
                (self.times if action.get("timetaken") else self.notes).append(row)
                out.append(row)
            self.created()
            return out[0] if len(out) == 1 else out
