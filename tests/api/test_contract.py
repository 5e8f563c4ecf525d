"""The contract every registered resource keeps, on every backend: list, get, create, update,
delete; 401 without credentials, 403 for the wrong role, 404 for an unknown id and for another
client's row, 422 for bad input — and a refused request writes nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Boolean, Integer, String, Text, func, select

from mspmode.db.base import Base, JSONObject
from mspmode.services.crud import ResourceSpec
from mspmode.services.resources import INTERNAL_TABLES, RESOURCES
from mspmode.services.scoping import is_scoped
from tests.api.conftest import Api, jsonable
from tests.rows import build_row, serial, value_for, vocabularies

SPECS = {spec.name: spec for spec in RESOURCES}
WRITABLE = sorted(name for name, spec in SPECS.items() if spec.write_role)
READ_ONLY = sorted(name for name, spec in SPECS.items() if not spec.write_role)
SCOPED = sorted(n for n, s in SPECS.items() if is_scoped(s.table.name) and s.read_role != "admin")
# Created through their own route with another body (commands: POST /api/commands records and
# learns, tests/api/test_learning.py); their rows for the generic tests are made in the database.
OWN_CREATE = frozenset({"commands"})


def writer_for(spec: ResourceSpec) -> str:
    return "admin" if spec.write_role == "admin" else "tech"


def reader_for(spec: ResourceSpec) -> str:
    return "admin" if spec.read_role == "admin" else "readonly"


def is_link(spec: ResourceSpec) -> bool:
    return len(spec.repository.key_columns) > 1


def payload(api: Api, spec: ResourceSpec) -> dict[str, Any]:
    """A valid body for creating one row: every writable field, parents made in the database."""
    t = spec.table
    body: dict[str, Any] = {}
    # Its own number: a fixed one met a unique value (machine_fingerprint "machine_7") of the
    # row build_row made seventh, whenever the tests' order made that row a machine.
    n = serial()
    with api.db.writer.begin() as conn:
        for name in spec.writable_fields:
            column = t.c[name]
            if column.foreign_keys:
                (fk,) = column.foreign_keys
                target = fk.column.table.name
                body[name] = None if target == t.name else str(build_row(conn, target)["id"])
            else:
                body[name] = jsonable(value_for(t, column, n))
    return body


def row_path(spec: ResourceSpec, row: dict[str, Any]) -> str:
    keys = [col.key for col in spec.repository.key_columns]
    return f"/api/{spec.name}/" + "/".join(str(row[k]) for k in keys)


def db_row(api: Api, spec: ResourceSpec) -> dict[str, Any]:
    """A row made directly in the database; its parents belong to fresh clients (not A)."""
    with api.db.writer.begin() as conn:
        return build_row(conn, spec.table.name)


def count(api: Api, spec: ResourceSpec) -> int:
    with api.db.reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(spec.table)).scalar_one())


def same(sent: Any, got: Any) -> bool:
    if isinstance(sent, str) and isinstance(got, str) and sent.endswith("+00:00"):
        return sent.replace("+00:00", "") == got.replace("Z", "").replace("+00:00", "")
    if isinstance(sent, str) and isinstance(got, (int, float)):
        return float(sent) == float(got)
    return bool(sent == got)


def test_every_table_is_a_resource_or_internal() -> None:
    link_or_crud = {spec.table.name for spec in RESOURCES}
    assert link_or_crud | INTERNAL_TABLES == set(Base.metadata.tables)
    assert len(RESOURCES) == len(link_or_crud)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_unauthenticated_is_401(api: Api, name: str) -> None:
    spec = SPECS[name]
    response = api.as_("anonymous").get(f"/api/{spec.name}")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "AuthenticationError"
    assert response.headers["www-authenticate"] == "Bearer"
    bad = httpx_get(api, f"/api/{spec.name}", "Bearer msp_nope_nope")
    assert bad.status_code == 401


def httpx_get(api: Api, path: str, authorization: str) -> Any:
    return api.as_("anonymous").get(path, headers={"Authorization": authorization})


@pytest.mark.parametrize("name", sorted(SPECS))
def test_list_pages_and_reports_the_total(api: Api, name: str) -> None:
    spec = SPECS[name]
    for _ in range(3):
        db_row(api, spec)
    reader = api.as_(reader_for(spec))
    first = reader.get(f"/api/{spec.name}", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["total"] >= 3 and len(page["items"]) == 2 and page["limit"] == 2
    assert page["next"] and "offset=2" in page["next"]
    second = reader.get(page["next"]).json()
    assert not {row_path(spec, r) for r in page["items"]} & {row_path(spec, r) for r in second["items"]}
    for field in spec.hidden_fields:
        assert field not in page["items"][0]


@pytest.mark.parametrize("name", WRITABLE)
def test_create_get_update_delete(api: Api, name: str) -> None:
    spec = SPECS[name]
    client = api.as_(writer_for(spec))
    if name in OWN_CREATE:
        body = {}
        row = client.get(row_path(spec, {k: jsonable(v) for k, v in db_row(api, spec).items()})).json()
    else:
        body = payload(api, spec)
        created = client.post(f"/api/{spec.name}", json=body)
        assert created.status_code == 201, created.text
        row = created.json()
    for key, value in body.items():
        if key in spec.read_only or (spec.prepare and key in ("actual_minutes", "duration_minutes")):
            continue
        assert same(value, row[key]), f"{key}: sent {value!r}, got {row[key]!r}"
    path = row_path(spec, row)
    got = client.get(path)
    assert got.status_code == 200 and got.json() == row

    if not is_link(spec):
        field, new_value = patchable(spec)
        changed = client.patch(path, json={field: new_value})
        assert changed.status_code == 200, changed.text
        assert same(new_value, changed.json()[field])
        assert client.get(path).json()[field] == changed.json()[field]

    gone = client.delete(path)
    assert gone.status_code == 204, gone.text
    assert client.get(path).status_code == 404


def patchable(spec: ResourceSpec) -> tuple[str, Any]:
    vocab = vocabularies(spec.table)
    for name in spec.writable_fields:
        column = spec.table.c[name]
        if column.foreign_keys or name in vocab:
            continue
        if isinstance(column.type, (String, Text)):
            return name, "patched value"
    for name in spec.writable_fields:
        if name in vocab and "values" in vocab[name]:
            return name, vocab[name]["values"][-1]
    for name in spec.writable_fields:
        if isinstance(spec.table.c[name].type, Boolean):
            return name, False
    raise AssertionError(f"nothing to patch on {spec.name}")


@pytest.mark.parametrize("name", sorted(set(WRITABLE) - OWN_CREATE))
def test_wrong_role_is_403_and_writes_nothing(api: Api, name: str) -> None:
    spec = SPECS[name]
    body = payload(api, spec)
    before = count(api, spec)
    response = api.as_("readonly").post(f"/api/{spec.name}", json=body)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["type"] == "PermissionDeniedError"
    assert count(api, spec) == before


@pytest.mark.parametrize("name", sorted(n for n in SPECS if SPECS[n].read_role == "admin"))
def test_admin_only_resources_refuse_technicians(api: Api, name: str) -> None:
    response = api.as_("tech").get(f"/api/{name}")
    assert response.status_code == 403


@pytest.mark.parametrize("name", READ_ONLY)
def test_read_only_resources_have_no_write_routes(api: Api, name: str) -> None:
    # users and api-keys are created through their own admin routes, never the generic ones.
    item = f"/api/{name}/{uuid.uuid4()}"
    assert api.as_("admin").patch(item, json={}).status_code == 405
    assert api.as_("admin").delete(item).status_code == 405
    if name not in ("users", "api-keys"):
        assert api.as_("admin").post(f"/api/{name}", json={}).status_code == 405


@pytest.mark.parametrize("name", sorted(set(WRITABLE) - OWN_CREATE))
def test_bad_input_is_422_naming_the_field_and_writes_nothing(api: Api, name: str) -> None:
    spec = SPECS[name]
    client = api.as_(writer_for(spec))
    body = payload(api, spec)
    before = count(api, spec)

    unknown = client.post(f"/api/{spec.name}", json={**body, "is_admin": True})
    assert unknown.status_code == 422
    assert "is_admin" in unknown.json()["error"]["message"]

    field, bad = wrong_typed(spec)
    wrong = client.post(f"/api/{spec.name}", json={**body, field: bad})
    assert wrong.status_code == 422, wrong.text
    assert any(d["field"].endswith(field) for d in wrong.json()["detail"])

    assert count(api, spec) == before


OBJECT_FIELDS = sorted(
    (name, field)
    for name in sorted(set(WRITABLE) - OWN_CREATE)
    for field in SPECS[name].writable_fields
    if isinstance(SPECS[name].table.c[field].type, JSONObject)
)


@pytest.mark.parametrize(("name", "field"), OBJECT_FIELDS)
def test_an_object_column_refuses_a_list_and_writes_nothing(api: Api, name: str, field: str) -> None:
    # A list in infrastructure.traits made every pre-check, record and explain a 500.
    spec = SPECS[name]
    client = api.as_(writer_for(spec))
    body = payload(api, spec)
    before = count(api, spec)
    wrong = client.post(f"/api/{spec.name}", json={**body, field: ["os", "windows"]})
    assert wrong.status_code == 422, wrong.text
    assert any(d["field"].endswith(field) for d in wrong.json()["detail"])
    assert count(api, spec) == before


def test_object_fields_include_host_traits() -> None:
    assert ("infrastructure", "traits") in OBJECT_FIELDS


def wrong_typed(spec: ResourceSpec) -> tuple[str, Any]:
    vocab = vocabularies(spec.table)
    for name in spec.writable_fields:
        if name in vocab and "values" in vocab[name]:
            return name, "zz_not_in_vocabulary"
    for name in spec.writable_fields:
        if isinstance(spec.table.c[name].type, Integer):
            return name, "not a number"
    for name in spec.writable_fields:
        if spec.table.c[name].foreign_keys:
            return name, "not-a-uuid"
    name = spec.writable_fields[0]
    return name, {"an": "object"}


@pytest.mark.parametrize("name", sorted(n for n in SPECS if not is_link(SPECS[n])))
def test_unknown_id_is_404(api: Api, name: str) -> None:
    spec = SPECS[name]
    client = api.as_("admin")
    missing = f"/api/{spec.name}/{uuid.uuid4()}"
    assert client.get(missing).status_code == 404
    if spec.write_role:
        field, value = patchable(spec)
        assert client.patch(missing, json={field: value}).status_code == 404
        assert client.delete(missing).status_code == 404
    assert client.get(f"/api/{spec.name}/not-a-uuid").status_code == 422


@pytest.mark.parametrize("name", SCOPED)
def test_another_clients_row_is_invisible_and_untouchable(api: Api, name: str) -> None:
    spec = SPECS[name]
    row = db_row(api, spec)
    path = row_path(spec, {k: jsonable(v) for k, v in row.items()})
    scoped = api.as_("scoped")
    assert scoped.get(path).status_code == 404
    listed = scoped.get(f"/api/{spec.name}", params={"limit": 500}).json()["items"]
    assert path not in {row_path(spec, r) for r in listed}
    if spec.write_role == "technician" and not is_link(spec):
        field, value = patchable(spec)
        assert scoped.patch(path, json={field: value}).status_code == 404
    if spec.write_role == "technician":
        assert scoped.delete(path).status_code == 404
    assert api.as_("admin").get(path).status_code == 200  # it is there, just not theirs


def test_scoped_users_work_inside_their_client(api: Api) -> None:
    scoped = api.as_("scoped")
    mine = scoped.post("/api/infrastructure", json={"hostname": "A-HOST", "client_id": str(api.client_a)})
    assert mine.status_code == 201, mine.text
    theirs = scoped.post("/api/infrastructure", json={"hostname": "B-HOST", "client_id": str(api.client_b)})
    assert theirs.status_code == 404
    assert "no clients with id" in theirs.json()["error"]["message"]
    nobody = scoped.post("/api/infrastructure", json={"hostname": "NO-CLIENT"})
    assert nobody.status_code == 403
    listed = scoped.get("/api/clients").json()["items"]
    assert [c["id"] for c in listed] == [str(api.client_a)]
    moved = scoped.patch(f"/api/infrastructure/{mine.json()['id']}", json={"client_id": str(api.client_b)})
    assert moved.status_code == 404
    assert scoped.get(f"/api/infrastructure/{mine.json()['id']}").json()["client_id"] == str(api.client_a)


def test_filters_sort_and_search(api: Api) -> None:
    client = api.as_("tech")
    marker = uuid.uuid4().hex[:8]
    for i, os_name in enumerate(["Windows Server", "Ubuntu", "Windows Server"]):
        r = client.post(
            "/api/infrastructure",
            json={"hostname": f"f-{marker}-{i}", "os": os_name, "client_id": str(api.client_b)},
        )
        assert r.status_code == 201
    page = client.get(
        "/api/infrastructure", params={"client_id": str(api.client_b), "sort": "-hostname"}
    ).json()
    names = [h["hostname"] for h in page["items"] if marker in h["hostname"]]
    assert names == sorted(names, reverse=True) and len(names) == 3
    typo = client.get("/api/infrastructure", params={"clinet_id": str(api.client_b)})
    assert typo.status_code == 422 and "clinet_id" in typo.json()["error"]["message"]
    bad_sort = client.get("/api/infrastructure", params={"sort": "nope"})
    assert bad_sort.status_code == 422
    too_big = client.get("/api/infrastructure", params={"limit": 100000})
    assert too_big.status_code == 422

    made = client.post(
        "/api/problem-solutions",
        json={
            "problem_title": f"Website down {marker}",
            "problem_description": "HTTPS fails in every browser",
            "error_message": "ERR_SSL_PROTOCOL_ERROR",
            "root_cause": "certificate expired",
            "solution_applied": "certbot renew --force-renewal",
            "client_id": str(api.client_b),
        },
    )
    assert made.status_code == 201, made.text
    found = client.get("/api/problem-solutions", params={"q": f"certificate {marker}"}).json()
    assert [r["id"] for r in found["items"]] == [made.json()["id"]]
    hidden = api.as_("scoped").get("/api/problem-solutions", params={"q": f"certificate {marker}"}).json()
    assert hidden["items"] == [] and hidden["total"] == 0
    no_index = client.get("/api/clients", params={"q": "x"})
    assert no_index.status_code == 422


@pytest.mark.parametrize("text", ["nul \x00 inside", "lone \ud800 surrogate"])
def test_text_no_backend_can_store_is_422(api: Api, text: str) -> None:
    body = json.dumps({"name": text})  # \u0000 and \ud800 escapes: valid JSON, unstorable text
    response = api.as_("tech").post(
        "/api/clients", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == "body.name"


def test_a_duplicate_is_409_and_the_first_row_is_kept(api: Api) -> None:
    client = api.as_("tech")
    name = f"Unique {uuid.uuid4()}"
    first = client.post("/api/clients", json={"name": name, "notes": "first"})
    assert first.status_code == 201
    again = client.post("/api/clients", json={"name": name, "notes": "second"})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["type"] == "ConflictError"
    kept = client.get("/api/clients", params={"name": name}).json()["items"]
    assert [c["notes"] for c in kept] == ["first"]
