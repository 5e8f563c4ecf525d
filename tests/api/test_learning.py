"""Recording commands and pre-checking them over HTTP, on every backend: POST /api/commands
(and /batch), POST /api/check, GET /api/failure-patterns/{id}/explain — learning before the
answer, the fix first in the suggestions, and nothing of another client's learning leaking to
a client-scoped key."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api

CONTRACT = ["host", "command", "verdict", "confidence", "reason", "suggestions", "pattern_ids"]


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def host(api: Api, name: str, client: uuid.UUID, **traits: Any) -> dict[str, Any]:
    made = api.as_("tech").post(
        "/api/infrastructure", json={"hostname": name, "client_id": str(client), **traits}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def ps2(api: Api, name: str, client: uuid.UUID) -> dict[str, Any]:
    return host(
        api,
        name,
        client,
        os="Windows Server",
        os_version="2008 R2",
        shell_type="powershell",
        powershell_version="2.0",
    )


def not_recognized(word: str) -> str:
    return (
        f"{word} : The term '{word}' is not recognized as the name of a cmdlet, function, script file, "
        "or operable program.\n    + CategoryInfo          : ObjectNotFound: "
        f"({word}:String) [], CommandNotFoundException"
    )


def test_a_recorded_failure_and_its_fix_block_the_repeat(api: Api, uid: str) -> None:
    ps2(api, f"dc-{uid}", api.client_a)
    tech = api.as_("tech")
    failed = tech.post(
        "/api/commands",
        json={
            "host": f"DC-{uid}",
            "command": f"Get-Widget{uid} -Name x",
            "exit_code": 1,
            "output": not_recognized(f"Get-Widget{uid}"),
            "at": "2026-04-01T09:00:00Z",
            "session": f"s-{uid}",
        },
    )
    assert failed.status_code == 201, failed.text
    body = failed.json()
    assert body["command"]["failure_category"] == "command_not_found" and body["command"]["success"] is False
    assert body["learned"]["culprit"]["text"] == f"Get-Widget{uid}" and body["learned"]["new_pattern"] is True
    assert body["hint"]["retry"] is False and body["hint"]["verdict"] == "block"

    fixed = tech.post(
        "/api/commands",
        json={
            "host": f"dc-{uid}",
            "command": f"Get-WmiObject Win32_Widget{uid} -Filter \"Name='x'\"",
            "exit_code": 0,
            "output": "x",
            "at": "2026-04-01T09:02:00Z",
            "session": f"s-{uid}",
        },
    )
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["learned"]["fixed_patterns"] == [body["learned"]["pattern_id"]]
    assert fixed.json()["hint"] is None

    checked = api.as_("readonly").post(
        "/api/check", json={"host": f"dc-{uid}", "command": f"Get-Widget{uid} -Name y"}
    )
    assert checked.status_code == 200, checked.text
    result = checked.json()
    assert list(result) == CONTRACT
    assert result["verdict"] == "block" and result["confidence"] in ("likely", "confirmed")
    assert result["suggestions"][0].startswith(f"Get-WmiObject Win32_Widget{uid}")
    assert result["pattern_ids"] == [body["learned"]["pattern_id"]]

    # The same pattern explained: what made its fingerprint, and why it blocks.
    explained = api.as_("readonly").get(f"/api/failure-patterns/{result['pattern_ids'][0]}/explain")
    assert explained.status_code == 200, explained.text
    e = explained.json()
    components = {c["name"]: c for c in e["fingerprint"]["components"]}
    assert components["culprit"]["contributes"] and not components["message"]["contributes"]
    assert any("Blocks" in line for line in e["verdict"]) and f"Get-Widget{uid}" in e["text"]


def test_a_batch_is_recorded_in_order_and_learned_at_once(api: Api, uid: str) -> None:
    host(api, f"nas-{uid}", api.client_a, shell_type="sh", os="ReadyNAS OS", os_version="6.10")
    batch = [
        {"host": f"nas-{uid}", "command": "uptime", "exit_code": 0, "output": "up"},
        {"host": f"nas-{uid}", "command": f"svcctl{uid} status smb", "exit_code": 127,
         "output": f"-ash: svcctl{uid}: not found"},
        {"host": f"nas-{uid}", "command": "service smb status", "exit_code": 0, "output": "running"},
    ]  # fmt: skip
    done = api.as_("tech").post("/api/commands/batch", json={"commands": batch})
    assert done.status_code == 201, done.text
    results = done.json()["results"]
    assert done.json()["count"] == 3 and [r["command"]["command_text"] for r in results] == [
        b["command"] for b in batch
    ]
    assert results[2]["learned"]["fixed_patterns"] == [results[1]["learned"]["pattern_id"]]
    checked = api.as_("tech").post(
        "/api/check", json={"host": f"nas-{uid}", "command": f"svcctl{uid} restart smb"}
    )
    assert checked.json()["verdict"] == "block" and checked.json()["suggestions"][0] == "service smb restart"
    listed = api.as_("tech").get("/api/commands", params={"session_id": results[0]["command"]["session_id"]})
    assert listed.json()["total"] == 3


def test_what_learning_refuses(api: Api, uid: str) -> None:
    tech = api.as_("tech")
    good = {"host": f"x-{uid}", "command": "uptime", "exit_code": 0}
    for route, body in [
        ("/api/commands", good),
        ("/api/commands/batch", {"commands": [good]}),
        ("/api/check", good),
    ]:
        assert api.as_("anonymous").post(route, json=body).status_code == 401
    assert api.as_("anonymous").get(f"/api/failure-patterns/{uuid.uuid4()}/explain").status_code == 401
    denied = api.as_("readonly").post("/api/commands", json=good)
    assert denied.status_code == 403 and denied.json()["error"]["type"] == "PermissionDeniedError"
    assert api.as_("readonly").post("/api/commands/batch", json={"commands": [good]}).status_code == 403
    for bad in [
        {**good, "is_admin": True},
        {"host": "h", "exit_code": 0},
        {**good, "exit_code": "nope"},
        {**good, "exit_code": 2**40},
        {**good, "at": "yesterday"},
        {**good, "at": "0001-01-01T00:00:00+05:00"},
        {**good, "command": ""},
    ]:
        response = tech.post("/api/commands", json=bad)
        assert response.status_code == 422, (bad, response.text)
    assert tech.post("/api/commands/batch", json={"commands": []}).status_code == 422
    assert tech.post("/api/commands/batch", json={"commands": [good] * 1001}).status_code == 422
    assert tech.post("/api/check", json={"command": "ls", "extra": 1}).status_code == 422
    missing = tech.post("/api/commands", json={**good, "infrastructure_id": str(uuid.uuid4())})
    assert missing.status_code == 404
    assert tech.get(f"/api/failure-patterns/{uuid.uuid4()}/explain").status_code == 404
    assert tech.get("/api/failure-patterns/not-a-uuid/explain").status_code == 422
    # Nothing of the refused requests was stored.
    assert tech.get("/api/infrastructure", params={"hostname": f"x-{uid}"}).json()["total"] == 0


def test_a_scoped_key_never_sees_another_clients_learning(api: Api, uid: str) -> None:
    a_host, b_host = ps2(api, f"a-{uid}", api.client_a), ps2(api, f"b-{uid}", api.client_b)
    tech = api.as_("tech")
    recorded = tech.post(
        "/api/commands/batch",
        json={
            "commands": [
                {"host": b_host["hostname"], "command": f"Get-Gadget{uid}", "exit_code": 1,
                 "output": not_recognized(f"Get-Gadget{uid}"), "session": f"b-{uid}"},
                {"host": b_host["hostname"], "command": f"Get-CimInstance Gadget{uid} -Filter b-marker",
                 "exit_code": 0, "output": "ok", "session": f"b-{uid}"},
            ]
        },
    )  # fmt: skip
    assert recorded.status_code == 201, recorded.text
    pattern_id = recorded.json()["results"][0]["learned"]["pattern_id"]
    seen_by_all = tech.post(
        "/api/check", json={"host": a_host["hostname"], "command": f"Get-Gadget{uid}"}
    ).json()
    assert seen_by_all["verdict"] == "warn" and "b-marker" in seen_by_all["suggestions"][0]

    scoped = api.as_("scoped")
    mine = scoped.post("/api/check", json={"host": a_host["hostname"], "command": f"Get-Gadget{uid}"})
    assert mine.status_code == 200 and mine.json()["verdict"] == "allow" and mine.json()["pattern_ids"] == []
    assert "b-marker" not in mine.text
    # B's host is to it a host nobody recorded (issue 15): answered like one, not with a 404.
    invisible = scoped.post("/api/check", json={"host": b_host["hostname"], "command": f"Get-Gadget{uid}"})
    assert invisible.status_code == 200 and invisible.json()["verdict"] == "allow", invisible.text
    assert scoped.get(f"/api/failure-patterns/{pattern_id}/explain").status_code == 404
    own_host = scoped.post(
        "/api/commands", json={"host": b_host["hostname"], "command": "hostname", "exit_code": 0}
    )
    assert own_host.status_code == 201, own_host.text
    assert own_host.json()["command"]["infrastructure_id"] not in (None, b_host["id"])
    # Its own recording is learned for it, and the hint draws on its own clients only.
    own = scoped.post(
        "/api/commands",
        json={"host": a_host["hostname"], "command": f"Get-Gadget{uid} -Id 3", "exit_code": 1,
              "output": not_recognized(f"Get-Gadget{uid}")},
    )  # fmt: skip
    assert own.status_code == 201, own.text
    assert "b-marker" not in own.text and own.json()["hint"]["verdict"] == "block"
    again = scoped.post(
        "/api/check", json={"host": a_host["hostname"], "command": f"Get-Gadget{uid} -Id 4"}
    ).json()
    assert again["verdict"] == "block" and "b-marker" not in str(again)


def git_typo(word: str, meant: str) -> str:
    return f"git: '{word}' is not a git command. See 'git --help'.\n\nThe most similar command is\n\t{meant}"


def test_a_new_failure_gets_the_fix_of_the_same_mistake_made_with_other_words(api: Api, uid: str) -> None:
    """The hint after a failure carries fixes learned for the same error shape, transplanted:
    ``git brnch`` → ``git branch`` taught what to do after ``git chekcout``."""
    host(api, f"web-{uid}", api.client_a, os="Ubuntu", os_version="22.04", shell_type="bash")
    tech = api.as_("tech")
    at = "2026-04-02T10:00:{:02d}Z"

    def run(command: str, code: int, output: str, second: int) -> dict[str, Any]:
        made = tech.post(
            "/api/commands",
            json={"host": f"web-{uid}", "command": command, "exit_code": code, "output": output,
                  "at": at.format(second), "session": f"g-{uid}"},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        return dict(made.json())

    run("git brnch -a", 1, git_typo("brnch", "branch"), 1)
    assert run("git branch -a", 0, "* main", 5)["learned"]["fixed_patterns"]
    other = run("git chekcout main", 1, git_typo("chekcout", "checkout"), 30)
    assert other["hint"] is not None and other["hint"]["retry"] is False
    assert "git checkout main" in other["hint"]["suggestions"], other["hint"]


def test_a_hand_written_pattern_with_a_runaway_regex_is_refused(api: Api, uid: str) -> None:
    tech = api.as_("tech")
    body = {
        "pattern_type": "command_not_found",
        "pattern_signature": f"hand-{uid}",
        "failure_description": "d",
        "root_cause": "r",
        "recommended_solution": "s",
    }
    for bad in ("(a+)+$", "(x*y?)*z", "([unclosed"):
        refused = tech.post("/api/failure-patterns", json={**body, "error_pattern": bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert "error_pattern" in refused.json()["error"]["message"]
    made = tech.post(
        "/api/failure-patterns", json={**body, "error_pattern": r"Get-Widget.{0,200}?not recognized"}
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    assert (
        tech.patch(f"/api/failure-patterns/{pid}", json={"error_pattern": "(a|a)*(b+)+"}).status_code == 422
    )
    assert tech.get(f"/api/failure-patterns/{pid}").json()["error_pattern"].startswith("Get-Widget")
