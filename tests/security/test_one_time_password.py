"""Finding 4: a one-time password opens nothing but changing it.

An admin created with a one-time password (as `msp init` and `msp user add` make them) could
create a permanent admin API key with it. Now every route and every MCP tool refuses such a
sign-in, except the allow-list: change the password, ask who you are (the answer says it must
be changed), sign out. The routes are enumerated from the app and the tools from the MCP
server, so one added later is checked too; a route added to the app without any thought for
authentication is refused as well.

No storage difference is involved (the gate reads the user row every request already reads):
SQLite only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import func, select

from mspmode.models.core import ApiKey, User
from tests.security.auth_server import PASSWORD, Server, running

ALLOW_LIST = {("POST", "/api/auth/password"), ("GET", "/api/auth/me"), ("POST", "/api/auth/logout")}
PUBLIC = {
    ("GET", "/api/health"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("GET", "/api/docs"),  # the Swagger UI page and its script: no data behind them
    ("GET", "/api/docs/init.js"),
}
NEW_PASSWORD = "a quite different passphrase"


def added_later(app: FastAPI) -> None:
    """Routes a later change might add without a thought for who may call them."""

    @app.get("/api/added-later")
    def added() -> dict[str, str]:
        return {"secret": "anyone?"}

    router = APIRouter(prefix="/added-router")

    @router.post("/things")
    def thing() -> dict[str, str]:
        return {"made": "a thing"}

    app.include_router(router, prefix="/api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, FastAPI]]:
    apps: list[FastAPI] = []

    def extend(app: FastAPI) -> None:
        added_later(app)
        apps.append(app)

    with running("sqlite", Path(tmp_path_factory.mktemp("one-time")), extend=extend) as s:
        yield s, apps[0]


@pytest.fixture
def one_time(server: tuple[Server, FastAPI]) -> tuple[str, str, str]:
    """A fresh admin signed in with the one-time password `msp user add` printed: name, that
    password and the access token."""
    s, _ = server
    name, password = s.one_time_user("admin")
    tokens = s.tokens(name, password)
    assert tokens["must_change_password"] is True
    return name, password, tokens["access_token"]


def routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, str(rc.path_format))
        for rc in iter_route_contexts(app.routes)
        if isinstance(rc.original_route, APIRoute)
        for method in rc.methods or ()
    )


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def test_every_route_refuses_a_one_time_password_but_the_allow_list(
    server: tuple[Server, FastAPI], one_time: tuple[str, str, str]
) -> None:
    s, app = server
    _, _, token = one_time
    wrong = []
    for method, path in routes(app):
        if (method, path) in PUBLIC | ALLOW_LIST:
            continue
        body = {} if method in ("POST", "PATCH", "PUT") else None
        response = s.call(method, concrete(path), token, json=body)
        refused = response.status_code == 403 and "one-time password" in response.json()["error"]["message"]
        if not refused:
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert wrong == [], "\n".join(wrong)
    assert ("GET", "/api/added-later") in routes(app)  # the enumeration saw what was added


def test_an_admin_with_a_one_time_password_cannot_make_a_key_or_a_user(
    server: tuple[Server, FastAPI], one_time: tuple[str, str, str]
) -> None:
    s, _ = server
    name, _, token = one_time
    with s.db.read() as db:
        keys, users = (
            db.scalar(select(func.count()).select_from(ApiKey)),
            db.scalar(select(func.count()).select_from(User)),
        )
    backdoor = s.call(
        "POST", "/api/api-keys", token, json={"name": "backdoor", "role": "admin", "username": name}
    )
    assert backdoor.status_code == 403, backdoor.text
    accomplice = s.call(
        "POST", "/api/users", token, json={"username": f"x{uuid.uuid4().hex[:6]}", "role": "admin"}
    )
    assert accomplice.status_code == 403, accomplice.text
    assert s.call("GET", "/api/audit-log/verify", token).status_code == 403
    assert s.call("GET", "/api/recall", token, params={"q": "anything"}).status_code == 403
    with s.db.read() as db:
        assert db.scalar(select(func.count()).select_from(ApiKey)) == keys
        assert db.scalar(select(func.count()).select_from(User)) == users


def test_the_allow_list_is_enough_to_change_the_password_and_go_on(
    server: tuple[Server, FastAPI], one_time: tuple[str, str, str]
) -> None:
    s, _ = server
    _, password, token = one_time
    me = s.me(token)
    assert me.status_code == 200 and me.json()["must_change_password"] is True
    changed = s.call(
        "POST", "/api/auth/password", token, json={"current_password": password, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()["access_token"]
    assert s.call("GET", "/api/clients", fresh).status_code == 200
    assert s.call("POST", "/api/auth/logout", fresh).status_code == 204
    # Signing out is allowed before the change too.
    other, other_password = s.one_time_user("technician")
    assert (
        s.call("POST", "/api/auth/logout", s.tokens(other, other_password)["access_token"]).status_code == 204
    )


def test_routes_added_later_are_protected_without_saying_so(
    server: tuple[Server, FastAPI], one_time: tuple[str, str, str]
) -> None:
    s, _ = server
    _, _, token = one_time
    key = s.key(s.user("technician"))
    for method, path in (("GET", "/api/added-later"), ("POST", "/api/added-router/things")):
        assert s.http.request(method, path).status_code == 401
        assert s.call(method, path, token).status_code == 403
        assert s.call(method, path, key).status_code == 200
    readonly = s.key(s.user("readonly"), "readonly")
    assert s.call("GET", "/api/added-later", readonly).status_code == 200
    assert s.call("POST", "/api/added-router/things", readonly).status_code == 403  # a write, by default


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """The least valid arguments of a tool, from its input schema."""
    values = {"string": "DC01", "integer": 0, "number": 0, "boolean": False, "array": []}
    args = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        kind = prop.get("type") or next(t["type"] for t in prop.get("anyOf", []) if t.get("type") != "null")
        args[name] = values[kind]
    return args


def test_every_mcp_tool_refuses_a_one_time_password(
    server: tuple[Server, FastAPI], one_time: tuple[str, str, str]
) -> None:
    s, _ = server
    _, _, token = one_time

    async def run() -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(f"{s.base}/mcp", http_client=http)) as client,
        ):
            outcome = {}
            for tool in (await client.list_tools()).tools:
                result = await client.call_tool(tool.name, arguments_for(tool.input_schema))
                text = "\n".join(getattr(c, "text", "") for c in result.content)
                outcome[tool.name] = text if result.is_error else "allowed"
            return outcome

    outcome = anyio.run(run)
    assert {"recall_context", "find_host", "record_command", "check_command"} <= set(outcome)
    wrong = {name: text for name, text in outcome.items() if "one-time password" not in text}
    assert wrong == {}


def test_a_user_who_changed_it_is_not_held_back(server: tuple[Server, FastAPI]) -> None:
    s, _ = server
    token = s.tokens(s.user("admin"), PASSWORD)["access_token"]
    assert s.call("GET", "/api/audit-log/verify", token).status_code == 200
