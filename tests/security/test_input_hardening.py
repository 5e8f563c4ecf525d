"""Input a hostile client sends, on every backend (issue 15, the low findings): NaN, Infinity
and numbers no backend holds are a 422, as are negative durations, amounts and counts; who did
something is the caller, never the body; and a key scoped to one client cannot cut other
clients' links to a shared tag."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

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
    ("/api/clients", '{"name": "c-{id}", "default_hourly_rate": {n}}'),
]


@pytest.mark.parametrize(("path", "template"), NON_FINITE, ids=["float", "json-column", "numeric"])
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
