"""The MCP tools through a real MCP client session, in process (the SDK's in-memory transport),
on every backend: every tool is called, and errors come back as tool errors that say what to do."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from mspmode.db.session import Database
from mspmode.mcp.server import build_server, fixed_actor
from mspmode.models.infrastructure import Infrastructure
from mspmode.services import entities
from mspmode.services.actor import Actor, local_actor
from mspmode.services.crud import create_row
from mspmode.services.runtime import Runtime
from tests.integration.test_learning import make_rt

TOOLS = {
    "check_command",
    "record_command",
    "recall_context",
    "save_context",
    "search_solutions",
    "get_insights",
    "log_work_item",
    "find_host",
    "link_ticket",
    "log_time",
}


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("mcp-home"))


def session_with(rt: Runtime, actor: Actor, body: Callable[[Client], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        async with Client(build_server(rt, fixed_actor(actor))) as client:
            return await body(client)

    return anyio.run(run)


def payload(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data = result.structured_content
        return data.get("result", data) if isinstance(data, dict) and set(data) == {"result"} else data
    return result.content[0].text


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def test_every_tool_through_an_mcp_client(rt: Runtime) -> None:
    tag = uuid.uuid4().hex[:6]
    admin = local_actor("mcp")
    client_row = create_row(rt, admin, entities.SPECS["clients"], {"name": f"Acme {tag}"})
    with rt.db.write() as s:
        s.add(
            Infrastructure(
                client_id=client_row.id, hostname=f"DC{tag}", powershell_version="2.0", os="Windows Server"
            )
        )
    ws, _ = entities.start_session(rt, admin, client_ref=f"Acme {tag}")
    host = f"DC{tag}"

    async def body(c: Client) -> dict[str, Any]:
        out: dict[str, Any] = {"tools": {t.name: t for t in (await c.list_tools()).tools}}
        error = "The term 'Get-LocalUser' is not recognized as the name of a cmdlet, function, script file"
        out["failed"] = payload(
            await c.call_tool(
                "record_command",
                {"command": "Get-LocalUser -Name bob", "exit_code": 1, "output": error, "host": host},
            )
        )
        out["fixed"] = payload(
            await c.call_tool(
                "record_command",
                {"command": "net user bob", "exit_code": 0, "output": "User name bob", "host": host},
            )
        )
        out["check"] = payload(
            await c.call_tool("check_command", {"command": "Get-LocalUser -Name alice", "host": host})
        )
        out["saved"] = payload(
            await c.call_tool(
                "save_context",
                {
                    "title": f"DC{tag} users",
                    "text": f"Decided: local users on DC{tag} are managed with the net user command",
                    "client": f"Acme {tag}",
                },
            )
        )
        out["recall"] = payload(
            await c.call_tool(
                "recall_context", {"client": f"Acme {tag}", "query": "local users", "hosts": [host]}
            )
        )
        out["solutions"] = payload(await c.call_tool("search_solutions", {"query": "Get-LocalUser"}))
        out["insights"] = payload(await c.call_tool("get_insights", {"host": host}))
        out["work"] = payload(
            await c.call_tool(
                "log_work_item",
                {"description": f"Reset bob's password on DC{tag}", "minutes": 15, "session_id": str(ws.id)},
            )
        )
        out["host"] = payload(await c.call_tool("find_host", {"host": host.lower()}))
        out["unknown"] = await c.call_tool("find_host", {"host": f"nosuch{tag}"})
        out["bad_args"] = await c.call_tool("get_insights", {})
        return out

    got = session_with(rt, admin, body)
    assert set(got["tools"]) == TOOLS
    for tool in got["tools"].values():
        assert tool.description and len(tool.description) > 120  # written for the agent

    assert got["failed"]["failure_class"] == "command_not_found"
    assert got["failed"]["hint"] is not None
    assert got["check"]["verdict"] in ("block", "warn")
    assert "net user" in json.dumps(got["check"])
    assert uuid.UUID(got["saved"]["id"])
    assert f"local users on DC{tag} are managed with the net user command" in got["recall"]
    assert isinstance(got["solutions"], list)
    assert got["insights"].startswith(f"# DC{tag}")
    assert got["work"]["session_id"] == str(ws.id) and got["work"]["actual_minutes"] == 15
    assert got["host"]["hostname"] == host and got["host"]["powershell_version"] == "2.0"
    assert got["host"]["client"] == f"Acme {tag}"
    assert got["unknown"].is_error and "NotFoundError" in text_of(got["unknown"])
    assert got["bad_args"].is_error and "give a host or a client" in text_of(got["bad_args"])
    entities.forget_session(rt)


def test_a_scoped_actor_cannot_reach_another_clients_host(rt: Runtime) -> None:
    tag = uuid.uuid4().hex[:6]
    admin = local_actor("mcp")
    mine = create_row(rt, admin, entities.SPECS["clients"], {"name": f"Mine {tag}"})
    theirs = create_row(rt, admin, entities.SPECS["clients"], {"name": f"Theirs {tag}"})
    with rt.db.write() as s:
        s.add(Infrastructure(client_id=theirs.id, hostname=f"SECRET{tag}"))
    scoped = Actor(type="api_key", role="technician", name="scoped", client_scope=frozenset({mine.id}))

    async def body(c: Client) -> tuple[Any, Any]:
        return (
            await c.call_tool("find_host", {"host": f"SECRET{tag}"}),
            await c.call_tool("recall_context", {"client": f"Theirs {tag}"}),
        )

    host, recalled = session_with(rt, scoped, body)
    assert host.is_error and "no host" in text_of(host) and "Theirs" not in text_of(host)
    assert recalled.is_error and "NotFoundError" in text_of(recalled)


def test_the_stdio_entry_point_serves_the_tools(rt: Runtime, tmp_path: Path) -> None:
    env = {
        "MSP_HOME": str(rt.settings.home),
        "MSP_DATABASE_URL": rt.db.url.render_as_string(hide_password=False),
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mspmode.mcp"], env=env, cwd=str(tmp_path)
    )

    async def run() -> set[str]:
        async with Client(params) as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert anyio.run(run) == TOOLS
