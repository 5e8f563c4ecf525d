"""``msp client|site|host|service|task|tag`` through Typer's runner (in process, on SQLite) and
as real subprocesses: tables, --json, and one-line errors naming the closest existing names."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mspmode.cli.app import app
from mspmode.errors import MSPError, NotFoundError
from mspmode.services import crud, entities, setup
from mspmode.services.actor import local_actor
from mspmode.services.resources import SPECS
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings
from tests.cli.test_setup import msp, one_error_line


class Msp:
    """The ``msp`` app in process, with its own MSP_HOME (and SQLite database in it)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {"MSP_HOME": str(home), "MSP_DATABASE_URL": ""}
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Any:
        saved = {
            k: v for k, v in os.environ.items() if k.startswith("MSP_") and not k.startswith("MSP_TEST_")
        }
        for k in saved:
            del os.environ[k]
        try:
            result = self.runner.invoke(app, list(args), env={"MSP_HOME": str(self.home)})
        finally:
            os.environ.update(saved)
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def error(self, *args: str) -> str:
        result = self(*args, ok=False)
        assert isinstance(result.exception, MSPError), (result.output, result.exception)
        return str(result.exception)

    def runtime(self) -> Runtime:
        return Runtime(Settings(home=self.home))


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Msp]:
    home = tmp_path / "home"
    setup.initialize(Settings(home=home))
    yield Msp(home)


def test_clients_sites_hosts_services_tasks_and_tags(cli: Msp) -> None:
    cli("client", "add", "Acme Corp", "--rate", "95.00", "--domain", "acme.local")
    cli("client", "add", "Our MSP", "--type", "internal")
    clients = cli.json("client", "list")
    assert [c["name"] for c in clients] == ["Acme Corp", "Our MSP"]
    assert clients[0]["default_hourly_rate"] == "95.00"

    cli("site", "add", "Main office", "--client", "acme corp", "--timezone", "Europe/Berlin")
    cli(
        "host",
        "add",
        "DC01",
        "--client",
        "Acme Corp",
        "--site",
        "main office",
        "--ip",
        "10.0.0.10",
        "--os",
        "Windows Server",
        "--os-version",
        "2008 R2",
        "--powershell",
        "2.0",
        "--alias",
        "dc",
        "--trait",
        "domain_controller=true",
        "--notes",
        "No PowerShell remoting.",
    )
    cli("host", "add", "nas", "--client", "Acme Corp", "--os", "DSM", "--trait", "busybox=true")
    cli("host", "edit", "dc", "--alias", "pdc", "--trait", "tier=1", "--drop-trait", "domain_controller")
    cli("service", "add", "Active Directory", "--host", "10.0.0.10", "--type", "directory", "--port", "389")
    cli("tag", "add", "server_2008", "--category", "infrastructure")
    cli("tag", "host", "DC01", "server_2008")
    cli(
        "task",
        "add",
        "Replace the UPS battery",
        "--client",
        "Acme Corp",
        "--priority",
        "high",
        "--due",
        "2026-04-01",
    )

    hosts = cli.json("host", "list", "--client", "Acme Corp")
    assert [h["hostname"] for h in hosts] == ["DC01", "nas"]
    dc = next(h for h in hosts if h["hostname"] == "DC01")
    assert dc["aliases"] == ["dc", "pdc"]
    assert dc["traits"] == {"tier": 1}
    assert dc["client"] == "Acme Corp"
    assert cli.json("host", "list", "--os", "DSM")[0]["traits"] == {"busybox": True}

    shown = cli.json("client", "show", "ACME CORP")
    assert shown["sites"] == ["Main office"] and shown["hosts"] == ["DC01", "nas"]
    assert shown["pending_tasks"] == ["Replace the UPS battery"]
    assert [s["name"] for s in cli.json("service", "list", "--host", "pdc")] == ["Active Directory"]
    assert cli.json("tag", "list")[0]["name"] == "server_2008"
    tasks = cli.json("task", "list")
    assert tasks[0]["priority"] == "high" and tasks[0]["due_date"].startswith("2026-04-01")
    cli("task", "done", tasks[0]["id"])
    assert cli.json("task", "list") == []
    assert len(cli.json("task", "list", "--all")) == 1
    assert cli.json("site", "show", "Main office", "--client", "Acme Corp")["timezone"] == "Europe/Berlin"

    # Tables on the terminal name the same rows.
    table = cli("host", "list").stdout
    assert "DC01" in table and "2008 R2" in table


def test_host_show_has_services_insights_and_recent_failures(cli: Msp) -> None:
    cli("client", "add", "Acme Corp")
    cli(
        "host",
        "add",
        "DC01",
        "--client",
        "Acme Corp",
        "--os",
        "Windows Server",
        "--os-version",
        "2008 R2",
        "--notes",
        "Reboots only after 22:00.",
    )
    cli("service", "add", "DNS", "--host", "DC01", "--type", "dns", "--port", "53")
    rt, actor = cli.runtime(), local_actor()
    try:
        host = entities.resolve(rt, actor, entities.find_host, "DC01")
        client_id = host.client_id
        s = crud.create_row(
            rt,
            actor,
            SPECS["sessions"],
            {"client_id": client_id, "session_title": "t", "started_at": datetime.now(UTC)},
        )
        pattern = crud.create_row(
            rt,
            actor,
            SPECS["failure-patterns"],
            {
                "infrastructure_id": host.id,
                "client_id": client_id,
                "pattern_type": "command_compatibility",
                "pattern_signature": "Get-LocalUser not found",
                "failure_description": "no such cmdlet",
                "root_cause": "PowerShell 2.0",
                "recommended_solution": "net user",
                "culprit": "Get-LocalUser",
            },
        )
        crud.create_row(
            rt,
            actor,
            SPECS["commands"],
            {
                "session_id": s.id,
                "infrastructure_id": host.id,
                "command_text": "Get-LocalUser",
                "success": False,
                "exit_code": 1,
                "failure_category": "command_not_found",
                "failure_pattern_id": pattern.id,
            },
        )
        crud.create_row(
            rt,
            actor,
            SPECS["environmental-insights"],
            {
                "infrastructure_id": host.id,
                "client_id": client_id,
                "insight_category": "command_constraints",
                "insight_title": "No Get-LocalUser",
                "insight_description": "Use net user on DC01.",
                "priority": 9,
            },
        )
    finally:
        rt.dispose()
    shown = cli.json("host", "show", "dc01")
    assert shown["environmental_notes"] == "Reboots only after 22:00."
    assert [s["name"] for s in shown["services"]] == ["DNS"]
    assert shown["insights"][0]["title"] == "No Get-LocalUser"
    assert shown["failure_patterns"][0]["culprit"] == "Get-LocalUser"
    assert shown["recent_failures"][0]["command"] == "Get-LocalUser"
    text = cli("host", "show", "DC01").stdout
    assert "No Get-LocalUser" in text and "DNS" in text and "2008 R2" in text


def test_unknown_names_answer_with_the_closest_ones(cli: Msp) -> None:
    cli("client", "add", "Acme Corp")
    cli("client", "add", "Globex")
    cli("host", "add", "DC01", "--client", "Acme Corp")
    cli("host", "add", "DC02", "--client", "Acme Corp")
    assert cli.error("client", "show", "Acme Corpp") == "no client 'Acme Corpp'; closest: Acme Corp"
    assert cli.error("host", "show", "DC1") == "no host 'DC1'; closest: DC01, DC02"
    scoped = cli.error("host", "show", "dc0", "--client", "Acme Corp")
    assert scoped.startswith("no host 'dc0' for Acme Corp; closest: ") and "DC01" in scoped
    assert "nothing close; known: Acme Corp, Globex" in cli.error("client", "show", "Initech")
    assert "no site 'HQ' for Acme Corp; there are none yet" in cli.error(
        "host", "add", "x", "--client", "Acme Corp", "--site", "HQ"
    )
    assert "KEY=VALUE" in cli.error("host", "edit", "DC01", "--trait", "novalue")
    assert "nothing to change" in cli.error("host", "edit", "DC01")
    # Two clients with a host of the same name: the client tells them apart.
    cli("host", "add", "DC01", "--client", "Globex")
    assert "2 hosts answer to 'DC01'" in cli.error("host", "show", "DC01")
    assert cli.json("host", "show", "DC01", "--client", "Globex")["client"] == "Globex"


def test_not_found_message_is_one_line() -> None:
    error = entities.not_found("host", "web", [f"web{i:02}" for i in range(40)])
    assert isinstance(error, NotFoundError)
    assert "\n" not in str(error) and str(error).count(",") == 2  # three closest names


def test_a_real_msp_process_prints_one_error_line(msp_env: dict[str, str]) -> None:
    assert msp(msp_env, "init").returncode == 0
    assert msp(msp_env, "client", "add", "Acme Corp").returncode == 0
    added = msp(msp_env, "host", "add", "WEB1", "--client", "Acme Corp", "--os", "Ubuntu")
    assert added.returncode == 0, added.stderr
    line = one_error_line(msp(msp_env, "host", "show", "WEB-1"))
    assert line == "msp: error: no host 'WEB-1'; closest: WEB1"
    listed = msp(msp_env, "host", "list", "--json")
    assert json.loads(listed.stdout)[0]["os"] == "Ubuntu"
    assert msp(msp_env, "audit", "verify").returncode == 0


def test_project_add_ties_a_folder_to_its_client_for_the_hooks(cli: Msp, tmp_path: Path) -> None:
    """Issue 16: ``msp project add --path DIR --client C``; a session in DIR or below it is the
    client's (what SessionStart recalls), without ``msp session start``."""
    from mspmode.services import hooks

    cli("client", "add", "Acme Corp")
    cli("client", "add", "Globex")
    folder = tmp_path / "work" / "acme-dc"
    (folder / "scripts").mkdir(parents=True)
    out = cli("project", "add", "--path", str(folder), "--client", "acme corp").stdout
    assert out.startswith("added project acme-dc ") and str(folder) in out
    again = cli("project", "add", "--path", str(folder), "--client", "Acme Corp").stdout
    assert again.startswith("project acme-dc ")  # nothing new
    [row] = cli.json("project", "list")
    assert (row["client"], row["name"], row["local_path"]) == ("Acme Corp", "acme-dc", str(folder))

    rt = cli.runtime()
    try:
        for cwd in (folder, folder / "scripts"):
            assert hooks.scope_for(rt, local_actor(), str(cwd), None) == (row["client_id"], row["id"])
        assert hooks.scope_for(rt, local_actor(), str(tmp_path / "work"), None) == (None, None)
    finally:
        rt.dispose()

    taken = cli.error("project", "add", "other", "--path", str(folder), "--client", "Globex")
    assert "already the folder of project 'acme-dc'" in taken
    assert "is not a folder" in cli.error(
        "project", "add", "--path", str(tmp_path / "nope"), "--client", "Globex"
    )
    assert "no client" in cli.error("project", "add", "--path", str(folder), "--client", "Initech").lower()
