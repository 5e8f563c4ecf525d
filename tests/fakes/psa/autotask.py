"""A fake Autotask, from https://ww1.autotask.net/help/DeveloperHelp/Content/APIs/REST/REST_API_Home.htm:
the zone lookup ``GET …/V1.0/zoneInformation?user=`` (answers with this fake's zone 5), the
``ApiIntegrationCode``/``UserName``/``Secret`` headers, ``GET /V1.0/{Entity}/query?search=``
with ``eq`` and ``contains`` filters (Tickets, TicketNotes, TimeEntries), ``GET
/V1.0/Tickets/{id}`` (``{"item": null}`` when there is none), the status picklist in
``/V1.0/Tickets/entityInformation/fields``, ``POST /V1.0/Tickets/{id}/Notes`` and ``POST
/V1.0/TimeEntries`` (``resourceID`` required, ``hoursWorked`` decimal hours) answering
``{"itemId": …}``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.psa.base import FakePsa

USERNAME = "api-user@msp.example"
SECRET = "autotask-secret-4c8e2a9f1b"
INTEGRATION_CODE = "ATCODE6D2F9A8B3C1E"
ZONE = "/zone5/ATServicesRest"
STATUSES = {"1": "New", "5": "Complete", "8": "In Progress"}


class FakeAutotask(FakePsa):
    kind = "autotask"

    def public(self, request: Request) -> bool:
        return request.url.path.endswith("/zoneInformation")

    def authorized(self, request: Request) -> bool:
        h = request.headers
        return (h.get("apiintegrationcode"), h.get("username"), h.get("secret")) == (
            INTEGRATION_CODE,
            USERNAME,
            SECRET,
        )

    def add_ticket(self, number: int, title: str, status: str = "New") -> dict[str, Any]:
        tid = self.next_id()
        code = {v: k for k, v in STATUSES.items()}[status]
        self.tickets[tid] = {
            "id": tid,
            "ticketNumber": f"T20260302.{number:04d}",
            "title": title,
            "status": int(code),
        }
        return self.tickets[tid]

    def routes(self, app: FastAPI) -> None:
        @app.get("/ATServicesRest/V1.0/zoneInformation")
        def zone(user: str) -> Any:
            return {"zoneName": "Zone 5", "url": self.base_url + ZONE + "/", "webUrl": "https://ww5.example/"}

        @app.get(ZONE + "/V1.0/Tickets/entityInformation")
        def info() -> Any:
            return {"info": {"name": "Ticket", "canCreate": True}}

        @app.get(ZONE + "/V1.0/Tickets/entityInformation/fields")
        def fields() -> Any:
            values = [{"value": k, "label": v, "isActive": True} for k, v in STATUSES.items()]
            return {"fields": [{"name": "status", "isPickList": True, "picklistValues": values}]}

        @app.get(ZONE + "/V1.0/{entity}/query")
        def query(entity: str, search: str) -> Any:
            pool = {
                "Tickets": list(self.tickets.values()),
                "TicketNotes": self.notes,
                "TimeEntries": self.times,
            }
            if entity not in pool:
                return JSONResponse({"errors": [f"unknown entity {entity}"]}, 404)
            items = [i for i in pool[entity] if all(_match(i, f) for f in json.loads(search)["filter"])]
            return {"items": items, "pageDetails": {"count": len(items), "nextPageUrl": None}}

        @app.get(ZONE + "/V1.0/Tickets/{tid}")
        def ticket(tid: int) -> Any:
            return {"item": self.tickets.get(tid)}

        @app.post(ZONE + "/V1.0/Tickets/{tid}/Notes")
        def note(tid: int, body: dict[str, Any] = Body(...)) -> Any:
            if tid not in self.tickets:
                return JSONResponse({"errors": ["Ticket not found"]}, 404)
            missing = [
                k for k in ("title", "description", "noteType", "publish") if body.get(k) in (None, "")
            ]
            if missing:
                return JSONResponse({"errors": [f"{m} is required" for m in missing]}, 500)
            row = {"id": self.next_id(), "ticketID": tid, **{k: body[k] for k in ("title", "description")}}
            self.notes.append(row)
            self.created()
            return {"itemId": row["id"]}

        @app.post(ZONE + "/V1.0/TimeEntries")
        def time_entry(body: dict[str, Any] = Body(...)) -> Any:
            if body.get("ticketID") not in self.tickets:
                return JSONResponse({"errors": ["ticketID: no such ticket"]}, 500)
            if not body.get("resourceID") or not body.get("summaryNotes"):
                return JSONResponse({"errors": ["resourceID and summaryNotes are required"]}, 500)
            row = {"id": self.next_id(), **body}
            self.times.append(row)
            self.created()
            return {"itemId": row["id"]}


def _match(item: dict[str, Any], f: dict[str, Any]) -> bool:
    value = item.get(f["field"])
    if f["op"] == "eq":
        return str(value) == str(f["value"])
    if f["op"] == "contains":
        return str(f["value"]) in str(value or "")
    raise ValueError(f"op {f['op']} not in this fake")
