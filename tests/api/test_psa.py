"""The PSA routes on a real server, against a fake HaloPSA: an integration created with its
secret and tested, a session linked to a ticket, its note and time posted once, the queue read
and synced, a missing ticket a 404 in the API's error shape, and the roles and scoping."""

from __future__ import annotations

import uuid

from mspmode.integrations.psa import units
from tests.api.conftest import Api
from tests.fakes.psa import VENDORS


def test_the_psa_over_http(api: Api) -> None:
    v = VENDORS["halopsa"]
    fake = v.make()
    admin, tech, readonly = api.as_("admin"), api.as_("tech"), api.as_("readonly")
    with fake.serve():
        fake.add_ticket(321, "VPN drops every hour", "In Progress")
        name = f"halo-{uuid.uuid4().hex[:6]}"
        body = {
            "integration_name": name,
            "integration_type": "halopsa",
            "credential_type": "oauth",
            "api_base_url": fake.base_url,
            "oauth_client_id": v.options["client_id"],
            "settings": v.options["settings"],
            "client_secret": v.all_secrets[0],
        }
        assert tech.post("/api/integration-credentials", json=body).status_code == 403
        created = admin.post("/api/integration-credentials", json=body)
        assert created.status_code == 201, created.text
        assert v.all_secrets[0] not in created.text
        tested = admin.post(f"/api/integration-credentials/{created.json()['id']}/test").json()
        assert tested == [{"name": name, "kind": "halopsa", "ok": True, "detail": "agent API Agent"}]

        session = tech.post(
            "/api/sessions",
            json={
                "client_id": str(api.client_a),
                "session_title": "VPN",
                "started_at": "2026-03-02T09:00:00Z",
            },
        ).json()
        sid = session["id"]
        work = tech.post(
            "/api/work-items",
            json={
                "session_id": sid,
                "title": "Rekeyed the VPN tunnel",
                "description": "Rekeyed",
                "category": "configuration",
                "actual_minutes": 40,
            },
        )
        assert work.status_code == 201 and work.json()["is_billable"] is True, work.text
        missing = tech.post(f"/api/sessions/{sid}/tickets", json={"number": "999", "integration": name})
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "PsaNotFoundError"
        linked = tech.post(f"/api/sessions/{sid}/tickets", json={"number": "321", "integration": name})
        assert linked.status_code == 201, linked.text
        assert (linked.json()["ticket_subject"], linked.json()["ticket_status"]) == (
            "VPN drops every hour",
            "In Progress",
        )
        assert readonly.post(f"/api/sessions/{sid}/psa-posts", json={}).status_code == 403
        posted = tech.post(f"/api/sessions/{sid}/psa-posts", json={})
        assert posted.status_code == 200, posted.text
        assert sorted(p["kind"] for p in posted.json()["posted"]) == ["note", "time"]
        again = tech.post(f"/api/sessions/{sid}/psa-posts", json={}).json()
        assert again["queued"] == [] and again["posted"] == []
        assert [units.from_hours(t["timetaken"]) for t in fake.times] == [40]

        logged = tech.post(f"/api/sessions/{sid}/time", json={"minutes": 20, "note": "Tested from home"})
        assert logged.status_code == 201 and logged.json()["post"]["status"] == "posted", logged.text
        fake.fail_next(503)
        queued = tech.post(f"/api/sessions/{sid}/time", json={"minutes": 5, "note": "Follow-up"}).json()
        assert queued["post"]["status"] == "queued" and queued["post"]["last_http_status"] == 503
        listed = tech.get("/api/psa-posts", params={"status": "queued"}).json()
        assert [p["minutes"] for p in listed["items"]] == [5]
        assert api.as_("scoped").get("/api/psa-posts").json()["total"] >= 1  # client A's
        synced = tech.post("/api/psa-posts/sync", json={"all": True}).json()
        assert [p["minutes"] for p in synced["posted"]] == [5]
        tickets = tech.get(f"/api/sessions/{sid}/tickets").json()
        assert tickets[0]["ticket_number"] == "321"
        assert len(fake.times) == 3 and len(fake.notes) == 1
        assert tech.post("/api/psa-posts", json={}).status_code in (404, 405)  # the queue is read-only
