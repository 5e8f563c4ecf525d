"""A fake SyncroMSP, from https://api-docs.syncromsp.com/ (REST API v1): ``GET /api/v1/me``,
``GET /api/v1/tickets?number=``, ``GET /api/v1/tickets/{id}`` (with ``comments`` and
``ticket_timers``), ``POST /api/v1/tickets/{id}/comment``, ``POST /api/v1/tickets/{id}/timer_entry``
(``start_at``/``end_at``; ``active_duration`` in seconds). The API key in ``Authorization``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.psa.base import FakePsa

API_KEY = "syncro-key-7f3a9c1e5b2d"


class FakeSyncro(FakePsa):
    kind = "syncro"

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {API_KEY}"

    def add_ticket(self, number: int, title: str, status: str = "New") -> dict[str, Any]:
        tid = self.next_id()
        self.tickets[tid] = {"id": tid, "number": number, "subject": title, "status": status}
        return self.tickets[tid]

    def _full(self, tid: int) -> dict[str, Any]:
        return {
            **self.tickets[tid],
            "comments": [n for n in self.notes if n["ticket_id"] == tid],
            "ticket_timers": [t for t in self.times if t["ticket_id"] == tid],
        }

    def routes(self, app: FastAPI) -> None:
        @app.get("/api/v1/me")
        def me() -> Any:
            return {"user_id": 7, "user_name": "API Tech"}

        @app.get("/api/v1/tickets")
        def tickets(number: str | None = None) -> Any:
            found = [t for t in self.tickets.values() if number is None or str(t["number"]) == number]
            return {"tickets": found, "meta": {"total_pages": 1, "page": 1}}

        @app.get("/api/v1/tickets/{tid}")
        def ticket(tid: int) -> Any:
            if tid not in self.tickets:
                return JSONResponse({"message": "Not found"}, 404)
            return {"ticket": self._full(tid)}

        @app.post("/api/v1/tickets/{tid}/comment")
        def comment(tid: int, body: dict[str, Any] = Body(...)) -> Any:
            if tid not in self.tickets:
                return JSONResponse({"message": "Not found"}, 404)
            if not body.get("subject") or not body.get("body"):
                return JSONResponse({"success": False, "message": ["Body can't be blank"]}, 422)
            row = {
                "id": self.next_id(),
                "ticket_id": tid,
                "subject": body["subject"],
                "body": body["body"],
                "hidden": bool(body.get("hidden")),
                "user_id": 7,
            }
            self.notes.append(row)
            self.created()
            return {"comment": row}

        @app.post("/api/v1/tickets/{tid}/timer_entry")
        def timer(tid: int, body: dict[str, Any] = Body(...)) -> Any:
            if tid not in self.tickets:
                return JSONResponse({"message": "Not found"}, 404)
            start = datetime.fromisoformat(body["start_at"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(body["end_at"].replace("Z", "+00:00"))
            row = {
                "id": self.next_id(),
                "ticket_id": tid,
                "user_id": body.get("user_id", 7),
                "start_time": body["start_at"],
                "end_time": body["end_at"],
                "notes": body.get("notes"),
                "billable": bool(body.get("billable")),
                "active_duration": int((end - start).total_seconds()),
            }
            self.times.append(row)
            self.created()
            return row
