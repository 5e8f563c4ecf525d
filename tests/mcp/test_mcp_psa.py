"""The agent's PSA tools through a real MCP client, against a fake PSA on every backend:
``link_ticket`` checks the ticket exists and links it, ``log_time`` posts a time entry once, and
a PSA that is down leaves the entry queued instead of holding the agent up."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mcp.client import Client

from mspmode.db.session import Database
from mspmode.integrations.psa import units
from mspmode.services import entities, psa
from mspmode.services.actor import local_actor
from mspmode.services.crud import create_row
from mspmode.services.runtime import Runtime
from tests.fakes.psa import VENDORS
from tests.integration.test_learning import make_rt
from tests.mcp.test_mcp import payload, session_with, text_of


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("mcp-psa-home"))


def test_link_ticket_and_log_time(rt: Runtime) -> None:
    v = VENDORS["itflow"]
    fake = v.make()
    admin = local_actor("mcp")
    tag = uuid.uuid4().hex[:6]
    with fake.serve():
        row = psa.add_integration(
            rt,
            admin,
            "itflow",
            name=f"itflow-{tag}",
            url=fake.base_url,
            secrets=psa.parse_secrets("itflow", v.secrets),
        )
        fake.add_ticket(88, "Mailbox full", "Open")
        create_row(rt, admin, entities.SPECS["clients"], {"name": f"Acme {tag}"})
        ws, _ = entities.start_session(rt, admin, client_ref=f"Acme {tag}")
        sid = str(ws.id)

        async def body(c: Client) -> dict[str, Any]:
            out: dict[str, Any] = {}
            missing = await c.call_tool("link_ticket", {"number": "TCK-999", "session_id": sid})
            out["missing"] = (missing.is_error, text_of(missing))
            out["linked"] = payload(
                await c.call_tool(
                    "link_ticket",
                    {"number": "TCK-88", "integration": row.integration_name, "session_id": sid},
                )
            )
            out["logged"] = payload(
                await c.call_tool("log_time", {"minutes": 35, "note": "Archived old mail", "session_id": sid})
            )
            fake.delay_s = 10.0
            out["slow"] = payload(
                await c.call_tool("log_time", {"minutes": 5, "note": "Called the user", "session_id": sid})
            )
            return out

        try:
            got = session_with(rt, admin, body)
        finally:
            fake.delay_s = 0
        entities.forget_session(rt)
    assert got["missing"][0] and "no ticket number TCK-999" in got["missing"][1]
    assert got["linked"]["title"] == "Mailbox full" and got["linked"]["status"] == "Open"
    assert got["logged"]["status"] == "posted" and got["logged"]["ticket"] == "TCK-88"
    assert [units.from_hms(t["ticket_reply_time_worked"]) for t in fake.times] == [35]
    assert got["slow"]["status"] == "queued" and "in time" in got["slow"]["error"]
