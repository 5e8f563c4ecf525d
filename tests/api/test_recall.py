"""Recall over HTTP on every backend: GET /api/recall (JSON and markdown), saving a transcript
as a compressed context, client scoping, and the MCP tools over streamable HTTP at /mcp with
the same API keys (a request without one is a 401)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.api.conftest import Api

FATAL = "postqueue: fatal: Cannot flush mail queue - mail system is down"


def context(api: Api, who: str, client: uuid.UUID, title: str, summary: str, **extra: Any) -> dict[str, Any]:
    made = api.as_(who).post(
        "/api/conversation-contexts",
        json={
            "client_id": str(client),
            "context_type": "session_summary",
            "title": title,
            "dense_summary": summary,
            **extra,
        },
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_recall_returns_the_clients_facts_as_json_and_markdown(api: Api) -> None:
    w = "zq" + uuid.uuid4().hex[:8]
    mine = context(api, "tech", api.client_a, f"Backup job {w}", f"Veeam job {w} failed: repository full")
    context(api, "admin", api.client_b, f"Other {w}", f"Client B private {w}")
    got = api.as_("tech").get("/api/recall", params={"client": str(api.client_a), "q": f"veeam {w}"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert f"Veeam job {w} failed: repository full" in body["markdown"]
    assert f"Client B private {w}" not in body["markdown"]
    assert f"context:{mine['id']}" in body["used"]
    assert body["items"][0]["relevance"] > 0 and body["chars"] == len(body["markdown"]) <= 10_000
    md = api.as_("readonly").get("/api/recall", params={"client": str(api.client_a), "format": "markdown"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("## Recalled context")
    # The usage counts are written after each answer is sent: polled for, with a deadline.
    deadline = time.monotonic() + 10
    while (row := api.as_("tech").get(f"/api/conversation-contexts/{mine['id']}").json())["usage_count"] < 2:
        assert time.monotonic() < deadline, f"usage not counted: {row['usage_count']}"
        time.sleep(0.05)
    assert row["last_used_at"]


def test_recall_is_scoped_authenticated_and_validated(api: Api) -> None:
    w = "zq" + uuid.uuid4().hex[:8]
    context(api, "admin", api.client_b, f"Hidden {w}", f"Client B only {w}")
    scoped = api.as_("scoped").get("/api/recall", params={"q": w})
    assert scoped.status_code == 200 and f"Client B only {w}" not in scoped.json()["markdown"]
    assert api.as_("scoped").get("/api/recall", params={"client": str(api.client_b)}).status_code == 404
    assert api.as_("anonymous").get("/api/recall").status_code == 401
    assert api.as_("tech").get("/api/recall", params={"budget": 0}).status_code == 422
    assert api.as_("tech").get("/api/recall", params={"budget": 2501}).status_code == 422


def test_a_transcript_is_saved_compressed_and_without_its_secrets(api: Api) -> None:
    secret = "Zx9!" + uuid.uuid4().hex
    lines = [
        {
            "type": "user",
            "sessionId": "s",
            "message": {"role": "user", "content": "why is the mail queue stuck?"},
        },
        {
            "type": "assistant",
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "We decided to flush the queue rather than restart postfix."},
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "Bash",
                        "input": {"command": f"sshpass -p '{secret}' ssh root@mx1.example.net postqueue -f"},
                    },
                ],
            },
        },
        {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": f"Exit code 75\n{FATAL}",
                        "is_error": True,
                    }
                ],
            },
        },
    ]
    made = api.as_("tech").post(
        "/api/conversation-contexts/transcript",
        json={"lines": [json.dumps(x) for x in lines], "client": str(api.client_a)},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert secret not in json.dumps(body)
    assert FATAL in body["dense_summary"]
    assert "flush the queue rather than restart postfix" in body["dense_summary"]
    assert "mx1.example.net" in body["dense_summary"]
    stored = api.as_("tech").get(f"/api/conversation-contexts/{body['id']}").json()
    assert secret not in json.dumps(stored) and stored["client_id"] == str(api.client_a)
    bad = api.as_("readonly").post("/api/conversation-contexts/transcript", json={"lines": ["{}"]})
    assert bad.status_code == 403


def test_mcp_over_http_wants_an_api_key_and_serves_every_tool(api: Api) -> None:
    bare = api.as_("anonymous").post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert bare.status_code == 401 and bare.json()["error"]["type"] == "AuthenticationError"
    forged = httpx2.post(
        f"{api.base}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": "Bearer msp_not_a_key"},
    )
    assert forged.status_code == 401
    w = "zq" + uuid.uuid4().hex[:8]
    context(api, "tech", api.client_a, f"Printer {w}", f"Printer spooler {w} restarted via services.msc")

    async def run(who: str) -> tuple[set[str], str, Any]:
        headers = {"Authorization": f"Bearer {api.keys[who]}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{api.base}/mcp", http_client=http)) as c,
        ):
            names = {t.name for t in (await c.list_tools()).tools}
            recalled = await c.call_tool("recall_context", {"query": f"spooler {w}"})
            saved = await c.call_tool("save_context", {"title": "x", "text": "y"})
            return names, "\n".join(getattr(x, "text", "") for x in recalled.content), saved

    names, recalled, saved = anyio.run(run, "readonly")
    assert {"check_command", "recall_context", "find_host", "log_work_item"} <= names
    assert f"Printer spooler {w} restarted" in recalled
    # The key's role applies: a read-only key may recall but not save.
    assert saved.is_error and "PermissionDenied" in saved.content[0].text
    _, scoped_recall, _ = anyio.run(run, "scoped")
    assert f"Printer spooler {w}" in scoped_recall  # client A is in the scoped key's clients
