"""SyncroMSP, REST API v1.

Follows Syncro's published API reference, https://api-docs.syncromsp.com/ (the swagger Syncro
shares with RepairShopr): ``GET /me``; ``GET /tickets?number=N`` (a ticket's ``number`` is what
people say, its ``id`` what the API takes); ``GET /tickets/{id}`` (with its ``comments`` and
``ticket_timers``); ``POST /tickets/{id}/comment`` (``subject``, ``body``, ``hidden``,
``do_not_email``); ``POST /tickets/{id}/timer_entry`` (``start_at``, ``end_at``, ``notes``,
``user_id``, ``billable``). The API key goes in the ``Authorization`` header (never in the URL).
Units: a timer is given by its start and end (whole minutes apart) and read back as
``active_duration`` in seconds.
"""

from __future__ import annotations

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


class SyncroAdapter(PsaAdapter):
    kind = "syncro"
    title = "SyncroMSP"
    doc = "https://api-docs.syncromsp.com/"
    secret_names = ("api_key",)

    def _get(self, path: str, **kw: Any) -> Any:
        return self.http.request("GET", path, headers=self._headers(), **kw)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.secret('api_key')}", "Accept": "application/json"}

    def authenticate(self) -> str:
        me = self._get("/me") or {}
        return f"user {me.get('user_name') or me.get('user_id') or '?'}"

    def _ticket(self, raw: dict[str, Any]) -> Ticket:
        return Ticket(
            id=str(raw["id"]),
            number=str(raw.get("number", raw["id"])),
            title=raw.get("subject"),
            status=raw.get("status"),
        )

    def find_ticket(self, number: str) -> Ticket:
        found = self._get("/tickets", params={"number": number}) or {}
        for raw in found.get("tickets") or []:
            if str(raw.get("number")) == str(number):
                return self._ticket(raw)
        raise PsaNotFoundError(f"{self.config.label}: no ticket number {number}")

    def _full(self, ticket_id: str) -> dict[str, Any]:
        answer = self._get(f"/tickets/{ticket_id}", not_found=f"no ticket with id {ticket_id}") or {}
        raw = answer.get("ticket")
        if not raw:
            raise PsaNotFoundError(f"{self.config.label}: no ticket with id {ticket_id}")
        return dict(raw)

    def get_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self._full(ticket_id))

    def find_posted(self, ticket: Ticket, kind: str, key: str) -> str | None:
        raw = self._full(ticket.id)
        items, text = (raw.get("comments"), "body") if kind == "note" else (raw.get("ticket_timers"), "notes")
        for item in items or []:
            if marker(key) in str(item.get(text) or ""):
                return str(item["id"])
        return None

    def post_note(self, ticket: Ticket, note: NoteIn) -> str:
        answer = self.http.request(
            "POST",
            f"/tickets/{ticket.id}/comment",
            headers=self._headers(),
            json_body={"subject": "MSP Mode", "body": note.text, "hidden": True, "do_not_email": True},
            action="created",
            not_found=f"no ticket with id {ticket.id}",
        )
        return str((answer or {}).get("comment", answer)["id"])

    def post_time(self, ticket: Ticket, entry: TimeIn) -> str:
        body: dict[str, Any] = {
            "start_at": iso_z(entry.started_at),
            "end_at": iso_z(entry.ended_at),
            "notes": entry.note,
            "billable": entry.billable,
        }
        if entry.member:
            body["user_id"] = int(entry.member)
        answer = self.http.request(
            "POST",
            f"/tickets/{ticket.id}/timer_entry",
            headers=self._headers(),
            json_body=body,
            action="created",
            not_found=f"no ticket with id {ticket.id}",
        )
        return str(answer["id"])
