"""A fake ConnectWise PSA, from https://developer.connectwise.com/Products/ConnectWise_PSA/REST:
``/v4_6_release/apis/3.0`` with ``Authorization: Basic company+public:private`` and the
``clientId`` header; ``GET /system/info``; ``GET /service/tickets/{id}`` (``summary``,
``status.name``); ``GET|POST /service/tickets/{id}/notes``; ``GET|POST /time/entries``
(``conditions`` on ``chargeToId``; ``actualHours`` decimal hours; ``timeStart``/``timeEnd``
without fractions of a second)."""

from __future__ import annotations

import base64
import re
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.psa.base import FakePsa

COMPANY = "acmemsp"
PUBLIC_KEY = "pubKeyAbc123"
PRIVATE_KEY = "cw-private-9d7e5c3a1f"
CLIENT_ID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
ROOT = "/v4_6_release/apis/3.0"
_WHOLE_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class FakeConnectWise(FakePsa):
    kind = "connectwise"

    def authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{COMPANY}+{PUBLIC_KEY}:{PRIVATE_KEY}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}" and (
            request.headers.get("clientid") == CLIENT_ID
        )

    def add_ticket(self, number: int, title: str, status: str = "New") -> dict[str, Any]:
        self.tickets[number] = {"id": number, "summary": title, "status": {"id": 1, "name": status}}
        return self.tickets[number]

    def routes(self, app: FastAPI) -> None:
        missing = {"code": "NotFound", "message": "Ticket not found"}

        @app.get(ROOT + "/system/info")
        def info() -> Any:
            return {"version": "v2026.1", "isCloud": True}

        @app.get(ROOT + "/service/tickets/{tid}")
        def ticket(tid: int) -> Any:
            return self.tickets.get(tid) or JSONResponse(missing, 404)

        @app.get(ROOT + "/service/tickets/{tid}/notes")
        def notes(tid: int) -> Any:
            if tid not in self.tickets:
                return JSONResponse(missing, 404)
            return [n for n in self.notes if n["ticketId"] == tid]

        @app.post(ROOT + "/service/tickets/{tid}/notes")
        def add_note(tid: int, body: dict[str, Any] = Body(...)) -> Any:
            if tid not in self.tickets:
                return JSONResponse(missing, 404)
            if not body.get("text"):
                return JSONResponse({"code": "InvalidObject", "message": "text is required"}, 400)
            row = {"id": self.next_id(), "ticketId": tid, **body}
            self.notes.append(row)
            self.created()
            return JSONResponse(row, 201)

        @app.get(ROOT + "/time/entries")
        def entries(conditions: str = "") -> Any:
            match = re.search(r"chargeToId\s*=\s*(\d+)", conditions)
            return [t for t in self.times if match is None or t["chargeToId"] == int(match.group(1))]

        @app.post(ROOT + "/time/entries")
        def add_entry(body: dict[str, Any] = Body(...)) -> Any:
            if body.get("chargeToType") != "ServiceTicket" or body.get("chargeToId") not in self.tickets:
                return JSONResponse({"code": "InvalidObject", "message": "chargeToId: no such ticket"}, 400)
            if not all(_WHOLE_SECONDS.match(str(body.get(k, ""))) for k in ("timeStart", "timeEnd")):
                return JSONResponse({"code": "InvalidObject", "message": "timeStart/timeEnd format"}, 400)
            if body.get("billableOption") not in ("Billable", "DoNotBill", "NoCharge", "NoDefault"):
                return JSONResponse({"code": "InvalidObject", "message": "billableOption"}, 400)
            row = {"id": self.next_id(), **body}
            self.times.append(row)
            self.created()
            return JSONResponse(row, 201)
