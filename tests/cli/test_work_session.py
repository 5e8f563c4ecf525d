"""``msp session start|stop|status|list`` and ``msp work add``: the current session file the hooks
read, the seed's billing defaults, and the refusals."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import UTC, datetime, timedelta

from mspmode.services import crud, entities
from mspmode.services.actor import local_actor
from mspmode.services.current_session import current_session_path
from mspmode.settings import Settings
from tests.cli.test_entities import Msp, cli  # noqa: F401  (fixture)
from tests.cli.test_setup import msp, one_error_line

CONTRACT_KEYS = {"session_id", "client_id", "project_id", "machine_id", "started_at", "database"}


def test_the_work_loop(cli: Msp) -> None:  # noqa: F811
    cli("client", "add", "Acme Corp")
    started = cli.json("session", "start", "--client", "acme corp", "--title", "Certificate renewal")
    path = current_session_path(Settings(home=cli.home))
    assert started["current_session_file"] == str(path)
    doc = json.loads(path.read_text())
    assert set(doc) == CONTRACT_KEYS
    assert doc["session_id"] == started["id"] and doc["client_id"] == started["client_id"]
    assert doc["project_id"] is None and uuid.UUID(doc["machine_id"])
    assert datetime.fromisoformat(doc["started_at"]).tzinfo is not None
    assert doc["database"].startswith("sqlite:///")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".current-session.")]

    assert "already running" in cli.error("session", "start", "--client", "Acme Corp")
    status = cli.json("session", "status")
    assert status["id"] == started["id"] and status["client"] == "Acme Corp"

    item = cli.json("work", "add", "Renewed the certificate on WEB1", "--minutes", "45")
    assert (item["actual_minutes"], item["is_billable"]) == (45, True)
    fixed = cli.json("work", "add", "Fixed the broken backup job error", "--minutes", "30", "--no-billable")
    assert fixed["category"] == "troubleshooting" and fixed["category_inferred"] is True
    assert fixed["is_billable"] is False
    chosen = cli.json("work", "add", "Wrote the runbook", "--minutes", "20", "--category", "documentation")
    assert chosen["category"] == "documentation" and chosen["category_inferred"] is False
    assert [item["item_order"], fixed["item_order"], chosen["item_order"]] == [1, 2, 3]
    text = cli("work", "add", "Phone call", "--minutes", "5").stdout
    assert text.startswith("logged 5 min of") and "billable" in text

    stopped = cli.json("session", "stop", "--summary", "Certificates renewed")
    assert stopped["status"] == "completed" and stopped["ended_at"]
    assert stopped["billable_hours"] == "1.17"  # (45 + 20 + 5) / 60
    assert not path.exists()
    assert cli.json("session", "status") is None

    assert "no session is running" in cli.error("session", "stop")
    assert "no session is running" in cli.error("work", "add", "Something")
    # --session logs into a stopped session explicitly.
    late = cli.json("work", "add", "Late note", "--minutes", "10", "--session", started["id"])
    assert late["session_id"] == started["id"]
    listed = cli.json("session", "list", "--client", "Acme Corp")
    assert [s["id"] for s in listed] == [started["id"]] and listed[0]["billable_hours"] == "1.33"


def test_internal_work_is_not_billable_and_time_runs_from_the_previous_item(cli: Msp) -> None:  # noqa: F811
    cli("client", "add", "Our MSP", "--type", "internal")
    rt, actor = cli.runtime(), local_actor()
    try:
        t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        row, _ = entities.start_session(rt, actor, client_ref="Our MSP", now=t0)
        a = entities.add_work(rt, actor, "Patched our own server", now=t0 + timedelta(minutes=40))
        b = entities.add_work(rt, actor, "Updated the wiki", now=t0 + timedelta(minutes=55))
        c = entities.add_work(
            rt, actor, "Billed to a client after all", billable=True, now=t0 + timedelta(minutes=85)
        )
        assert (a.actual_minutes, b.actual_minutes, c.actual_minutes) == (40, 15, 30)
        assert (a.is_billable, b.is_billable, c.is_billable) == (False, False, True)
        stopped = entities.stop_session(rt, actor, now=t0 + timedelta(minutes=90))
        assert stopped.duration_minutes == 90
        assert str(stopped.billable_hours) == "0.50"
        got = crud.get_row(rt, actor, entities.SPECS["sessions"], row.id)
        assert got.status == "completed"
    finally:
        rt.dispose()


def test_a_session_file_from_another_database_is_not_used(cli: Msp) -> None:  # noqa: F811
    cli("client", "add", "Acme Corp")
    cli("session", "start", "--client", "Acme Corp")
    path = current_session_path(Settings(home=cli.home))
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "database": "postgresql+psycopg://msp@db.example/msp"}))
    assert "was started on postgresql+psycopg://msp@db.example/msp" in cli.error("work", "add", "x")
    assert "forgot the current session" in cli("session", "stop", "--force").stdout
    path.write_text("{not json")
    assert "is not a current-session file" in cli.error("session", "status")
    cli("session", "stop", "--force")
    assert not path.exists()


def test_the_work_loop_as_real_processes(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    assert msp(msp_env, "client", "add", "Acme Corp").returncode == 0
    line = one_error_line(msp(msp_env, "session", "start", "--client", "Acme"))
    assert line == "msp: error: no client 'Acme'; closest: Acme Corp"
    assert msp(msp_env, "session", "start", "--client", "Acme Corp").returncode == 0
    added = msp(msp_env, "work", "add", "Configure the VPN", "--minutes", "15")
    assert added.returncode == 0 and "logged 15 min of configuration (inferred), billable" in added.stdout
    stopped = msp(msp_env, "session", "stop")
    assert stopped.returncode == 0 and "billable hours 0.25" in stopped.stdout
    assert "Acme Corp" in msp(msp_env, "session", "list").stdout
