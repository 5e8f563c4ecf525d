"""The BOLA matrix: every API route and every MCP tool × four hostile callers → the answer each
must get.

| caller | who | must get |
| --- | --- | --- |
| other client | a technician key limited to client A, at another client's rows | 404 (lists omit them) |
| readonly | a readonly user's access token | 403 on what writes, records, reveals, administers |
| one-time password | an admin signed in with `msp user add`'s one-time password | 403 but the allow-list |
| narrower scopes | an admin key with every scope but the one the route needs | 403 (one with it passes) |

Where the other client's key lacks the role (admin routes) it gets 403, and where the answer is
shared by every client (health, /me, tags, machines) it gets what anyone gets.

Generated like tests/api/test_contract.py: the CRUD routes from services/resources.py (what a
row of each resource is, and whether it belongs to a client), the other routes from the CASES
table below keyed by method and path, the tools from the MCP server. The routes are enumerated
from the app and the tools from the server, and test_every_route_and_tool_is_in_the_matrix
fails on one added without a line here. Authorization reads the same rows on every backend and
the contract suite runs client scoping on all three, so this runs on SQLite.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select, update

from mspmode.api.deps import route_access
from mspmode.mcp.server import TOOL_SCOPES
from mspmode.models.core import ApiKey, User
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import OPERATION_TYPES, FailurePattern
from mspmode.services import credentials
from mspmode.services.actor import ROLE_RANK, SCOPES, Access
from mspmode.services.crud import ResourceSpec
from mspmode.services.resources import RESOURCES
from mspmode.services.scoping import is_scoped
from tests.api.conftest import Api, jsonable
from tests.api.test_contract import db_row, is_link, patchable, payload, row_path
from tests.rows import build_row
from tests.security.auth_server import ADMIN, Server, running

OTHER, READONLY, ONE_TIME, NARROW = "other client", "readonly", "one-time password", "narrower scopes"
PERSONAS = (OTHER, READONLY, ONE_TIME, NARROW)
GATE = ("one-time password", "limited to scopes", "may not do this (needs")


@dataclass
class Request:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None


@dataclass
class Matrix:
    server: Server
    api: Api
    app: FastAPI
    credential: dict[str, str]  # persona -> bearer credential
    without: dict[str, str]  # scope -> admin key with every other scope
    only: dict[str, str]  # scope -> admin key with that scope alone
    theirs: dict[str, Any] = field(default_factory=dict)  # another client's rows, by name


# ---- the routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    access: Access

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def routes_of(app: FastAPI) -> list[Route]:
    return sorted(
        (
            Route(method, str(rc.path_format), route_access(rc.original_route.openapi_extra, method))
            for rc in iter_route_contexts(app.routes)
            if isinstance(rc.original_route, APIRoute)
            for method in rc.methods or ()
        ),
        key=lambda r: r.id,
    )


# ---- what each route is asked, aimed at another client's rows, and what the key scoped to A gets

Build = Callable[[Matrix], Request]


@dataclass(frozen=True)
class Case:
    build: Build
    other: int  # the status the key limited to client A must get
    hides: str | None = None  # a list or search: the item that must not be in the answer
    marks: tuple[Any, ...] = ()


SPECS = {spec.name: spec for spec in RESOURCES}


def crud_cases() -> dict[str, Case]:
    """From the registry: each resource's generated routes, aimed at a row of another client."""
    cases: dict[str, Case] = {}
    for spec in RESOURCES:
        base = f"/api/{spec.name}"
        keys = "/".join(f"{{{c.key}}}" for c in spec.repository.key_columns)
        item = f"{base}/{keys}" if is_link(spec) else f"{base}/{{id}}"
        admin_only = spec.read_role == "admin"
        scoped = is_scoped(spec.table.name) and not admin_only
        cases[f"GET {base}"] = Case(_list(spec), 403 if admin_only else 200, hides="row" if scoped else None)
        cases[f"GET {item}"] = Case(_get(spec), 403 if admin_only else 404 if scoped else 200)
        if spec.write_role is None:
            continue
        writes = 403 if spec.write_role == "admin" else None
        if spec.generic_create or spec.table.name in credentials.SECRET_FIELDS:
            created = 404 if scoped and spec.name != "clients" else 403 if spec.name == "clients" else 201
            cases[f"POST {base}"] = Case(_create(spec), writes or created)
        if not is_link(spec) and (spec.generic_update or spec.table.name in credentials.SECRET_FIELDS):
            cases[f"PATCH {item}"] = Case(_patch(spec), writes or (404 if scoped else 200))
        if spec.generic_delete or spec.table.name in credentials.SECRET_FIELDS:
            cases[f"DELETE {item}"] = Case(_delete(spec), writes or (404 if scoped else 204))
    return cases


# tests/rows.py fills every JSON column with a list, and the learning engine reads a host's
# ``traits`` and a pattern's ``distinguishing_traits`` as objects: a list there makes every
# pre-check and record (or that pattern's explain) a 500, for every client. The API accepts
# such rows (reported); here they get objects.
TRAITS = {"built_by": "tests/security/test_bola_matrix.py"}


def tidy_hosts(m: Matrix) -> None:
    with m.server.db.write() as s:
        s.execute(update(Infrastructure).values(traits=TRAITS))
        s.execute(update(FailurePattern).values(distinguishing_traits=TRAITS))


def _their_row(m: Matrix, spec: ResourceSpec) -> dict[str, Any]:
    if spec.table.name in credentials.SECRET_FIELDS:
        return {"id": their_secret(m, spec)}
    row = {k: jsonable(v) for k, v in db_row(m.api, spec).items()}
    tidy_hosts(m)
    return row


def their_secret(m: Matrix, spec: ResourceSpec) -> uuid.UUID:
    """A new credential of client B (integration credentials belong to no client)."""
    if spec.name == "credentials":
        values = {
            "service_name": "B's domain admin",
            "credential_type": "password",
            "client_id": m.theirs["client"],
            "password": "s3cret-Value",
            "totp_secret": "JBSWY3DPEHPK3PXP",
        }
    else:
        values = {
            "integration_name": f"syncro-{uuid.uuid4().hex[:8]}",
            "integration_type": "syncro",
            "credential_type": "api_key",
            "client_secret": "s3cret-Value",
        }
    return uuid.UUID(str(credentials.create(m.server.rt, ADMIN, spec, values).id))


def _list(spec: ResourceSpec) -> Build:
    def build(m: Matrix) -> Request:
        m.theirs["row"] = row_path(spec, _their_row(m, spec))
        return Request("GET", f"/api/{spec.name}", params={"limit": 500})

    return build


def _get(spec: ResourceSpec) -> Build:
    return lambda m: Request("GET", row_path(spec, _their_row(m, spec)))


def _create(spec: ResourceSpec) -> Build:
    def build(m: Matrix) -> Request:
        body = payload(m.api, spec)  # its parents belong to fresh clients, never A
        if spec.table.name in credentials.SECRET_FIELDS:
            body = {k: v for k, v in body.items() if not k.endswith("_encrypted")} | {
                "password": "s3cret-Value"
            }
        if "client_id" in body:
            body["client_id"] = str(m.theirs["client"])
        for name in ("traits", "distinguishing_traits"):
            if name in body:
                body[name] = TRAITS
        tidy_hosts(m)
        return Request("POST", f"/api/{spec.name}", json=body)

    return build


def _patch(spec: ResourceSpec) -> Build:
    def build(m: Matrix) -> Request:
        name, value = patchable(spec)
        return Request("PATCH", row_path(spec, _their_row(m, spec)), json={name: value})

    return build


def _delete(spec: ResourceSpec) -> Build:
    return lambda m: Request("DELETE", row_path(spec, _their_row(m, spec)))


def _command(m: Matrix) -> dict[str, Any]:
    return {"command": "uptime", "exit_code": 0, "session_id": str(m.theirs["session"])}


CASES: dict[str, Case] = crud_cases() | {
    "GET /api/health": Case(lambda m: Request("GET", "/api/health"), 200),
    "GET /api/docs": Case(lambda m: Request("GET", "/api/docs"), 200),  # the page, no data
    "GET /api/docs/init.js": Case(lambda m: Request("GET", "/api/docs/init.js"), 200),
    "POST /api/auth/login": Case(lambda m: Request("POST", "/api/auth/login", json={}), 422),
    "POST /api/auth/refresh": Case(lambda m: Request("POST", "/api/auth/refresh", json={}), 422),
    "POST /api/auth/logout": Case(lambda m: Request("POST", "/api/auth/logout"), 422),  # a key: revoke it
    "POST /api/auth/password": Case(lambda m: Request("POST", "/api/auth/password", json={}), 422),
    "GET /api/auth/me": Case(lambda m: Request("GET", "/api/auth/me"), 200),
    "POST /api/users": Case(lambda m: Request("POST", "/api/users", json={"username": "mallory"}), 403),
    "POST /api/users/{user_id}/disable": Case(
        lambda m: Request("POST", f"/api/users/{m.theirs['user']}/disable"), 403
    ),
    "POST /api/users/{user_id}/enable": Case(
        lambda m: Request("POST", f"/api/users/{m.theirs['user']}/enable"), 403
    ),
    "POST /api/users/{user_id}/role": Case(
        lambda m: Request("POST", f"/api/users/{m.theirs['user']}/role", json={"role": "admin"}), 403
    ),
    "POST /api/api-keys": Case(lambda m: Request("POST", "/api/api-keys", json={"name": "backdoor"}), 403),
    "POST /api/api-keys/{key_id}/revoke": Case(
        lambda m: Request("POST", f"/api/api-keys/{m.theirs['api_key']}/revoke"), 403
    ),
    "GET /api/audit-log/verify": Case(lambda m: Request("GET", "/api/audit-log/verify"), 403),
    "POST /api/maintenance/cleanup": Case(
        lambda m: Request("POST", "/api/maintenance/cleanup", json={"dry_run": True}), 403
    ),
    "POST /api/commands": Case(lambda m: Request("POST", "/api/commands", json=_command(m)), 404),
    "POST /api/commands/batch": Case(
        lambda m: Request("POST", "/api/commands/batch", json={"commands": [_command(m)]}), 404
    ),
    "POST /api/check": Case(
        lambda m: Request("POST", "/api/check", json={"host": m.theirs["hostname"], "command": "uptime"}),
        200,
    ),
    "GET /api/failure-patterns/{pattern_id}/explain": Case(
        lambda m: Request("GET", f"/api/failure-patterns/{m.theirs['pattern']}/explain"), 404
    ),
    "GET /api/clients/{client}/insights.md": Case(
        lambda m: Request("GET", f"/api/clients/{m.theirs['client']}/insights.md"), 404
    ),
    "POST /api/environmental-insights/refresh": Case(
        lambda m: Request(
            "POST", "/api/environmental-insights/refresh", params={"client_id": str(m.theirs["client"])}
        ),
        404,
    ),
    "GET /api/problem-solutions/search": Case(
        lambda m: Request("GET", "/api/problem-solutions/search", params={"q": m.theirs["marker"]}),
        200,
        hides="solution",
    ),
    "GET /api/health/recovery": Case(lambda m: Request("GET", "/api/health/recovery"), 200),
    "POST /api/operation-failures/record": Case(
        lambda m: Request(
            "POST",
            "/api/operation-failures/record",
            json={
                "operation_type": OPERATION_TYPES[0],
                "operation_description": "sync",
                "error_message": "HTTP 500",
                "client_id": str(m.theirs["client"]),
            },
        ),
        404,
    ),
    "GET /api/recall": Case(
        lambda m: Request("GET", "/api/recall", params={"client": str(m.theirs["client"]), "q": "anything"}),
        404,
    ),
    "POST /api/conversation-contexts/transcript": Case(
        lambda m: Request(
            "POST",
            "/api/conversation-contexts/transcript",
            json={"lines": ["{}"], "client": str(m.theirs["client"])},
        ),
        404,
    ),
    "POST /api/integration-credentials/{id}/test": Case(
        lambda m: Request(
            "POST", f"/api/integration-credentials/{their_secret(m, SPECS['integration-credentials'])}/test"
        ),
        403,
    ),
    "POST /api/sessions/{id}/tickets": Case(
        lambda m: Request("POST", f"/api/sessions/{m.theirs['session']}/tickets", json={"number": "1001"}),
        404,
    ),
    "GET /api/sessions/{id}/tickets": Case(
        lambda m: Request("GET", f"/api/sessions/{m.theirs['session']}/tickets"), 404
    ),
    "POST /api/sessions/{id}/psa-posts": Case(
        lambda m: Request("POST", f"/api/sessions/{m.theirs['session']}/psa-posts", json={"deliver": False}),
        404,
    ),
    "POST /api/sessions/{id}/time": Case(
        lambda m: Request(
            "POST", f"/api/sessions/{m.theirs['session']}/time", json={"minutes": 5, "note": "did it"}
        ),
        404,
    ),
    "POST /api/psa-posts/sync": Case(lambda m: Request("POST", "/api/psa-posts/sync", json={}), 200),
    "POST /api/credentials/{id}/reveal": Case(
        lambda m: Request(
            "POST",
            f"/api/credentials/{their_secret(m, SPECS['credentials'])}/reveal",
            json={"field": "password"},
        ),
        404,
    ),
    "GET /api/credentials/{id}/totp": Case(
        lambda m: Request("GET", f"/api/credentials/{their_secret(m, SPECS['credentials'])}/totp"), 404
    ),
    "POST /api/integration-credentials/{id}/reveal": Case(
        lambda m: Request(
            "POST",
            f"/api/integration-credentials/{their_secret(m, SPECS['integration-credentials'])}/reveal",
            json={"field": "client_secret"},
        ),
        403,
    ),
}

# ---- the fixture: a server, another client's rows, a credential per caller ------------------


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    apps: list[FastAPI] = []
    with running("sqlite", Path(tmp_path_factory.mktemp("bola")), extend=apps.append) as s:
        a, b = s.client("Client A"), s.client("Client B")
        api = Api(base=s.base, rt=s.rt, backend="sqlite", client_a=a, client_b=b)
        one_time, password = s.one_time_user("admin")
        reader = s.user("readonly")
        everyone = list(SCOPES)
        matrix = Matrix(
            server=s,
            api=api,
            app=apps[0],
            credential={
                OTHER: s.key(s.user("technician", clients=[str(a)]), "technician", clients=[str(a)]),
                READONLY: s.tokens(reader)["access_token"],
                ONE_TIME: s.tokens(one_time, password)["access_token"],
            },
            without={
                x: s.key(s.user("admin"), "admin", scopes=[y for y in everyone if y != x]) for x in SCOPES
            },
            only={x: s.key(s.user("admin"), "admin", scopes=[x]) for x in SCOPES},
        )
        matrix.theirs = _their_rows(s, b)
        matrix.theirs["one_time"] = (one_time, password)
        matrix.theirs["reader"] = reader
        yield matrix


def _their_rows(s: Server, b: uuid.UUID) -> dict[str, Any]:
    """Rows of client B (and the global ones the admin routes name)."""
    marker = f"zq{uuid.uuid4().hex[:8]}"
    with s.db.writer.begin() as conn:
        host = build_row(conn, "infrastructure", client_id=b, hostname=f"B-HOST-{marker}", traits=TRAITS)
        session = build_row(conn, "sessions", client_id=b)
        pattern = build_row(
            conn, "failure_patterns", infrastructure_id=host["id"], distinguishing_traits=TRAITS
        )
        build_row(
            conn,
            "problem_solutions",
            client_id=b,
            infrastructure_id=host["id"],
            problem_title=f"Printer {marker} offline",
            error_message=f"spooler {marker}",
            status="draft",
        )
    user = s.user("technician")
    s.key(user)
    with s.db.read() as db:
        user_id = db.scalars(select(User.id).where(User.username == user)).one()
        key_id = db.scalars(select(ApiKey.id).where(ApiKey.user_id == user_id)).one()
    return {
        "client": b,
        "hostname": host["hostname"],
        "session": session["id"],
        "pattern": pattern["id"],
        "marker": marker,
        "user": user_id,
        "api_key": key_id,
    }


# ---- the matrix ---------------------------------------------------------------------------------


def route_of(m: Matrix, route_id: str) -> Route:
    return next(r for r in routes_of(m.app) if r.id == route_id)


def send(m: Matrix, credential: str, request: Request) -> httpx.Response:
    return m.server.call(request.method, request.path, credential, json=request.json, params=request.params)


def refused_by_the_gate(response: httpx.Response) -> bool:
    return response.status_code == 403 and any(g in response.json()["error"]["message"] for g in GATE)


def passes_the_gate(response: httpx.Response) -> bool:
    """Let through by authentication and the gate, and then no server error."""
    return response.status_code not in (401, 500) and not refused_by_the_gate(response)


def credential_for(m: Matrix, persona: str, route: Route) -> str:
    if route.id == "POST /api/auth/logout" and persona in (READONLY, ONE_TIME):
        # Signing out would end the sign-in the other cells use: sign in afresh for it.
        name, password = m.theirs["one_time"] if persona == ONE_TIME else (m.theirs["reader"], None)
        return str(m.server.tokens(name, *([password] if password else []))["access_token"])
    if persona == NARROW:
        return m.without[route.access.scope or "admin"]
    return m.credential[persona]


def needs_more_than_readonly(access: Access) -> bool:
    if access.scope is None or access.public:
        return False
    # The vault refuses a readonly reveal itself, and records the attempt.
    return access.scope == "reveal" or ROLE_RANK[SCOPES[access.scope]] > ROLE_RANK["readonly"]


def cells() -> list[Any]:
    return [
        pytest.param(
            route_id,
            persona,
            id=f"{route_id} × {persona}",
            marks=CASES[route_id].marks if persona == OTHER else (),
        )
        for route_id in sorted(CASES)
        for persona in PERSONAS
    ]


def test_every_route_and_tool_is_in_the_matrix(m: Matrix) -> None:
    routes = {r.id for r in routes_of(m.app)}
    assert sorted(routes - set(CASES)) == [], "routes with no line in the BOLA matrix"
    assert sorted(set(CASES) - routes) == [], "lines for routes that do not exist"
    assert set(TOOL_CASES) == set(TOOL_SCOPES) == set(tool_names(m))


@pytest.mark.parametrize(("route_id", "persona"), cells())
def test_route(m: Matrix, route_id: str, persona: str) -> None:
    route, case = route_of(m, route_id), CASES[route_id]
    request = case.build(m)
    response = send(m, credential_for(m, persona, route), request)
    said = f"{route_id} as {persona}: {response.status_code} {response.text[:300]}"
    if persona == ONE_TIME:
        if route.access.public or route.access.one_time_password:
            assert passes_the_gate(response), said
        else:
            assert response.status_code == 403 and "one-time password" in response.text, said
    elif persona == READONLY:
        if needs_more_than_readonly(route.access):
            assert response.status_code == 403, said
        else:
            assert passes_the_gate(response), said
    elif persona == NARROW:
        if route.access.scope is None or route.access.public:
            assert passes_the_gate(response), said
        else:
            assert response.status_code == 403 and "limited to scopes" in response.text, said
            allowed = send(m, m.only[route.access.scope], case.build(m))
            assert passes_the_gate(allowed), (
                f"{route_id} with only {route.access.scope}: {allowed.text[:300]}"
            )
    else:
        assert response.status_code == case.other, said
        if case.hides == "row":
            spec = SPECS[route.path.split("/")[2]]
            listed = {row_path(spec, item) for item in response.json()["items"]}
            assert m.theirs["row"] not in listed, said
        elif case.hides == "solution":
            assert m.theirs["marker"] not in json.dumps(response.json()["results"]), said


# ---- the MCP tools ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCase:
    arguments: Callable[[Matrix], dict[str, Any]]
    other: str  # "ok", or the error type the key limited to client A must get
    marks: tuple[Any, ...] = ()


TOOL_CASES: dict[str, ToolCase] = {
    "check_command": ToolCase(lambda m: {"command": "uptime", "host": m.theirs["hostname"]}, "ok"),
    "record_command": ToolCase(
        lambda m: {"command": "uptime", "exit_code": 0, "session_id": str(m.theirs["session"])},
        "NotFoundError",
    ),
    "recall_context": ToolCase(lambda m: {"client": str(m.theirs["client"]), "query": "x"}, "NotFoundError"),
    "save_context": ToolCase(
        lambda m: {"title": "t", "text": "decided", "client": str(m.theirs["client"])}, "NotFoundError"
    ),
    "search_solutions": ToolCase(lambda m: {"query": m.theirs["marker"]}, "ok"),
    "get_insights": ToolCase(lambda m: {"host": m.theirs["hostname"]}, "NotFoundError"),
    "link_ticket": ToolCase(
        lambda m: {"number": "1001", "session_id": str(m.theirs["session"])}, "NotFoundError"
    ),
    "log_time": ToolCase(
        lambda m: {"minutes": 5, "note": "did it", "session_id": str(m.theirs["session"])}, "NotFoundError"
    ),
    "log_work_item": ToolCase(
        lambda m: {"description": "did it", "minutes": 5, "session_id": str(m.theirs["session"])},
        "NotFoundError",
    ),
    "find_host": ToolCase(lambda m: {"host": m.theirs["hostname"]}, "NotFoundError"),
}


def call_tool(m: Matrix, credential: str, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """(whether it was an error, its text) of one tool call over the server's /mcp."""

    async def run() -> tuple[bool, str]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {credential}"}, timeout=60) as http,
            Client(streamable_http_client(f"{m.server.base}/mcp", http_client=http)) as c,
        ):
            result = await c.call_tool(name, arguments)
            text = "\n".join(getattr(x, "text", "") for x in result.content)
            return bool(result.is_error), text

    return anyio.run(run)


def tool_names(m: Matrix) -> set[str]:
    async def run() -> set[str]:
        headers = {"Authorization": f"Bearer {m.only['read']}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(f"{m.server.base}/mcp", http_client=http)) as c,
        ):
            return {t.name for t in (await c.list_tools()).tools}

    return anyio.run(run)


def tool_cells() -> list[Any]:
    return [
        pytest.param(
            name, persona, id=f"{name} × {persona}", marks=TOOL_CASES[name].marks if persona == OTHER else ()
        )
        for name in sorted(TOOL_CASES)
        for persona in PERSONAS
    ]


@pytest.mark.parametrize(("name", "persona"), tool_cells())
def test_tool(m: Matrix, name: str, persona: str) -> None:
    case, scope = TOOL_CASES[name], TOOL_SCOPES[name]
    arguments = case.arguments(m)
    failed, text = call_tool(
        m, m.without[scope] if persona == NARROW else m.credential[persona], name, arguments
    )
    said = f"{name} as {persona}: {text[:300]}"
    if persona == ONE_TIME:
        assert failed and "one-time password" in text, said
    elif persona == READONLY:
        if ROLE_RANK[SCOPES[scope]] > ROLE_RANK["readonly"]:
            assert failed and "may not" in text, said
        else:
            assert not (failed and any(g in text for g in GATE)), said
    elif persona == NARROW:
        assert failed and "limited to scopes" in text, said
        failed, text = call_tool(m, m.only[scope], name, arguments)
        assert not (failed and any(g in text for g in GATE)), f"{name} with only {scope}: {text[:300]}"
    elif case.other == "ok":
        assert not failed, said
        # The host name the caller gave may come back as given; nothing else of B's may.
        told = text.replace(str(arguments.get("host", "")), "")
        assert m.theirs["marker"] not in told and str(m.theirs["client"]) not in told, said
    else:
        assert failed and f"{case.other}: " in text, said
