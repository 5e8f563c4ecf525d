"""Autotask (Datto) PSA, REST API v1.0.

Follows Autotask's developer help, https://ww1.autotask.net/help/DeveloperHelp/Content/APIs/REST/REST_API_Home.htm:
authentication by the ``ApiIntegrationCode``, ``UserName`` and ``Secret`` headers of an API-only
user; the zone (``webservicesN.autotask.net``) found with ``GET /V1.0/zoneInformation?user=``;
``GET /V1.0/Tickets/query?search={"filter": …}`` to find a ticket by ``ticketNumber``
(``T20240102.0003``) and ``/V1.0/Tickets/entityInformation/fields`` for the status picklist's
labels; ``POST /V1.0/Tickets/{id}/Notes`` (TicketNotes: ``title``, ``description``,
``noteType``, ``publish``); ``POST /V1.0/TimeEntries`` (``ticketID``, ``resourceID``,
``startDateTime``, ``endDateTime``, ``hoursWorked``, ``summaryNotes``, ``internalNotes``,
``isNonBillable``) and ``/V1.0/TicketNotes/query`` and ``/V1.0/TimeEntries/query`` with a
``contains`` filter to find what was already posted. Units: ``hoursWorked`` in decimal hours
(two places). The integration's ``member`` is the Autotask resource id time is posted as.
"""

from __future__ import annotations

import json
from typing import Any

from mspmode.integrations.psa.base import (
    NoteIn,
    PsaAdapter,
    PsaNotFoundError,
    Ticket,
    TimeIn,
    iso_z,
    marker,
)

# TicketNotes picklists: noteType 1 "Task Summary" and publish 2 "Internal Project Team" in a
# default instance; an integration's settings may name others (note_type, publish).
DEFAULT_NOTE_TYPE = 1
DEFAULT_PUBLISH = 2


class AutotaskAdapter(PsaAdapter):
    kind = "autotask"
    title = "Autotask"
    doc = "https://ww1.autotask.net/help/DeveloperHelp/Content/APIs/REST/REST_API_Home.htm"
    secret_names = ("password", "api_key")  # the API user's Secret, the ApiIntegrationCode
    required = ("username", "member")
    credential_type = "api_key"
    hours_places = 2

    _zone: str | None = None
    _statuses: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        return {
            "ApiIntegrationCode": self.config.secret("api_key"),
            "UserName": self.config.username or "",
            "Secret": self.config.secret("password"),
            "Content-Type": "application/json",
        }

    def zone(self) -> str:
        """The base URL of the zone that holds this user's database (one lookup, cached)."""
        if self._zone is None:
            found = self.config.setting("zone_url")
            if not found:
                answer = self.http.request(
                    "GET", "/V1.0/zoneInformation", params={"user": self.config.username or ""}
                )
                found = (answer or {}).get("url") or self.config.base_url
            self._zone = str(found).rstrip("/")
        return self._zone

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        return self.http.request(method, self.zone() + path, headers=self._headers(), **kw)

    def _query(self, entity: str, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = self._call(
            "GET", f"/V1.0/{entity}/query", params={"search": json.dumps({"filter": filters})}
        )
        return list((answer or {}).get("items") or [])

    def authenticate(self) -> str:
        self._call("GET", "/V1.0/Tickets/entityInformation")
        return f"API user {self.config.username} in zone {self.zone()}"

    def _status_label(self, value: Any) -> str | None:
        if value is None:
            return None
        if self._statuses is None:
            answer = self._call("GET", "/V1.0/Tickets/entityInformation/fields") or {}
            self._statuses = {}
            for f in answer.get("fields") or []:
                if f.get("name") == "status":
                    self._statuses = {str(p["value"]): str(p["label"]) for p in f.get("picklistValues") or []}
        return self._statuses.get(str(value), str(value))

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        return Ticket(
            id=str(raw["id"]),
            number=str(raw.get("ticketNumber") or raw["id"]),
            title=raw.get("title"),
            status=self._status_label(raw.get("status")),
        )

    def find_ticket(self, number: str) -> Ticket:
        items = self._query("Tickets", [{"op": "eq", "field": "ticketNumber", "value": number}])
        if items:
            return self._ticket(items[0])
        if number.isdigit():
            return self.get_ticket(number)
        raise PsaNotFoundError(f"{self.config.label}: no ticket number {number}")

    def get_ticket(self, ticket_id: str) -> Ticket:
        answer = self._call("GET", f"/V1.0/Tickets/{ticket_id}", not_found=f"no ticket with id {ticket_id}")
        raw = (answer or {}).get("item")
        if not raw:
            raise PsaNotFoundError(f"{self.config.label}: no ticket with id {ticket_id}")
        return self._ticket(raw)

    def find_posted(self, ticket: Ticket, kind: str, key: str) -> str | None:
        entity, field = ("TicketNotes", "description") if kind == "note" else ("TimeEntries", "internalNotes")
        items = self._query(
            entity,
            [
                {"op": "eq", "field": "ticketID", "value": int(ticket.id)},
                {"op": "contains", "field": field, "value": marker(key)},
            ],
        )
        return str(items[0]["id"]) if items else None

    def post_note(self, ticket: Ticket, note: NoteIn) -> str:
        answer = self._call(
            "POST",
            f"/V1.0/Tickets/{ticket.id}/Notes",
            json_body={
                "ticketID": int(ticket.id),
                "title": "MSP Mode session note",
                "description": note.text,
                "noteType": int(self.config.setting("note_type") or DEFAULT_NOTE_TYPE),
                "publish": int(self.config.setting("publish") or DEFAULT_PUBLISH),
            },
            action="created",
            not_found=f"no ticket with id {ticket.id}",
        )
        return str(answer["itemId"])

    def post_time(self, ticket: Ticket, entry: TimeIn) -> str:
        assert entry.hours is not None
        member = entry.member or self.config.setting("member")
        answer = self._call(
            "POST",
            "/V1.0/TimeEntries",
            json_body={
                "ticketID": int(ticket.id),
                "resourceID": int(member),
                "dateWorked": entry.started_at.date().isoformat(),
                "startDateTime": iso_z(entry.started_at),
                "endDateTime": iso_z(entry.ended_at),
                "hoursWorked": float(entry.hours),
                "summaryNotes": entry.note.splitlines()[0],
                "internalNotes": entry.note,
                "isNonBillable": not entry.billable,
            },
            action="created",
        )
        return str(answer["itemId"])
