"""Issue 15, finding 1 and the host-name low finding: which host a name means is decided within
the caller's client scope (and the session's client), never across it, on every backend.

A key limited to client A that names client B's host — by name, IP, FQDN, ``user@host`` or
``-ComputerName``, in the ``host`` field or inside the command — is talking about a host it
has never heard of: the command lands on a host of A's (created if new), nothing of B's moves,
a fix learned from it is A's, and a pre-check answers exactly as for a name nobody knows.
The same private IP at two clients is two hosts; a session's client picks between them.
Host names and the spellings that find them are NFKC-normalised and casefolded in one place.

Every path is driven for real: the REST API on uvicorn (single and batch), the MCP tools
through an MCP client session, the team-mode hook processes posting to that server.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import URL

from mspmode.engine import memory as engine_memory
from mspmode.engine.memory import HostScope, Memory, add_host, host_key, resolve_host
from mspmode.mcp.server import build_server, fixed_actor
from mspmode.models.core import Session as WorkSession
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.learning import ProblemSolution
from mspmode.models.work import CommandRun
from mspmode.services import auth
from mspmode.services.actor import Actor, local_actor
from tests.api.conftest import PASSWORD, Api, api  # noqa: F401 - the real server fixture
from tests.cli.test_setup import msp
from tests.hooks.test_hooks_e2e import bash, hook, write_transcript

ERROR = (
    "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable program."
)


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def address(uid: str) -> str:
    """An IPv4 address of this test's own (the module's server is shared by its tests)."""
    n = int(uid, 16)
    return f"10.{(n >> 16) % 250 + 1}.{(n >> 8) % 250 + 1}.{n % 250 + 1}"


def not_recognized(word: str) -> str:
    return f"{word} : " + ERROR.format(word)


def make_host(srv: Api, client: uuid.UUID, name: str, **values: Any) -> dict[str, Any]:
    made = srv.as_("admin").post(
        "/api/infrastructure",
        json={"hostname": name, "client_id": str(client), "shell_type": "powershell", **values},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def scoped_key(srv: Api, client: uuid.UUID, uid: str) -> str:
    """A technician key limited to ``client`` (the fixture's "scoped" key is limited to A)."""
    admin = local_actor()
    name = f"scoped-{uid}"
    auth.create_user(
        srv.rt, admin, username=name, role="technician", password=PASSWORD, clients=[str(client)]
    )
    _, key = auth.create_api_key(srv.rt, admin, name=f"{name} key", role="technician", username=name)
    return key


def new_client(srv: Api, uid: str) -> uuid.UUID:
    made = srv.as_("admin").post("/api/clients", json={"name": f"Client C {uid}"})
    assert made.status_code == 201, made.text
    return uuid.UUID(made.json()["id"])


def as_key(srv: Api, key: str) -> Any:
    import httpx

    return httpx.Client(base_url=srv.base, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def commands_on(srv: Api, host_id: uuid.UUID | str) -> int:
    with srv.db.read() as s:
        stmt = (
            select(func.count())
            .select_from(CommandRun)
            .where(CommandRun.infrastructure_id == uuid.UUID(str(host_id)))
        )
        return int(s.execute(stmt).scalar_one())


def host_row(srv: Api, host_id: uuid.UUID | str) -> Infrastructure:
    with srv.db.read() as s:
        row = s.get(Infrastructure, uuid.UUID(str(host_id)))
        assert row is not None
        return row


def session_client(srv: Api, session_id: uuid.UUID | str) -> uuid.UUID | None:
    with srv.db.read() as s:
        row = s.get(WorkSession, uuid.UUID(str(session_id)))
        assert row is not None
        return row.client_id


def b_host(srv: Api, uid: str) -> dict[str, Any]:
    """Client B's PowerShell 2.0 domain controller, on which Get-Thing<uid> already failed."""
    host = make_host(
        srv,
        srv.client_b,
        f"b-dc-{uid}",
        ip_address=address(uid),
        fqdn=f"b-dc-{uid}.globex.test",
        aliases=[f"bdc{uid}"],
        os="Windows Server",
        os_version="2008 R2",
        powershell_version="2.0",
    )
    failed = srv.as_("admin").post(
        "/api/commands",
        json={
            "host": host["hostname"],
            "command": f"Get-Thing{uid} -Name b-only",
            "exit_code": 1,
            "output": not_recognized(f"Get-Thing{uid}"),
            "session": f"b-{uid}",
        },
    )
    assert failed.status_code == 201, failed.text
    assert failed.json()["command"]["infrastructure_id"] == host["id"]
    return host


def wrappers(uid: str, host: dict[str, Any], script: str) -> list[str]:
    """``script`` run on ``host`` named every way a command names its target."""
    ip, fqdn = host["ip_address"], host["fqdn"]
    return [
        f"ssh admin@{ip} '{script}'",
        f'ssh -p 22 administrator@{fqdn} "{script}"',
        f"Invoke-Command -ComputerName {host['hostname']} -ScriptBlock {{ {script} }}",
        f"Invoke-Command -ComputerName bdc{uid} -ScriptBlock {{ {script} }}",
    ]


def assert_landed_on_a(srv: Api, recorded: dict[str, Any], b_id: str) -> None:
    row = recorded["command"]
    assert row["infrastructure_id"] != b_id, row
    assert row["infrastructure_id"] is not None, row
    assert host_row(srv, row["infrastructure_id"]).client_id == srv.client_a
    assert session_client(srv, row["session_id"]) == srv.client_a


# --------------------------------------------------------------------------------------------
# Recording


def test_a_scoped_key_records_a_command_naming_another_clients_host_on_its_own(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    b = b_host(api, uid)
    scoped = api.as_("scoped")
    for command in wrappers(uid, b, f"Get-Thing{uid} -Name a-side"):
        recorded = scoped.post(
            "/api/commands",
            json={"command": command, "exit_code": 1, "output": not_recognized(f"Get-Thing{uid}")},
        )
        assert recorded.status_code == 201, recorded.text
        assert_landed_on_a(api, recorded.json(), b["id"])
        assert "b-only" not in recorded.text
    # Named in the host field, B's host is a name like any other: a new host of A's.
    named = scoped.post(
        "/api/commands", json={"host": b["ip_address"], "command": "hostname", "exit_code": 0}
    )
    assert named.status_code == 201, named.text
    assert_landed_on_a(api, named.json(), b["id"])
    assert commands_on(api, b["id"]) == 1  # only the failure B itself recorded


def test_a_scoped_batch_never_lands_on_another_clients_host(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    b = b_host(api, uid)
    batch = [
        {"command": c, "exit_code": 1, "output": not_recognized(f"Get-Thing{uid}"), "session": f"a-{uid}"}
        for c in wrappers(uid, b, f"Get-Thing{uid} -Name batch")
    ]
    recorded = api.as_("scoped").post("/api/commands/batch", json={"commands": batch})
    assert recorded.status_code == 201, recorded.text
    for result in recorded.json()["results"]:
        assert_landed_on_a(api, result, b["id"])
    assert commands_on(api, b["id"]) == 1


def test_a_fix_learned_from_a_scoped_key_is_never_another_clients_solution(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    b = b_host(api, uid)
    ip = b["ip_address"]
    recorded = api.as_("scoped").post(
        "/api/commands/batch",
        json={
            "commands": [
                {"command": f"ssh admin@{ip} 'Get-Thing{uid} -Name x'", "exit_code": 1,
                 "output": not_recognized(f"Get-Thing{uid}"), "session": f"fix-{uid}"},
                {"command": f"ssh admin@{ip} 'Get-WmiObject Thing{uid} -Filter a-fix'", "exit_code": 0,
                 "output": "x", "session": f"fix-{uid}"},
            ]
        },
    )  # fmt: skip
    assert recorded.status_code == 201, recorded.text
    results = recorded.json()["results"]
    assert results[1]["learned"]["fixed_patterns"], results  # the fix was learned …
    with api.db.read() as s:
        drafts = list(s.scalars(select(ProblemSolution).where(ProblemSolution.problem_title.contains(uid))))
    assert drafts and {d.client_id for d in drafts} == {api.client_a}  # … as A's solution
    assert all(d.infrastructure_id != uuid.UUID(b["id"]) for d in drafts)
    # B is never offered it: not in a pre-check of B's, nor as a solution of B's.
    with as_key(api, scoped_key(api, api.client_b, uid)) as b_key:
        checked = b_key.post("/api/check", json={"host": b["hostname"], "command": f"Get-Thing{uid} -Name y"})
        assert checked.status_code == 200 and checked.json()["verdict"] == "block", checked.text
        assert "a-fix" not in checked.text
        solutions = b_key.get("/api/problem-solutions", params={"limit": 500}).json()["items"]
        assert not [s for s in solutions if uid in s["problem_title"]]
        searched = b_key.get("/api/problem-solutions/search", params={"q": f"Get-Thing{uid}"})
        assert searched.status_code == 200 and "a-fix" not in searched.text, searched.text


def test_the_same_private_ip_is_a_different_host_at_each_client(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    ip = "192.168.1.10"
    # B's host is the older: a resolution that ignored scope and session would find it first.
    b = make_host(api, api.client_b, f"b-nas-{uid}", ip_address=ip, shell_type="bash")
    a = make_host(api, api.client_a, f"a-nas-{uid}", ip_address=ip, shell_type="bash")
    admin = api.as_("admin")
    sessions = {}
    for name, client in (("a", api.client_a), ("b", api.client_b)):
        made = admin.post(
            "/api/sessions",
            json={
                "client_id": str(client),
                "session_title": f"{name} {uid}",
                "started_at": "2026-04-01T08:00:00Z",
            },
        )
        assert made.status_code == 201, made.text
        sessions[name] = made.json()["id"]
    failure = f"bash: nasctl{uid}: command not found"
    in_a = admin.post(
        "/api/commands",
        json={"command": f"ssh root@{ip} 'nasctl{uid} status'", "exit_code": 127, "output": failure,
              "session_id": sessions["a"]},
    )  # fmt: skip
    assert in_a.status_code == 201, in_a.text
    assert in_a.json()["command"]["infrastructure_id"] == a["id"]
    in_b = admin.post(
        "/api/commands",
        json={
            "command": f"ssh root@{ip} 'uptime'",
            "exit_code": 0,
            "output": "up",
            "session_id": sessions["b"],
        },
    )
    assert in_b.status_code == 201, in_b.text
    assert in_b.json()["command"]["infrastructure_id"] == b["id"]
    # A key of each client gets its own client's host.
    mine = api.as_("scoped").post(
        "/api/commands", json={"command": f"ssh root@{ip} 'df -h'", "exit_code": 0, "output": "ok"}
    )
    assert mine.status_code == 201 and mine.json()["command"]["infrastructure_id"] == a["id"], mine.text
    with as_key(api, scoped_key(api, api.client_b, uid)) as b_key:
        theirs = b_key.post("/api/commands", json={"command": f"ssh root@{ip} 'df -h'", "exit_code": 0})
        assert theirs.status_code == 201 and theirs.json()["command"]["infrastructure_id"] == b["id"], (
            theirs.text
        )
        # The pre-check too: it failed on A's 192.168.1.10, never on B's.
        repeat = {"command": f"ssh root@{ip} 'nasctl{uid} start'"}
        assert b_key.post("/api/check", json=repeat).json()["verdict"] == "allow"
    assert api.as_("scoped").post("/api/check", json=repeat).json()["verdict"] == "block"
    assert admin.post("/api/check", json={**repeat, "session_id": sessions["a"]}).json()["verdict"] == "block"
    assert admin.post("/api/check", json={**repeat, "session_id": sessions["b"]}).json()["verdict"] == "allow"


# --------------------------------------------------------------------------------------------
# The pre-check is no oracle


def _same_answer(unknown: dict[str, Any], invisible: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    a, b = json.dumps(unknown, sort_keys=True), json.dumps(invisible, sort_keys=True)
    for fake, real in pairs:
        a = a.replace(fake, "<name>")
        b = b.replace(real, "<name>")
    assert a == b


def test_a_pre_check_answers_for_another_clients_host_as_for_an_unknown_one(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    b = b_host(api, uid)
    # To a caller who sees B, the repeat is blocked: B's host is not an unknown one.
    assert (
        api.as_("admin")
        .post("/api/check", json={"host": b["hostname"], "command": f"Get-Thing{uid} -Name z"})
        .json()["verdict"]
        == "block"
    )
    scoped = api.as_("scoped")
    unknown_ip = address(uid[::-1])
    spellings = [
        (f"nosuch-{uid}", b["hostname"]),
        (unknown_ip, b["ip_address"]),
        (f"nosuch-{uid}.globex.test", b["fqdn"]),
        (f"nosuch{uid}", f"bdc{uid}"),
    ]
    for fake, real in spellings:
        for body in (
            lambda name: {"host": name, "command": f"Get-Thing{uid} -Name z"},
            lambda name: {"command": f"ssh admin@{name} 'Get-Thing{uid} -Name z'"},
            lambda name: {"command": f"Invoke-Command -ComputerName {name} {{ Get-Thing{uid} -Name z }}"},
        ):
            unknown = scoped.post("/api/check", json=body(fake))
            invisible = scoped.post("/api/check", json=body(real))
            assert unknown.status_code == invisible.status_code == 200, (unknown.text, invisible.text)
            assert invisible.json()["verdict"] == "allow"
            _same_answer(unknown.json(), invisible.json(), [(fake, real)])


def _mcp(srv: Api, actor: Actor, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async def run() -> list[Any]:
        async with Client(build_server(srv.rt, fixed_actor(actor))) as client:
            return [await client.call_tool(name, args) for name, args in calls]

    return anyio.run(run)


def _text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def test_the_mcp_tools_answer_for_another_clients_host_as_for_an_unknown_one(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    b = b_host(api, uid)
    # A client of its own with no host: "no host X; closest: …" names none of another test's.
    actor = Actor(
        type="api_key", role="technician", name=f"c-{uid}", client_scope=frozenset({new_client(api, uid)})
    )
    fake, real = f"nosuch-{uid}", b["hostname"]
    results = _mcp(
        api,
        actor,
        [
            ("check_command", {"command": f"Get-Thing{uid} -Name z", "host": fake}),
            ("check_command", {"command": f"Get-Thing{uid} -Name z", "host": real}),
            ("find_host", {"host": fake}),
            ("find_host", {"host": real}),
            ("get_insights", {"host": fake}),
            ("get_insights", {"host": real}),
        ],
    )
    for unknown, invisible in zip(results[::2], results[1::2], strict=True):
        assert unknown.is_error == invisible.is_error
        assert _text(unknown).replace(fake, "<name>") == _text(invisible).replace(real, "<name>")
    assert not results[1].is_error and '"allow"' in _text(results[1])


def test_mcp_record_command_of_a_scoped_key_stays_in_its_clients(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    b = b_host(api, uid)
    actor = Actor(type="api_key", role="technician", name=f"a-{uid}", client_scope=frozenset({api.client_a}))
    calls = [
        ("record_command", {"command": c, "exit_code": 1, "output": not_recognized(f"Get-Thing{uid}")})
        for c in wrappers(uid, b, f"Get-Thing{uid} -Name mcp")
    ]
    for result in _mcp(api, actor, calls):
        assert not result.is_error, _text(result)
        data = result.structured_content
        assert "b-only" not in json.dumps(data)
        with api.db.read() as s:
            row = s.get(CommandRun, uuid.UUID(data["id"]))
            assert row is not None and row.infrastructure_id != uuid.UUID(b["id"])
            assert host_row(api, str(row.infrastructure_id)).client_id == api.client_a
    assert commands_on(api, b["id"]) == 1


# --------------------------------------------------------------------------------------------
# Team-mode hooks, as Claude Code runs them, posting to the server with A's key


def test_team_hooks_with_a_scoped_key_never_record_on_another_clients_host(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
    msp_env: dict[str, str],
    tmp_path: Path,
) -> None:
    b = b_host(api, uid)
    home = Path(msp_env["MSP_HOME"])
    home.mkdir(parents=True)
    key = tmp_path / "scoped.key"
    key.write_text(api.keys["scoped"] + "\n")
    (home / "hooks.json").write_text(
        json.dumps({"server": api.base, "api_key_file": str(key), "timeout": 10})
    )
    env = {**msp_env, "MSP_DATABASE_URL": "sqlite:////nonexistent/never-opened.db"}
    transcript = tmp_path / "transcript.jsonl"
    write_transcript(transcript)
    failed = f'ssh admin@{b["ip_address"]} "Get-Thing{uid} -Name hook"'
    event = bash(
        "PostToolUseFailure",
        tmp_path,
        transcript,
        failed,
        error="Exit code 1\n" + not_recognized(f"Get-Thing{uid}"),
    )
    hook(env, "PostToolUseFailure", event)
    with api.db.read() as s:
        rows = list(
            s.scalars(
                select(CommandRun).where(CommandRun.command_text.contains(f"Get-Thing{uid} -Name hook"))
            )
        )
    assert len(rows) == 1
    assert rows[0].infrastructure_id != uuid.UUID(b["id"])
    assert host_row(api, str(rows[0].infrastructure_id)).client_id == api.client_a
    assert commands_on(api, b["id"]) == 1
    # Its PreToolUse asks the server: blocked on A's own new host, never told about B's.
    repeat = bash("PreToolUse", tmp_path, transcript, failed.replace("-Name hook", "-Name again"))
    denied = hook(env, "PreToolUse", repeat)
    assert denied is not None and denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "b-dc" not in json.dumps(denied) and "b-only" not in json.dumps(denied)


def test_local_hooks_take_the_running_sessions_clients_host_for_a_shared_ip(
    msp_env: dict[str, str], empty_database_url: URL, tmp_path: Path
) -> None:
    """Solo mode: the hooks record through a short-lived msp and pre-check from the index; both
    take 192.168.1.10 to be the running session's client's, not the first one recorded."""
    env = {**msp_env, "MSP_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    assert msp(env, "init").returncode == 0
    history = tmp_path / "hosts.jsonl"
    nas = {"kind": "host", "ip_address": "192.168.1.10", "shell_type": "sh"}
    lines = [
        {"kind": "client", "name": "Globex"},
        {"kind": "client", "name": "Acme"},
        {**nas, "client": "Globex", "hostname": "globex-nas"},  # the older: found first before
        {**nas, "client": "Acme", "hostname": "acme-nas"},
    ]
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert msp(env, "import", str(history)).returncode == 0
    started = msp(env, "session", "start", "--client", "Acme")
    assert started.returncode == 0, started.stderr
    transcript = tmp_path / "transcript.jsonl"
    write_transcript(transcript)
    failed = "ssh root@192.168.1.10 'nasctl status'"
    error = "Exit code 127\nsh: nasctl: not found"
    hook(env, "PostToolUseFailure", bash("PostToolUseFailure", tmp_path, transcript, failed, error=error))
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            hosts = conn.execute(
                select(Infrastructure.hostname)
                .join(CommandRun, CommandRun.infrastructure_id == Infrastructure.id)
                .where(CommandRun.command_text == failed)
            ).all()
    finally:
        engine.dispose()
    assert [h for (h,) in hosts] == ["acme-nas"]
    repeat = bash("PreToolUse", tmp_path, transcript, "ssh root@192.168.1.10 'nasctl start'")
    denied = hook(env, "PreToolUse", repeat)
    assert denied is not None and denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "acme-nas" in denied["hookSpecificOutput"]["permissionDecisionReason"]


# --------------------------------------------------------------------------------------------
# Unicode: one normalisation for every host name and every spelling that finds one


def test_host_names_are_nfkc_normalised_and_casefolded(
    api: Api,  # noqa: F811 - the fixture
    uid: str,
) -> None:
    dc = make_host(api, api.client_a, f"DC-{uid}", powershell_version="2.0")
    wide = f"ＤＣ－{uid}"  # fullwidth D, C and hyphen: NFKC makes them DC-
    scoped = api.as_("scoped")
    recorded = scoped.post(
        "/api/commands",
        json={
            "host": wide,
            "command": f"Get-Thing{uid}",
            "exit_code": 1,
            "output": not_recognized(f"Get-Thing{uid}"),
        },
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["command"]["infrastructure_id"] == dc["id"]
    checked = scoped.post(
        "/api/check", json={"host": f"ｄｃ－{uid.upper()}", "command": f"Get-Thing{uid} -x"}
    )
    assert checked.json()["verdict"] == "block", checked.text
    inside = scoped.post(
        "/api/check", json={"command": f"Invoke-Command -ComputerName {wide} {{ Get-Thing{uid} }}"}
    )
    assert inside.json()["verdict"] == "block", inside.text
    # The same host spelled another way is not a second host of the same client.
    again = api.as_("admin").post(
        "/api/infrastructure", json={"hostname": wide, "client_id": str(api.client_a)}
    )
    assert again.status_code == 409, again.text
    other = api.as_("admin").post(
        "/api/infrastructure", json={"hostname": f"ＷＥＢ－{uid}", "client_id": str(api.client_a)}
    )
    assert other.status_code == 201 and other.json()["hostname"] == f"WEB-{uid}", other.text


def test_one_normalisation_and_scoped_resolution_in_the_engine() -> None:
    assert host_key("ＤＣ０１") == host_key("dc01") == host_key(" DC01 ") == "dc01"
    assert host_key("Straße.example.") == host_key("STRASSE.EXAMPLE")
    assert host_key("dc\u200b01") == "dc01"  # a zero-width space hides nothing
    mem = Memory()
    add_host(mem, "nas-b", ip_address="192.168.1.10", owner="B")
    add_host(mem, "nas-a", ip_address="192.168.1.10", owner="A")
    assert resolve_host(mem, "root@192.168.1.10") == host_key("nas-b")  # unscoped: the first
    assert resolve_host(mem, "192.168.1.10", HostScope(owners=frozenset({"A"}))) == "nas-a"
    assert resolve_host(mem, "192.168.1.10", HostScope(client="A")) == "nas-a"
    assert resolve_host(mem, "nas-b", HostScope(owners=frozenset({"A"}))) is None
    assert resolve_host(mem, "ＮＡＳ－Ａ", HostScope(owners=frozenset({"A"}))) == "nas-a"
    assert engine_memory.LOCAL == ""
