"""Environmental insights on every backend: created from a failure pattern, verified by each
new failure, superseded by a better one, deactivated when the host changes (its PowerShell is
upgraded) and learned again only if the failure comes back; the host's limitations and notes;
the client's insights.md; an unknown client."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mspmode.db.session import Database
from mspmode.errors import NotFoundError, PermissionDeniedError
from mspmode.models.core import Client
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import EnvironmentalInsight
from mspmode.services import crud, insights, learning
from mspmode.services.actor import Actor, local_actor
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from tests.integration.test_learning import make_rt

ADMIN = local_actor()
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def spec(name: str) -> crud.ResourceSpec:
    return next(s for s in RESOURCES if s.name == name)


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("home"))


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def feed(rt: Runtime, *events: dict[str, Any]) -> learning.ImportReport:
    return learning.import_lines(rt, ADMIN, [json.dumps(e).encode() for e in events], source="test")


def not_recognized(word: str) -> str:
    return (
        f"{word} : The term '{word}' is not recognized as the name of a cmdlet, function, script file, "
        f"or operable program.\n    + CategoryInfo          : ObjectNotFound: ({word}:String) [], "
        "CommandNotFoundException"
    )


def ps_host(client: str, name: str, version: str = "2.0") -> dict[str, Any]:
    return {
        "kind": "host",
        "client": client,
        "hostname": name,
        "os": "Windows Server",
        "os_version": "2008 R2",
        "shell_type": "powershell",
        "powershell_version": version,
    }


def cmd(host: str, command: str, exit_code: int, output: str, minutes: float, session: str) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {
        "kind": "command",
        "host": host,
        "command": command,
        "exit_code": exit_code,
        "output": output,
        "at": at,
        "session": session,
    }


def client_id(rt: Runtime, name: str) -> uuid.UUID:
    with rt.db.read() as s:
        return s.scalars(select(Client.id).where(Client.name == name)).one()


def host_row(rt: Runtime, name: str) -> Infrastructure:
    with rt.db.read() as s:
        return s.scalars(select(Infrastructure).where(Infrastructure.hostname == name)).one()


def insights_of(rt: Runtime, host_id: uuid.UUID) -> list[EnvironmentalInsight]:
    with rt.db.read() as s:
        stmt = select(EnvironmentalInsight).where(EnvironmentalInsight.infrastructure_id == host_id)
        return list(s.scalars(stmt.order_by(EnvironmentalInsight.created_at)))


def test_insight_lifecycle_create_verify_deactivate_on_upgrade_and_relearn(rt: Runtime, uid: str) -> None:
    client, host = f"Acme {uid}", f"AD-{uid}"
    cmdlet = f"Get-LocalUser{uid}"
    fix = f"Get-WmiObject Win32_UserAccount -Filter Name={uid}"
    feed(
        rt,
        {"kind": "client", "name": client},
        ps_host(client, host),
        cmd(host, cmdlet, 1, not_recognized(cmdlet), 0, f"s-{uid}"),
        cmd(host, fix, 0, "Name Disabled", 1, f"s-{uid}"),
    )
    cid = client_id(rt, client)
    first = insights.refresh(rt, ADMIN, cid)
    assert first["created"] == 1
    h = host_row(rt, host)
    (created,) = insights_of(rt, h.id)
    assert created.is_active and created.superseded_by is None
    assert created.client_id == cid and created.source_pattern_id is not None
    assert created.insight_category == "version_limitations"
    assert cmdlet in created.insight_title and "PowerShell 2.0" in created.insight_title
    assert fix in created.insight_description and created.examples == [fix]
    assert created.verification_count == 1
    assert 1 <= created.priority <= 10
    assert created.confidence_level in ("suspected", "likely", "confirmed")
    # The host is told too: a marked limitation and a marked block in its notes.
    assert h.limitations == [insights.LEARNED + created.insight_title]
    assert h.environmental_notes and insights.NOTES_START in h.environmental_notes
    assert created.insight_title in h.environmental_notes
    # Refreshing again changes nothing.
    assert insights.refresh(rt, ADMIN, cid) == {
        "created": 0,
        "updated": 0,
        "deactivated": 0,
        "superseded": 0,
        "hosts_noted": 0,
    }

    # Verified: the same failure again raises the count and moves last_verified.
    feed(rt, cmd(host, f"{cmdlet} -Name jdoe", 1, not_recognized(cmdlet), 30, f"s2-{uid}"))
    again = insights.refresh(rt, ADMIN, cid)
    assert again["created"] == 0 and again["updated"] == 1
    (verified,) = insights_of(rt, h.id)
    assert verified.id == created.id
    assert verified.verification_count == 2
    assert verified.last_verified is not None and created.last_verified is not None
    assert verified.last_verified > created.last_verified
    assert verified.priority >= created.priority

    # The host is upgraded to PowerShell 5.1: the insight no longer holds.
    feed(rt, ps_host(client, host, "5.1"))
    upgraded = insights.refresh(rt, ADMIN, cid)
    assert upgraded["deactivated"] == 1 and upgraded["created"] == 0
    (old,) = insights_of(rt, h.id)
    assert not old.is_active
    h = host_row(rt, host)
    assert not h.limitations
    assert not h.environmental_notes or insights.NOTES_START not in h.environmental_notes
    assert "## " + host not in insights.insights_markdown(rt, ADMIN, client)

    # It fails on 5.1 too: learned again, on the new facts, as a new insight.
    feed(rt, cmd(host, cmdlet, 1, not_recognized(cmdlet), 90, f"s3-{uid}"))
    insights.refresh(rt, ADMIN, cid)
    rows = insights_of(rt, h.id)
    active = [r for r in rows if r.is_active]
    assert len(rows) == 2 and len(active) == 1
    assert active[0].id != old.id and "PowerShell 5.1" in active[0].insight_title
    assert not next(r for r in rows if r.id == old.id).is_active


def test_a_better_insight_supersedes_the_old_one(rt: Runtime, uid: str) -> None:
    client, host = f"Beta {uid}", f"FS-{uid}"
    cmdlet = f"Get-SmbShare{uid}"
    feed(
        rt,
        {"kind": "client", "name": client},
        ps_host(client, host),
        cmd(host, cmdlet, 1, not_recognized(cmdlet), 0, f"s-{uid}"),
    )
    cid = client_id(rt, client)
    insights.refresh(rt, ADMIN, cid)
    h = host_row(rt, host)
    (learned,) = insights_of(rt, h.id)
    assert learned.is_active and learned.examples == [cmdlet]  # no alternative known yet
    # A technician records what they know for sure about the same cmdlet on that host.
    crud.create_row(
        rt,
        ADMIN,
        spec("failure-patterns"),
        {
            "infrastructure_id": h.id,
            "client_id": cid,
            "pattern_type": "command_not_found",
            "failure_class": "command_not_found",
            "pattern_signature": f"{cmdlet} needs PowerShell 3.0",
            "culprit": cmdlet,
            "confidence_level": "confirmed",
            "severity": "blocking",
            "failure_description": f"{cmdlet} is not in PowerShell 2.0",
            "root_cause": "SmbShare cmdlets came with Server 2012.",
            "recommended_solution": "Use net share.",
            "workaround_commands": ["net share"],
            "occurrence_count": 1,
        },
    )
    report = insights.refresh(rt, ADMIN, cid)
    assert report["created"] == 1 and report["superseded"] == 1
    rows = {r.id: r for r in insights_of(rt, h.id)}
    old = rows[learned.id]
    (better,) = [r for r in rows.values() if r.id != learned.id]
    assert better.is_active and better.confidence_level == "confirmed" and better.examples == ["net share"]
    assert not old.is_active and old.superseded_by == better.id
    text = insights.insights_markdown(rt, ADMIN, client)
    assert "net share" in text and text.count(f"`{cmdlet}`") >= 1
    assert "SmbShare cmdlets came with Server 2012." in text


def test_insights_written_by_a_person_are_kept(rt: Runtime, uid: str) -> None:
    client, host = f"Gamma {uid}", f"NAS-{uid}"
    feed(rt, {"kind": "client", "name": client}, {"kind": "host", "client": client, "hostname": host})
    cid = client_id(rt, client)
    h = host_row(rt, host)
    crud.update_row(rt, ADMIN, spec("infrastructure"), h.id, {"limitations": ["SMB1 only"]})
    crud.create_row(
        rt,
        ADMIN,
        spec("environmental-insights"),
        {
            "client_id": cid,
            "infrastructure_id": h.id,
            "insight_category": "custom_installations",
            "insight_title": "WINS: manual Samba nmbd",
            "insight_description": "**Installation:** by hand\n\n**Check status:** `ps aux | grep nmbd`",
            "examples": ["ps aux | grep nmbd"],
            "priority": 9,
        },
    )
    insights.refresh(rt, ADMIN, cid)
    (kept,) = insights_of(rt, h.id)
    assert kept.is_active and kept.insight_title == "WINS: manual Samba nmbd"
    assert host_row(rt, host).limitations == ["SMB1 only"]
    text = insights.insights_markdown(rt, ADMIN, client)
    assert f"## {host}" in text and "### Custom Installations" in text
    assert "**WINS: manual Samba nmbd** (priority 9)" in text
    assert "- SMB1 only" in text


def test_insights_md_for_an_unknown_client_names_the_clients(rt: Runtime, uid: str) -> None:
    feed(rt, {"kind": "client", "name": f"Delta {uid}"})
    with pytest.raises(NotFoundError) as caught:
        insights.insights_markdown(rt, ADMIN, f"nobody-{uid}")
    assert f"nobody-{uid}" in str(caught.value) and f"Delta {uid}" in str(caught.value)
    # By id and by name in any case.
    cid = client_id(rt, f"Delta {uid}")
    assert insights.resolve_client(rt, ADMIN, str(cid)) == (cid, f"Delta {uid}")
    assert insights.resolve_client(rt, ADMIN, f"delta {uid}".upper())[0] == cid


def test_a_scoped_or_readonly_actor(rt: Runtime, uid: str) -> None:
    feed(rt, {"kind": "client", "name": f"Eps {uid}"}, {"kind": "client", "name": f"Zeta {uid}"})
    mine, other = client_id(rt, f"Eps {uid}"), client_id(rt, f"Zeta {uid}")
    scoped = Actor(type="api_key", role="technician", name="scoped", client_scope=frozenset({mine}))
    with pytest.raises(NotFoundError) as caught:
        insights.insights_markdown(rt, scoped, f"Zeta {uid}")
    assert str(caught.value).endswith(f"clients: Eps {uid}")  # only the clients it may see
    assert insights.insights_markdown(rt, scoped, f"Eps {uid}").startswith(
        f"# Environmental Insights: Eps {uid}"
    )
    with pytest.raises(NotFoundError):
        insights.refresh(rt, scoped, other)
    reader = Actor(type="api_key", role="readonly", name="reader")
    with pytest.raises(PermissionDeniedError):
        insights.refresh(rt, reader)
    # A reader still gets the file, without a refresh.
    assert insights.insights_markdown(rt, reader, f"Eps {uid}").startswith("# Environmental Insights")


def test_the_dev_scenario_gives_the_seed_insights(rt: Runtime, tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios" / "dev-learning.jsonl"
    if not scenario.exists():
        pytest.skip("dev scenario not found")
    learning.import_file(rt, ADMIN, scenario)
    text = insights.insights_markdown(rt, ADMIN, "Dataforth")
    assert text.startswith("# Environmental Insights: Dataforth")
    assert "## AD1 (192.0.2.5 - Windows Server 2008 R2, PowerShell 2.0)" in text
    assert "`Get-LocalUser` not available" in text and "Get-WmiObject Win32_UserAccount" in text
    assert "## D2TESTNAS" in text and "`systemctl` not available" in text
    assert "service nmbd status" in text
