"""A fake ITFlow, from the header comments of ITFlow's API v1 endpoints
(https://github.com/itflow-org/itflow/tree/master/api/v1): ``validate_api_key.php`` (``api_key``
in the query of a GET or the JSON body of a POST; 401 otherwise), ``tickets/read.php``
(``ticket_id``, or all tickets by ``limit``/``offset``), ``ticket_replies/read.php``
(``ticket_id``, ``type``) and ``ticket_replies/create.php`` (``ticket_reply_time_worked``
``HH:MM:SS``, validated as the endpoint does). Answers are ``{"success": "True"|"False", …}``."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.psa.base import FakePsa

API_KEY = "itflow-key-8a1c3e5g7i9k"
STATUS_NAMES = {"New": 1, "Open": 2, "Resolved": 4}
_HMS = re.compile(r"^\d{1,3}:[0-5]\d:[0-5]\d$")


def _out(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {
            "success": "False",
            "message": "No resource (for this client and company) with the specified parameter(s).",
        }
    return {"success": "True", "count": len(rows), "data": rows}


class FakeITFlow(FakePsa):
    kind = "itflow"

    def authorized(self, request: Request) -> bool:
        if request.method == "GET":
            return request.query_params.get("api_key") == API_KEY
        return True  # POST: the key is in the JSON body, checked by the endpoint

    def add_ticket(self, number: int, title: str, status: str = "New") -> dict[str, Any]:
        tid = self.next_id()
        self.tickets[tid] = {
            "ticket_id": tid,
            "ticket_prefix": "TCK-",
            "ticket_number": number,
            "ticket_subject": title,
            "ticket_status": STATUS_NAMES[status],
            "ticket_status_name": status,
        }
        return self.tickets[tid]

    def routes(self, app: FastAPI) -> None:
        @app.get("/api/v1/tickets/read.php")
        def tickets(ticket_id: int | None = None, limit: int = 50, offset: int = 0) -> Any:
            if ticket_id is not None:
                return _out([self.tickets[ticket_id]] if ticket_id in self.tickets else [])
            return _out(list(self.tickets.values())[offset : offset + limit])

        @app.get("/api/v1/ticket_replies/read.php")
        def replies(ticket_id: int, type: str = "", limit: int = 50) -> Any:
            rows = [r for r in self.notes + self.times if r["ticket_reply_ticket_id"] == ticket_id]
            return _out([r for r in rows if not type or r["ticket_reply_type"] == type][:limit])

        @app.post("/api/v1/ticket_replies/create.php")
        async def create(request: Request) -> Any:
            body = json.loads(await request.body())
            if body.get("api_key") != API_KEY:
                return JSONResponse({"success": "False", "message": "Authentication failed."}, 401)
            worked = body.get("ticket_reply_time_worked", "00:00:00")
            worked = worked if _HMS.match(worked) else "00:00:00"
            tid = int(body.get("ticket_id") or 0)
            if tid not in self.tickets or not body.get("ticket_reply"):
                return {"success": "False", "message": "Auth success but insert query failed"}
            row = {
                "ticket_reply_id": self.next_id(),
                "ticket_reply_ticket_id": tid,
                "ticket_reply": body["ticket_reply"],
                "ticket_reply_type": body.get("ticket_reply_type", "Internal"),
                "ticket_reply_time_worked": worked,
            }
            (self.times if worked != "00:00:00" else self.notes).append(row)
            self.created()
            return {"success": "True", "count": "1", "data": [{"insert_id": row["ticket_reply_id"]}]}
