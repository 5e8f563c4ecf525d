"""ITFlow, API v1.

Follows the header comments of ITFlow's own endpoints, which are its API documentation
(https://github.com/itflow-org/itflow/tree/master/api/v1): ``validate_api_key.php`` (the key as
``api_key`` in the query string of a GET or in the JSON body of a POST; 401 when it is wrong or
expired, 403 when the key's user lacks the module), ``tickets/read.php`` (``ticket_id``, or all
tickets paged by ``limit``/``offset``: found by ``ticket_number``), ``ticket_replies/create.php``
(``ticket_id``, ``ticket_reply`` HTML, ``ticket_reply_type`` "Internal", ``ticket_reply_time_worked``
``HH:MM:SS``) and ``ticket_replies/read.php`` (``ticket_id``, ``type``). Answers carry
``success`` "True"/"False" and ``data``. A note is an internal reply without time; a time entry
an internal reply with its time worked. Units: ``HH:MM:SS``.
"""

from __future__ import annotations

import html
from typing import Any

from mspmode.integrations.psa import units
from mspmode.integrations.psa.base import (
    NoteIn,
    PsaAdapter,
    PsaNotFoundError,
    PsaRejectedError,
    Ticket,
    TimeIn,
    marker,
)

PAGE = 200
MAX_PAGES = 50


class ITFlowAdapter(PsaAdapter):
    kind = "itflow"
    title = "ITFlow"
    doc = "https://github.com/itflow-org/itflow/tree/master/api/v1"
    secret_names = ("api_key",)

    def _read(self, path: str, **params: Any) -> list[dict[str, Any]]:
        answer = self.http.request(
            "GET", f"/api/v1/{path}", params={"api_key": self.config.secret("api_key"), **params}
        )
        if not isinstance(answer, dict) or answer.get("success") != "True":
            return []
        return list(answer.get("data") or [])

    def authenticate(self) -> str:
        self._read("tickets/read.php", limit=1)
        return "API key accepted"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        return Ticket(
            id=str(raw["ticket_id"]),
            number=f"{raw.get('ticket_prefix') or ''}{raw.get('ticket_number')}",
            title=raw.get("ticket_subject"),
            status=raw.get("ticket_status_name")
            or (str(raw["ticket_status"]) if "ticket_status" in raw else None),
        )

    def find_ticket(self, number: str) -> Ticket:
        wanted = number.strip().lstrip("#")
        digits = wanted.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")
        for page in range(MAX_PAGES):
            rows = self._read("tickets/read.php", limit=PAGE, offset=page * PAGE)
            for raw in rows:
                full = f"{raw.get('ticket_prefix') or ''}{raw.get('ticket_number')}"
                if str(raw.get("ticket_number")) == digits or full == wanted:
                    return self.get_ticket(str(raw["ticket_id"]))
            if len(rows) < PAGE:
                break
        raise PsaNotFoundError(f"{self.config.label}: no ticket number {number}")

    def get_ticket(self, ticket_id: str) -> Ticket:
        rows = self._read("tickets/read.php", ticket_id=ticket_id)
        if not rows:
            raise PsaNotFoundError(f"{self.config.label}: no ticket with id {ticket_id}")
        return self._ticket(rows[0])

    def find_posted(self, ticket: Ticket, kind: str, key: str) -> str | None:
        for reply in self._read("ticket_replies/read.php", ticket_id=ticket.id, type="Internal", limit=1000):
            if marker(key) in str(reply.get("ticket_reply") or ""):
                return str(reply["ticket_reply_id"])
        return None

    def _reply(self, ticket: Ticket, text: str, minutes: int) -> str:
        body: dict[str, Any] = {
            "api_key": self.config.secret("api_key"),
            "ticket_id": int(ticket.id),
            "ticket_reply": html.escape(text).replace("\n", "<br>"),
            "ticket_reply_type": "Internal",
            "ticket_reply_time_worked": units.hms(minutes),
        }
        if self.config.setting("client_id"):
            body["client_id"] = int(self.config.setting("client_id"))
        answer = self.http.request(
            "POST", "/api/v1/ticket_replies/create.php", json_body=body, action="created"
        )
        if not isinstance(answer, dict) or answer.get("success") != "True":
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise PsaRejectedError(f"{self.config.label}: the reply was not created: {message}")
        return str(answer["data"][0]["insert_id"])

    def post_note(self, ticket: Ticket, note: NoteIn) -> str:
        return self._reply(ticket, note.text, 0)

    def post_time(self, ticket: Ticket, entry: TimeIn) -> str:
        return self._reply(ticket, entry.note, entry.minutes)
