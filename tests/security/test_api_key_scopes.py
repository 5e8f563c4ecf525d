"""Low finding: ``api_keys.scopes`` was stored but never enforced.

A key made with scopes may do only those (and still only what its role allows); a key without
scopes does what its role allows. The scopes are set with ``msp apikey create --scope`` or the
API, validated there, shown by ``msp apikey list`` and ``/api/auth/me``, and enforced on every
route and MCP tool by the same gate (tests/security/test_bola_matrix.py walks them all).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.security.auth_server import Server, running

MSP = [sys.executable, "-m", "mspmode"]
HOOK_SCOPES = ["read", "check", "record"]  # what a laptop's hooks need, and no more


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running("sqlite", Path(tmp_path_factory.mktemp("scopes"))) as s:
        yield s


def test_a_hook_key_does_what_hooks_do_and_nothing_else(server: Server) -> None:
    client = server.client()
    key = server.key(server.user("admin"), "admin", scopes=HOOK_SCOPES)
    assert server.me(key).json()["scopes"] == sorted(HOOK_SCOPES)
    assert server.call("GET", "/api/clients", key).status_code == 200
    checked = server.call("POST", "/api/check", key, json={"command": "systemctl restart nginx"})
    assert checked.status_code == 200, checked.text
    recorded = server.call("POST", "/api/commands", key, json={"command": "uptime", "exit_code": 0})
    assert recorded.status_code == 201, recorded.text

    refused = {
        "write": server.call("POST", "/api/clients", key, json={"name": f"c-{uuid.uuid4().hex[:6]}"}),
        "write (delete)": server.call("DELETE", f"/api/clients/{client}", key),
        "admin": server.call("POST", "/api/api-keys", key, json={"name": "more", "role": "admin"}),
        "admin (read)": server.call("GET", "/api/audit-log", key),
        "reveal": server.call(
            "POST", f"/api/credentials/{uuid.uuid4()}/reveal", key, json={"field": "password"}
        ),
    }
    for what, response in refused.items():
        assert response.status_code == 403, (what, response.text)
        assert "limited to scopes" in response.json()["error"]["message"], what
    assert (
        server.call("GET", f"/api/clients/{client}", server.key(server.user("admin"), "admin")).status_code
        == 200
    )


def test_scopes_narrow_the_mcp_tools_too(server: Server) -> None:
    key = server.key(server.user("technician"), scopes=["check"])

    async def run() -> dict[str, Any]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http,
            Client(streamable_http_client(f"{server.base}/mcp", http_client=http)) as c,
        ):
            return {
                "check": await c.call_tool("check_command", {"command": "Get-LocalUser"}),
                "record": await c.call_tool("record_command", {"command": "uptime", "exit_code": 0}),
                "recall": await c.call_tool("recall_context", {"query": "anything"}),
            }

    results = anyio.run(run)
    assert not results["check"].is_error
    for name in ("record", "recall"):
        assert results[name].is_error
        assert "limited to scopes" in results[name].content[0].text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"scopes": ["read", "sudo"]}, "scopes"),
        ({"scopes": []}, "at least one scope"),
        ({"scopes": ["write"], "role": "readonly", "username": "{reader}"}, "cannot have scope"),
        ({"scopes": ["admin"], "role": "technician"}, "cannot have scope"),
    ],
)
def test_scopes_asked_for_are_checked(server: Server, body: dict[str, Any], message: str) -> None:
    admin_name = server.user("admin")
    admin = server.key(admin_name, "admin")
    body = {"name": "k", "username": admin_name} | {
        k: v.format(reader=server.user("readonly")) if isinstance(v, str) else v for k, v in body.items()
    }
    response = server.call("POST", "/api/api-keys", admin, json=body)
    assert response.status_code == 422, response.text
    assert message in response.text


def test_the_api_returns_and_lists_a_keys_scopes(server: Server) -> None:
    admin_name = server.user("admin")
    admin = server.key(admin_name, "admin")
    made = server.call(
        "POST", "/api/api-keys", admin, json={"name": "ro", "role": "readonly", "scopes": ["check", "read"]}
    )
    assert made.status_code == 201, made.text
    assert made.json()["api_key"]["scopes"] == ["read", "check"]
    assert server.me(made.json()["key"]).json()["scopes"] == ["check", "read"]
    unscoped = server.call("POST", "/api/api-keys", admin, json={"name": "all"}).json()
    assert unscoped["api_key"]["scopes"] is None and server.me(unscoped["key"]).json()["scopes"] is None


def test_msp_apikey_create_takes_scopes(msp_env: dict[str, str]) -> None:
    def msp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*MSP, *args], env=msp_env, capture_output=True, text=True, timeout=120)

    assert msp("init").returncode == 0
    made = msp(
        "apikey", "create", "--name", "laptop", "--scope", "check", "--scope", "record", "--scope", "read"
    )
    assert made.returncode == 0, made.stderr
    assert "scopes read, check, record" in made.stderr
    listed = json.loads(msp("apikey", "list", "--json").stdout)
    assert [k["scopes"] for k in listed] == [["read", "check", "record"]]
    bad = msp("apikey", "create", "--name", "x", "--scope", "everything")
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("msp: error: unknown scope(s) everything")
    assert len(bad.stderr.strip().splitlines()) == 1
