"""The insight, search and recovery routes over HTTP on every backend: a client's insights.md
(404 naming the clients for an unknown one), solution search not swallowed by the generic
``/problem-solutions/{id}``, recovery health, failed operations recorded and explained,
retention for admins only, and scoping."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_learning import not_recognized, ps2


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def record(api: Api, who: str, **body: Any) -> dict[str, Any]:
    done = api.as_(who).post("/api/commands", json=body)
    assert done.status_code == 201, done.text
    return dict(done.json())


def test_insights_md_of_a_client(api: Api, uid: str) -> None:
    host = f"dc-{uid}"
    ps2(api, host, api.client_a)
    cmdlet = f"Get-LocalUser{uid}"
    record(api, "tech", host=host, command=cmdlet, exit_code=1, output=not_recognized(cmdlet), session=uid)
    record(api, "tech", host=host, command=f"Get-WmiObject Win32_UserAccount -Filter Name={uid}", exit_code=0)
    got = api.as_("tech").get(f"/api/clients/{api.client_a}/insights.md")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/markdown")
    text = got.text
    assert text.startswith(f"# Environmental Insights: Client A {api.backend}")
    assert f"## {host} (Windows Server 2008 R2, PowerShell 2.0)" in text
    assert "### Version Limitations" in text and f"`{cmdlet}` not available" in text
    assert f"Get-WmiObject Win32_UserAccount -Filter Name={uid}" in text
    # By name too, and a reader gets the same file.
    by_name = api.as_("readonly").get(f"/api/clients/client a {api.backend}/insights.md")
    assert by_name.status_code == 200 and f"`{cmdlet}` not available" in by_name.text
    # The insight is a row of the generic resource.
    rows = api.as_("tech").get("/api/environmental-insights", params={"client_id": str(api.client_a)})
    assert rows.status_code == 200
    assert any(cmdlet in r["insight_title"] for r in rows.json()["items"])


def test_insights_md_of_an_unknown_client_is_404_naming_the_clients(api: Api, uid: str) -> None:
    got = api.as_("tech").get(f"/api/clients/nobody-{uid}/insights.md")
    assert got.status_code == 404
    message = got.json()["error"]["message"]
    assert f"Client A {api.backend}" in message and f"Client B {api.backend}" in message
    scoped = api.as_("scoped").get(f"/api/clients/{api.client_b}/insights.md")
    assert scoped.status_code == 404
    assert f"Client B {api.backend}" not in scoped.json()["error"]["message"].split("clients:")[-1]
    assert api.as_("anonymous").get(f"/api/clients/{api.client_a}/insights.md").status_code == 401


def test_solution_search_is_its_own_route(api: Api, uid: str) -> None:
    code = f"ERR_SSL_PROTOCOL_ERROR_{uid}"
    tech = api.as_("tech")
    made = []
    for title, client in ((f"{code} on the portal", api.client_a), (f"{code} elsewhere", api.client_b)):
        created = tech.post(
            "/api/problem-solutions",
            json={
                "client_id": str(client),
                "problem_title": title,
                "problem_description": f"Chrome reports {code}.",
                "root_cause": "Incomplete chain.",
                "solution_applied": "Installed the intermediate certificate.",
            },
        )
        assert created.status_code == 201, created.text
        made.append(created.json()["id"])
    found = tech.get("/api/problem-solutions/search", params={"q": code})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["query"] == code and body["count"] == 2
    assert {r["id"] for r in body["results"]} == set(made)
    assert all(f"[{code}]" in r["snippet"] for r in body["results"])
    assert [r["rank"] for r in body["results"]] == [1, 2]
    scoped = api.as_("scoped").get("/api/problem-solutions/search", params={"q": code}).json()
    assert [r["id"] for r in scoped["results"]] == [made[0]]
    assert tech.get("/api/problem-solutions/search", params={"q": "?!"}).status_code == 422
    assert tech.get("/api/problem-solutions/search").status_code == 422
    assert tech.get("/api/problem-solutions/search", params={"q": code, "status": "maybe"}).status_code == 422
    assert api.as_("anonymous").get("/api/problem-solutions/search", params={"q": code}).status_code == 401
    # The generic routes still work beside it.
    assert tech.get(f"/api/problem-solutions/{made[0]}").status_code == 200


def test_recovery_health_and_operation_failures(api: Api, uid: str) -> None:
    host = f"nas-{uid}"
    ps2(api, host, api.client_a)
    record(
        api,
        "tech",
        host=host,
        command=f"rm /share/{uid}",
        exit_code=1,
        output=f"rm: cannot remove '/share/{uid}': Permission denied",
    )
    op = api.as_("tech").post(
        "/api/operation-failures/record",
        json={
            "operation_type": "network_request",
            "operation_description": f"GET https://psa-{uid}.example/tickets",
            "error_message": "Could not resolve host: psa.example",
            "client_id": str(api.client_a),
        },
    )
    assert op.status_code == 201, op.text
    assert op.json()["failure_category"] == "dns"
    assert op.json()["recovery"]["retry_decision"] == "retry_with_backoff"
    assert op.json()["related_pattern_id"]
    readonly = api.as_("readonly").get("/api/health/recovery")
    assert readonly.status_code == 200, readonly.text
    figures = readonly.json()
    assert figures["refreshed"] is None
    assert figures["failures"] >= 2 and figures["unresolved_failures"] >= 2
    assert figures["explanations_by_decision"]["escalate_to_user"] >= 1
    assert any(f"/share/{uid}" in e["summary"] for e in figures["open_escalations"])
    tech = api.as_("tech").get("/api/health/recovery").json()
    assert tech["refreshed"] is not None and tech["pending_explanations"] == 0
    refused = api.as_("readonly").post(
        "/api/operation-failures/record",
        json={"operation_type": "api_call", "operation_description": "x", "error_message": "y"},
    )
    assert refused.status_code == 403
    bad = api.as_("tech").post(
        "/api/operation-failures/record",
        json={"operation_type": "teleport", "operation_description": "x", "error_message": "y"},
    )
    assert bad.status_code == 422
    # A scoped key may not record a failure for another client.
    other = api.as_("scoped").post(
        "/api/operation-failures/record",
        json={
            "operation_type": "api_call",
            "operation_description": "x",
            "error_message": "401 Unauthorized",
            "client_id": str(api.client_b),
        },
    )
    assert other.status_code == 404


def test_refresh_and_retention_routes(api: Api) -> None:
    assert api.as_("tech").post("/api/environmental-insights/refresh").status_code == 200
    assert api.as_("readonly").post("/api/environmental-insights/refresh").status_code == 403
    preview = api.as_("admin").post("/api/maintenance/cleanup", json={"days": 90, "dry_run": True})
    assert preview.status_code == 200, preview.text
    assert preview.json()["dry_run"] is True and "patterns_removed" in preview.json()
    assert api.as_("tech").post("/api/maintenance/cleanup", json={"dry_run": True}).status_code == 403
    assert api.as_("admin").post("/api/maintenance/cleanup", json={"days": 0}).status_code == 422
