"""Input a hostile client sends, on every backend (issue 15, the low findings): NaN, Infinity
and numbers no backend holds are a 422, as are negative durations, amounts and counts; who did
something is the caller, never the body; and a key scoped to one client cannot cut other
clients' links to a shared tag."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select as sql_select

from mspmode.models.core import SessionTag, Tag
from tests.api.conftest import Api, api  # noqa: F401 - the real server on every backend

# ---- input on every backend ----------------------------------------------------------------------


NON_FINITE = [
    (
        "/api/failure-patterns",
        '{"pattern_type": "command_compatibility", "pattern_signature": "sig-{id}", '
        '"failure_description": "d", "root_cause": "r", "recommended_solution": "s", '
        '"confidence_score": {n}}',
    ),
    ("/api/projects", '{"client_id": "{client}", "name": "p-{id}", "technologies": ["a", {"w": {n}}]}'),
]


@pytest.mark.parametrize(("path", "template"), NON_FINITE, ids=["float", "json-column"])
def test_nan_and_infinity_are_422_on_every_backend(api: Api, path: str, template: str) -> None:  # noqa: F811
    tech = api.as_("tech")

    def post(number: str) -> httpx.Response:
        body = template.replace("{id}", uuid.uuid4().hex).replace("{client}", str(api.client_a))
        return tech.post(
            path, content=body.replace("{n}", number), headers={"Content-Type": "application/json"}
        )

    before = tech.get(path, params={"limit": 1}).json()["total"]
    # 1e400 is a valid JSON number that Python reads as inf.
    for number in ("NaN", "Infinity", "-Infinity", "1e400"):
        answer = post(number)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["type"] == "ValidationError"
    assert tech.get(path, params={"limit": 1}).json()["total"] == before
    assert post("0.5").status_code == 201  # the same body with a number is fine


def test_numbers_no_backend_holds_are_422_and_the_rest_are_stored(api: Api) -> None:  # noqa: F811
    tech = api.as_("tech")
    pattern = {
        "pattern_type": "command_compatibility",
        "failure_description": "d",
        "root_cause": "r",
        "recommended_solution": "s",
    }
    # MariaDB's FLOAT is single precision: 1e308 was a 500 there.
    for score, status in ((1e308, 422), (-1.0, 422), (3.0e38, 201), (0.25, 201)):
        body = {**pattern, "pattern_signature": f"sig-{uuid.uuid4().hex}", "confidence_score": score}
        assert tech.post("/api/failure-patterns", json=body).status_code == status, score
    failure = {"operation_type": "api_call", "operation_description": "d", "error_message": "e"}
    raw = '{"operation_type": "api_call", "operation_description": "d", "error_message": "e", '
    overflow = tech.post(
        "/api/operation-failures",
        content=raw + '"request_data": {"retries": [1, 2e999]}}',
        headers={"Content-Type": "application/json"},
    )
    assert overflow.status_code == 422, overflow.text
    assert tech.post("/api/operation-failures", json={**failure, "request_data": {"n": 2}}).status_code == 201


def test_text_that_grows_when_redacted_still_fits_its_column(api: Api) -> None:  # noqa: F811
    # Each -pSECRET becomes -p[REDACTED:password]: a 500-character title grew past its
    # varchar(500) and PostgreSQL and MariaDB refused the INSERT (a 500).
    title = ("mysql -pW1nter-Sky-88 app; " * 20)[:500]
    made = api.as_("tech").post(
        "/api/sessions", json={"session_title": title, "started_at": "2026-02-01T09:00:00Z"}
    )
    assert made.status_code == 201, made.text
    stored = made.json()["session_title"]
    assert len(stored) <= 500 and "W1nter-Sky-88" not in stored
    assert stored.startswith("mysql -p[REDACTED:")


NEGATIVE = [
    ("/api/pending-tasks", {"title": "t"}, "estimated_minutes", -1),
    ("/api/work-items", {"title": "w"}, "actual_minutes", -30),
    ("/api/clients", {"name": "c"}, "default_hourly_rate", "-95.00"),
    ("/api/failure-patterns", {"pattern_signature": "s"}, "occurrence_count", -1),
    ("/api/problem-solutions", {"problem_title": "p"}, "time_to_resolution_minutes", -5),
    ("/api/external-integrations", {"integration_type": "other", "action": "created"}, "duration_ms", -1),
    ("/api/credentials", {"service_name": "s", "credential_type": "password"}, "port", 0),
    ("/api/conversation-contexts", {"title": "c"}, "source_tokens", -100),
]


@pytest.mark.parametrize(("path", "base", "field", "value"), NEGATIVE, ids=[n[2] for n in NEGATIVE])
def test_negative_durations_amounts_and_counts_are_422(
    api: Api,  # noqa: F811
    path: str,
    base: dict[str, Any],
    field: str,
    value: Any,
) -> None:
    tech = api.as_("tech")
    before = tech.get(path, params={"limit": 1}).json()["total"]
    answer = tech.post(path, json={**base, field: value})
    assert answer.status_code == 422, answer.text
    assert f"body.{field}" in [d["field"] for d in answer.json()["detail"]], answer.text
    assert tech.get(path, params={"limit": 1}).json()["total"] == before


def test_a_zero_duration_is_fine_and_a_negative_patch_is_422(api: Api) -> None:  # noqa: F811
    tech = api.as_("tech")
    made = tech.post("/api/pending-tasks", json={"title": "zero", "estimated_minutes": 0})
    assert made.status_code == 201, made.text
    path = f"/api/pending-tasks/{made.json()['id']}"
    assert tech.patch(path, json={"estimated_minutes": -10}).status_code == 422
    assert tech.get(path).json()["estimated_minutes"] == 0


# ---- who did it, and shared tags ----------------------------------------------------------------


def user_id(harness: Api, username: str) -> str:
    found = harness.as_("admin").get("/api/users", params={"username": username}).json()["items"]
    return str(found[0]["id"])


def test_who_ran_a_session_is_the_caller_never_the_body(api: Api) -> None:  # noqa: F811
    tech = api.as_("tech")
    session = {"session_title": "night shift", "started_at": "2026-01-05T22:00:00Z"}
    for forged in ({"user_id": user_id(api, "admin")}, {"technician": "admin"}):
        answer = tech.post("/api/sessions", json={**session, **forged})
        assert answer.status_code == 422, answer.text
        assert "extra_forbidden" in {d["type"] for d in answer.json()["detail"]}
    made = tech.post("/api/sessions", json=session)
    assert made.status_code == 201, made.text
    assert made.json()["user_id"] == user_id(api, "tech")
    assert made.json()["technician"] == "tech/tech key"
    path = f"/api/sessions/{made.json()['id']}"
    assert tech.patch(path, json={"user_id": user_id(api, "admin")}).status_code == 422
    assert tech.get(path).json()["user_id"] == user_id(api, "tech")
    logged = tech.post("/api/external-integrations", json={"integration_type": "other", "action": "synced"})
    assert logged.status_code == 201 and logged.json()["user_id"] == user_id(api, "tech")
    forged_log = {"integration_type": "other", "action": "synced", "user_id": user_id(api, "admin")}
    assert tech.post("/api/external-integrations", json=forged_log).status_code == 422


def tagged_session(harness: Api, who: str, client: uuid.UUID, tag: str) -> str:
    caller = harness.as_(who)
    session = caller.post(
        "/api/sessions",
        json={"session_title": f"{who} work", "started_at": "2026-01-05T08:00:00Z", "client_id": str(client)},
    )
    assert session.status_code == 201, session.text
    link = caller.post("/api/session-tags", json={"session_id": session.json()["id"], "tag_id": tag})
    assert link.status_code == 201, link.text
    return str(session.json()["id"])


def test_a_scoped_key_cannot_cut_other_clients_links_to_a_shared_tag(api: Api) -> None:  # noqa: F811
    scoped = api.as_("scoped")
    shared = scoped.post("/api/tags", json={"name": f"ransomware-{uuid.uuid4().hex[:8]}"})
    assert shared.status_code == 201, shared.text
    tag = shared.json()["id"]
    mine = tagged_session(api, "scoped", api.client_a, tag)
    theirs = tagged_session(api, "tech", api.client_b, tag)

    refused = scoped.delete(f"/api/tags/{tag}")
    assert refused.status_code == 403, refused.text
    assert "other clients" in refused.json()["error"]["message"]
    with api.db.read() as session:
        links = {
            str(s)
            for (s,) in session.execute(
                sql_select(SessionTag.session_id).where(SessionTag.tag_id == uuid.UUID(tag))
            )
        }
    assert links == {mine, theirs}

    # Its own link it may cut; then, used by nobody else, the tag itself.
    assert scoped.delete(f"/api/session-tags/{mine}/{tag}").status_code == 204
    assert scoped.delete(f"/api/tags/{tag}").status_code == 403
    assert api.as_("tech").delete(f"/api/session-tags/{theirs}/{tag}").status_code == 204
    assert scoped.delete(f"/api/tags/{tag}").status_code == 204
    with api.db.read() as session:
        assert session.get(Tag, uuid.UUID(tag)) is None


def test_an_unscoped_technician_still_deletes_a_shared_tag(api: Api) -> None:  # noqa: F811
    tech = api.as_("tech")
    tag = tech.post("/api/tags", json={"name": f"shared-{uuid.uuid4().hex[:8]}"}).json()["id"]
    tagged_session(api, "scoped", api.client_a, tag)
    tagged_session(api, "tech", api.client_b, tag)
    assert tech.delete(f"/api/tags/{tag}").status_code == 204
