"""Problem solutions on every backend: drafts learned from fail → fix whose recurrence_count
grows, edited and verified by a technician, and found by full-text relevance with the snippet
that matched — the more of the solution is about the words, the higher it ranks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mspmode.db.session import Database
from mspmode.errors import ValidationError
from mspmode.models.core import Client
from mspmode.models.learning import ProblemSolution
from mspmode.services import crud, learning, solutions
from mspmode.services.actor import Actor, local_actor
from mspmode.services.resources import RESOURCES
from mspmode.services.runtime import Runtime
from tests.integration.test_learning import make_rt

ADMIN = local_actor()
SOLUTIONS = next(s for s in RESOURCES if s.name == "problem-solutions")
CLIENTS = next(s for s in RESOURCES if s.name == "clients")
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("home"))


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def solution(rt: Runtime, **values: Any) -> uuid.UUID:
    base = {
        "problem_title": "A problem",
        "problem_description": "Something went wrong.",
        "root_cause": "Unknown.",
        "solution_applied": "Fixed it.",
        "status": "verified",
    }
    return crud.create_row(rt, ADMIN, SOLUTIONS, {**base, **values}).id


def test_search_ranks_by_relevance_with_the_matching_snippet(rt: Runtime, uid: str) -> None:
    code = f"ERR_SSL_PROTOCOL_ERROR_{uid}"
    filler = " ".join(f"word{i}" for i in range(80))
    best = solution(
        rt,
        problem_title=f"Browser shows {code} on the portal",
        error_message=f"This site can't provide a secure connection ({code})",
        symptom=f"{code} in Chrome and Edge",
        root_cause=f"The TLS certificate chain was incomplete, so clients reported {code}.",
        solution_applied="Installed the intermediate certificate on the IIS binding.",
    )
    weaker = solution(
        rt,
        problem_title="Portal slow after the certificate renewal",
        problem_description=f"{filler} One user also mentioned {code} once. {filler}",
        solution_applied="Recycled the app pool.",
    )
    other = solution(rt, problem_title=f"Printer offline {uid}", solution_applied="Restarted the spooler.")
    found = solutions.search(rt, ADMIN, code)
    assert [r["id"] for r in found] == [str(best), str(weaker)]
    assert str(other) not in {r["id"] for r in found}
    assert [r["rank"] for r in found] == [1, 2]
    assert found[0]["score"] > found[1]["score"]
    assert f"[{code}]" in found[0]["snippet"] and f"[{code}]" in found[1]["snippet"]
    assert found[1]["snippet"].startswith("…")  # cut around the match, not the start of the text
    # Every word must match: one more word that only the best has narrows it to the best.
    assert [r["id"] for r in solutions.search(rt, ADMIN, f"{code} intermediate")] == [str(best)]
    assert solutions.search(rt, ADMIN, f"{code} nonexistentword{uid}") == []


def test_search_filters_and_refuses_nonsense(rt: Runtime, uid: str) -> None:
    word = f"zebra{uid}"
    draft = solution(rt, problem_title=f"{word} draft", status="draft")
    verified = solution(rt, problem_title=f"{word} verified")
    assert {r["id"] for r in solutions.search(rt, ADMIN, word)} == {str(draft), str(verified)}
    assert [r["id"] for r in solutions.search(rt, ADMIN, word, status="verified")] == [str(verified)]
    assert len(solutions.search(rt, ADMIN, word, limit=1)) == 1
    with pytest.raises(ValidationError):
        solutions.search(rt, ADMIN, "!!! ???")
    with pytest.raises(ValidationError):
        solutions.search(rt, ADMIN, word, status="maybe")


def test_a_scoped_actor_finds_only_its_clients_solutions(rt: Runtime, uid: str) -> None:
    word = f"okapi{uid}"
    mine = crud.create_row(rt, ADMIN, CLIENTS, {"name": f"Mine {uid}"}).id
    theirs = crud.create_row(rt, ADMIN, CLIENTS, {"name": f"Theirs {uid}"}).id
    a = solution(rt, problem_title=f"{word} here", client_id=mine)
    solution(rt, problem_title=f"{word} {word} there", client_id=theirs)
    scoped = Actor(type="api_key", role="technician", name="scoped", client_scope=frozenset({mine}))
    assert [r["id"] for r in solutions.search(rt, scoped, word)] == [str(a)]
    assert len(solutions.search(rt, ADMIN, word)) == 2


NOT_RECOGNIZED = (
    "{w} : The term '{w}' is not recognized as the name of a cmdlet, function, script file, "
    "or operable program.\n    + CategoryInfo          : ObjectNotFound: ({w}:String) [], "
    "CommandNotFoundException"
)


def feed(rt: Runtime, *events: dict[str, Any]) -> None:
    learning.import_lines(rt, ADMIN, [json.dumps(e).encode() for e in events], source="test")


def cmd(host: str, command: str, exit_code: int, output: str, minutes: int) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {
        "kind": "command",
        "host": host,
        "command": command,
        "exit_code": exit_code,
        "output": output,
        "at": at,
    }


def test_a_learned_draft_recurs_is_edited_and_found(rt: Runtime, uid: str) -> None:
    client, host = f"Draft {uid}", f"DC-{uid}"
    cmdlet = "Get-LocalUser"
    fix = "Get-WmiObject Win32_UserAccount | Select Name, Disabled"
    query = f"LocalUser {uid}"  # the draft's title names the host
    feed(
        rt,
        {"kind": "client", "name": client},
        {
            "kind": "host",
            "client": client,
            "hostname": host,
            "powershell_version": "2.0",
            "shell_type": "powershell",
        },
        cmd(host, cmdlet, 1, NOT_RECOGNIZED.format(w=cmdlet), 0),
        cmd(host, fix, 0, "ok", 1),
    )
    (hit,) = solutions.search(rt, ADMIN, query)
    assert hit["status"] == "draft" and hit["recurrence_count"] == 1 and hit["host"] == host
    assert fix in hit["solution_applied"] and "[LocalUser]" in hit["snippet"] and f"[{uid}]" in hit["snippet"]
    with rt.db.read() as s:
        row = s.get(ProblemSolution, uuid.UUID(hit["id"]))
        assert row is not None
        assert row.error_message and cmdlet in row.error_message
        assert row.commands_run == [cmdlet, fix]
        assert row.investigation_steps and len(row.investigation_steps) == 2
        assert row.root_cause and row.verification_method
        assert row.client_id == s.scalars(select(Client.id).where(Client.name == client)).one()
    # The same problem again on the same host: the draft's count grows, no second draft.
    feed(rt, cmd(host, f"{cmdlet} -Name jdoe", 1, NOT_RECOGNIZED.format(w=cmdlet), 30))
    (again,) = solutions.search(rt, ADMIN, query)
    assert again["id"] == hit["id"] and again["recurrence_count"] == 2
    # A technician edits and verifies it; the engine then changes only its count.
    crud.update_row(
        rt,
        ADMIN,
        SOLUTIONS,
        uuid.UUID(hit["id"]),
        {"status": "verified", "solution_applied": f"Use WMI on Server 2008 ({uid} accounts)."},
    )
    feed(rt, cmd(host, cmdlet, 1, NOT_RECOGNIZED.format(w=cmdlet), 60))
    (edited,) = solutions.search(rt, ADMIN, f"WMI Server 2008 {uid} accounts")
    assert edited["id"] == hit["id"] and edited["status"] == "verified"
    assert edited["solution_applied"] == f"Use WMI on Server 2008 ({uid} accounts)."
    assert edited["recurrence_count"] == 3
