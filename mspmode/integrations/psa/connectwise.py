"""ConnectWise PSA (Manage), REST API 3.0.

Follows ConnectWise's developer documentation, https://developer.connectwise.com/Products/ConnectWise_PSA/REST
(Service › Tickets and TicketNotes, Time › TimeEntries, System › Info): base URL
``https://{site}/v4_6_release/apis/3.0``; ``Authorization: Basic base64("{company}+{public
key}:{private key}")`` and the ``clientId`` header of the registered integration; ``GET
/service/tickets/{id}`` (the ticket number people say is its id; ``status.name``, ``summary``);
``POST /service/tickets/{id}/notes`` (``text``, ``internalAnalysisFlag``); ``POST /time/entries``
(``chargeToId``, ``chargeToType`` "ServiceTicket", ``member.identifier``, ``timeStart``,
``timeEnd``, ``actualHours``, ``billableOption`` "Billable"/"DoNotBill", ``notes``,
``internalNotes``); lists filtered with ``conditions``. Units: ``actualHours`` in decimal hours
(two places); times in UTC, whole seconds, ``Z``.
"""

from __future__ import annotations

import base64
from typing import Any

from mspmode.integrations.psa.base import (
    NoteIn,
    PsaAdapter,
    Ticket,
    TimeIn,
    iso_z,
    marker,
)

PAGE = 1000


class ConnectWiseAdapter(PsaAdapter):
    kind = "connectwise"
    title = "ConnectWise PSA"
    doc = "https://developer.connectwise.com/Products/ConnectWise_PSA/REST"
    secret_names = ("password",)  # the API member's private key
    required = ("username", "client_id")  # "company+publickey", the integration's clientId
    credential_type = "basic_auth"
    hours_places = 2

    def _headers(self) -> dict[str, str]:
        pair = f"{self.config.username}:{self.config.secret('password')}".encode()
        return {
            "Authorization": "Basic " + base64.b64encode(pair).decode(),
            "clientId": self.config.client_id or "",
            "Accept": "application/json",
        }

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        return self.http.request(method, path, headers=self._headers(), **kw)

    def authenticate(self) -> str:
        info = self._call("GET", "/system/info") or {}
        company = (self.config.username or "").split("+", 1)[0]
        return f"company {company}, ConnectWise {info.get('version', '?')}"

    def find_ticket(self, number: str) -> Ticket:
        return self.get_ticket(number)

    def get_ticket(self, ticket_id: str) -> Ticket:
        raw = self._call("GET", f"/service/tickets/{ticket_id}", not_found=f"no ticket {ticket_id}")
        status = raw.get("status") or {}
        return Ticket(
            id=str(raw["id"]),
            number=str(raw["id"]),
            title=raw.get("summary"),
            status=status.get("name") if isinstance(status, dict) else str(status),
        )

    def find_posted(self, ticket: Ticket, kind: str, key: str) -> str | None:
        if kind == "note":
            items = self._call(
                "GET", f"/service/tickets/{ticket.id}/notes", params={"pageSize": PAGE}, not_found="no ticket"
            )
            texts: tuple[str, ...] = ("text",)
        else:
            condition = f'chargeToType="ServiceTicket" AND chargeToId={int(ticket.id)}'
            items = self._call("GET", "/time/entries", params={"conditions": condition, "pageSize": PAGE})
            texts = ("internalNotes", "notes")
        for item in items or []:
            if any(marker(key) in str(item.get(t) or "") for t in texts):
                return str(item["id"])
        return None

    def post_note(self, ticket: Ticket, note: NoteIn) -> str:
        answer = self._call(
            "POST",
            f"/service/tickets/{ticket.id}/notes",
            json_body={
                "text": note.text,
                "internalAnalysisFlag": True,
                "detailDescriptionFlag": False,
                "resolutionFlag": False,
            },
            action="created",
            not_found=f"no ticket {ticket.id}",
        )
        return str(answer["id"])

    def post_time(self, ticket: Ticket, entry: TimeIn) -> str:
        assert entry.hours is not None
        body: dict[str, Any] = {
            "chargeToId": int(ticket.id),
            "chargeToType": "ServiceTicket",
            "timeStart": iso_z(entry.started_at),
            "timeEnd": iso_z(entry.ended_at),
            "actualHours": float(entry.hours),
            "billableOption": "Billable" if entry.billable else "DoNotBill",
            "notes": entry.note.splitlines()[0],
            "internalNotes": entry.note,
        }
        member = entry.member or self.config.setting("member")
        if member:
            body["member"] = {"identifier": str(member)}
        return str(self._call("POST", "/time/entries", json_body=body, action="created")["id"])
