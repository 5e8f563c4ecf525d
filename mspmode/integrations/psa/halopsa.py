"""HaloPSA, REST API.

Follows Halo's API documentation, https://halopsa.com/apidoc/ (Authorisation; resources
Tickets, Actions, Status, Agent): an OAuth 2.0 client-credentials token from the authorisation
server (``POST {base}/auth/token``, form ``grant_type=client_credentials``, ``client_id``,
``client_secret``, ``scope=all``; ``?tenant=`` for hosted instances) sent as a bearer token to
the resource server ``{base}/api``; ``GET /api/Tickets/{id}`` (the ticket number is its id;
``summary``, ``status_id``) and ``GET /api/Status/{id}`` for the status name; ``POST
/api/Actions`` with a JSON *array* of actions (``ticket_id``, ``outcome``, ``note``,
``hiddenfromuser``, ``timetaken``, ``nonbilltime``, ``actisbillable``); ``GET
/api/Actions?ticket_id=`` to find what was already posted. Units: ``timetaken`` in decimal hours
(four places). A token that expires mid-run is renewed once.
"""

from __future__ import annotations

import time
from typing import Any

from mspmode.integrations.psa.base import (
    NoteIn,
    PsaAdapter,
    PsaAuthError,
    PsaRejectedError,
    Ticket,
    TimeIn,
    iso_z,
    marker,
)


class HaloAdapter(PsaAdapter):
    kind = "halopsa"
    title = "HaloPSA"
    doc = "https://halopsa.com/apidoc/"
    secret_names = ("client_secret",)
    required = ("client_id",)
    credential_type = "oauth"
    hours_places = 4

    _token: str | None = None
    _expires: float = 0.0
    _statuses: dict[str, str] | None = None

    def _auth_url(self) -> str:
        return str(self.config.setting("auth_url") or self.config.base_url.rstrip("/") + "/auth")

    def token(self, *, fresh: bool = False) -> str:
        if fresh or self._token is None or time.monotonic() > self._expires - 60:
            tenant = self.config.setting("tenant")
            try:
                answer = self.http.request(
                    "POST",
                    self._auth_url() + "/token",
                    params={"tenant": tenant} if tenant else None,
                    form={
                        "grant_type": "client_credentials",
                        "client_id": self.config.client_id or "",
                        "client_secret": self.config.secret("client_secret"),
                        "scope": "all",
                    },
                )
            except PsaRejectedError as exc:  # OAuth answers a bad client with 400 invalid_client
                raise PsaAuthError(
                    f"{self.config.label}: the token request was refused ({exc.message.split(': ', 1)[-1]}); "
                    f"check the client id and secret with `msp psa test {self.config.name}`",
                    http_status=exc.http_status,
                ) from None
            self._token = str(answer["access_token"])
            self._expires = time.monotonic() + float(answer.get("expires_in") or 3600)
        return self._token

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        url = self.config.base_url.rstrip("/") + "/api" + path
        try:
            return self.http.request(method, url, headers={"Authorization": f"Bearer {self.token()}"}, **kw)
        except PsaAuthError as exc:
            if exc.http_status != 401:
                raise
            return self.http.request(
                method, url, headers={"Authorization": f"Bearer {self.token(fresh=True)}"}, **kw
            )

    def authenticate(self) -> str:
        me = self._call("GET", "/Agent/me") or {}
        return f"agent {me.get('name') or me.get('id') or '?'}"

    def _status_name(self, status_id: Any) -> str | None:
        if status_id is None:
            return None
        self._statuses = self._statuses or {}
        key = str(status_id)
        if key not in self._statuses:
            raw = self._call("GET", f"/Status/{key}") or {}
            self._statuses[key] = str(raw.get("name") or key)
        return self._statuses[key]

    def find_ticket(self, number: str) -> Ticket:
        return self.get_ticket(number)

    def get_ticket(self, ticket_id: str) -> Ticket:
        raw = self._call("GET", f"/Tickets/{ticket_id}", not_found=f"no ticket {ticket_id}")
        return Ticket(
            id=str(raw["id"]),
            number=str(raw["id"]),
            title=raw.get("summary"),
            status=self._status_name(raw.get("status_id")),
        )

    def find_posted(self, ticket: Ticket, kind: str, key: str) -> str | None:
        answer = self._call(
            "GET", "/Actions", params={"ticket_id": ticket.id, "excludesys": "true", "count": 1000}
        )
        for action in (answer or {}).get("actions") or []:
            if marker(key) in str(action.get("note") or ""):
                return str(action["id"])
        return None

    def _post(self, ticket: Ticket, action: dict[str, Any]) -> str:
        answer = self._call(
            "POST",
            "/Actions",
            json_body=[{"ticket_id": int(ticket.id), "hiddenfromuser": True, **action}],
            action="created",
            not_found=f"no ticket {ticket.id}",
        )
        created = answer[0] if isinstance(answer, list) else answer
        return str(created["id"])

    def post_note(self, ticket: Ticket, note: NoteIn) -> str:
        return self._post(ticket, {"outcome": "Private Note", "note": note.text, "timetaken": 0})

    def post_time(self, ticket: Ticket, entry: TimeIn) -> str:
        assert entry.hours is not None
        hours = float(entry.hours)
        return self._post(
            ticket,
            {
                "outcome": "Time Entry",
                "note": entry.note,
                "timetaken": hours,
                "nonbilltime": 0 if entry.billable else hours,
                "actisbillable": entry.billable,
                "actionarrivaldate": iso_z(entry.started_at),
                "actioncompletiondate": iso_z(entry.ended_at),
            },
        )
