"""Context recall on every backend: what is found, what is never shown (another client's facts,
superseded rows), hard host constraints that do not decay, usage counting, the budget, and
saving contexts (compressed, redacted, audited; replaced rows marked, not deleted)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mspmode.db.session import Database
from mspmode.errors import NotFoundError, ValidationError
from mspmode.models.core import Client, PendingTask, Project
from mspmode.models.infrastructure import Infrastructure
from mspmode.models.operations import AuditLog
from mspmode.models.recall import ContextSnippet, ConversationContext, DecisionLog, ProjectState
from mspmode.services import recall
from mspmode.services.actor import Actor, local_actor
from mspmode.services.runtime import Runtime
from tests.integration.test_learning import make_rt

ADMIN = local_actor()


@pytest.fixture(scope="module")
def rt(migrated_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return make_rt(migrated_db, tmp_path_factory.mktemp("home"))


def _add(rt: Runtime, *rows: object) -> None:
    with rt.db.write() as s:
        s.add_all(rows)


def world(rt: Runtime) -> dict[str, uuid.UUID]:
    """Two clients, a project, a host with a hard constraint, contexts, decisions, a task."""
    tag = uuid.uuid4().hex[:8]
    acme, other = uuid.uuid4(), uuid.uuid4()
    proj, host = uuid.uuid4(), uuid.uuid4()
    old = datetime.now(UTC) - timedelta(days=400)
    _add(rt, Client(id=acme, name=f"Acme {tag}"), Client(id=other, name=f"Globex {tag}"))
    _add(
        rt,
        Project(id=proj, client_id=acme, name=f"Migration {tag}"),
        Infrastructure(id=host, client_id=acme, hostname=f"DC{tag}", asset_type="virtual_machine"),
    )
    ids = {"acme": acme, "other": other, "project": proj, "host": host}
    ids["constraint"] = uuid.uuid4()
    ids["old_context"] = uuid.uuid4()
    ids["fresh_context"] = uuid.uuid4()
    ids["foreign"] = uuid.uuid4()
    ids["decision"] = uuid.uuid4()
    _add(
        rt,
        ContextSnippet(
            id=ids["constraint"],
            client_id=acme,
            infrastructure_id=host,
            category="constraint",
            title="PowerShell 2.0 only",
            dense_content="Get-LocalUser does not exist there; use net user",
            importance=8,
            decays=False,
        ),
        ConversationContext(
            id=ids["old_context"],
            client_id=acme,
            context_type="session_summary",
            title=f"GPO replication {tag}",
            dense_summary="Old fix: dfsrdiag pollad on the DC fixed sysvol replication",
            importance=5,
        ),
        ConversationContext(
            id=ids["fresh_context"],
            client_id=acme,
            context_type="session_summary",
            title=f"GPO replication {tag} again",
            dense_summary="New fix: restarted DFSR service after the sysvol replication stalled",
            importance=5,
        ),
        ConversationContext(
            id=ids["foreign"],
            client_id=other,
            context_type="session_summary",
            title=f"GPO replication {tag} at Globex",
            dense_summary="Globex secret sauce: sysvol replication",
            importance=10,
        ),
        DecisionLog(
            id=ids["decision"],
            client_id=acme,
            project_id=proj,
            decision_type="technical",
            decision_text="Use Invoke-Command instead of Enter-PSSession",
            rationale="scripts run unattended",
            impact="high",
        ),
        PendingTask(client_id=acme, project_id=proj, title=f"Decommission old DC {tag}", status="pending"),
        ProjectState(
            project_id=proj, current_phase="cutover", progress_percentage=60, next_actions=["move FSMO"]
        ),
    )
    # The old context is old: time decay must rank it below the fresh one.
    with rt.db.write() as s:
        s.execute(
            update(ConversationContext)
            .where(ConversationContext.id == ids["old_context"])
            .values(updated_at=old)
        )
        s.execute(update(ContextSnippet).where(ContextSnippet.id == ids["constraint"]).values(updated_at=old))
    ids["tag"] = tag  # type: ignore[assignment]
    return ids


def test_recall_finds_the_clients_facts_ranks_fresh_first_and_never_leaks(rt: Runtime) -> None:
    w = world(rt)
    tag = str(w["tag"])
    got = recall.recall_context(
        rt,
        ADMIN,
        recall.RecallRequest(
            client=f"acme {tag}", project=f"Migration {tag}", query="sysvol replication", hosts=(f"dc{tag}",)
        ),
    )
    md = got.markdown
    assert "PowerShell 2.0 only" in md  # 400 days old, but a hard host constraint does not decay
    assert "Invoke-Command instead of Enter-PSSession" in md
    assert f"Decommission old DC {tag}" in md
    assert "phase cutover" in md
    assert "Globex secret sauce" not in md
    assert md.index("New fix") < md.index("Old fix")
    assert len(md) <= 10_000
    assert got.host_ids == [w["host"]]
    items = {i["id"]: i for i in got.to_dict()["items"]}  # type: ignore[union-attr]
    assert items[f"snippet:{w['constraint']}"]["decay"] == 1.0
    assert items[f"context:{w['old_context']}"]["decay"] < 0.05 + 1e-9


def test_usage_is_counted_and_superseded_rows_are_not_recalled(rt: Runtime) -> None:
    w = world(rt)
    tag = str(w["tag"])
    req = recall.RecallRequest(client=f"Acme {tag}", query="sysvol")
    recall.recall_context(rt, ADMIN, req)
    with rt.db.read() as s:
        row = s.get(ConversationContext, w["fresh_context"])
        assert row is not None and row.usage_count == 1 and row.last_used_at is not None
    new = recall.save_context(
        rt,
        ADMIN,
        recall.ContextIn(
            title=f"GPO replication {tag} final", text="Final: DFSR fixed by KB update", client=f"Acme {tag}"
        ),
        supersedes=w["fresh_context"],
    )
    md = recall.recall_context(rt, ADMIN, req).markdown
    assert "Final: DFSR fixed" in md and "New fix" not in md
    with rt.db.read() as s:
        old = s.get(ConversationContext, w["fresh_context"])
        assert old is not None and old.superseded_by == new.id and old.is_active is False
        actions = s.scalars(
            select(AuditLog.action).where(AuditLog.entity_id == str(w["fresh_context"]))
        ).all()
        assert "update" in actions


def test_budget_is_respected_and_bad_requests_are_refused(rt: Runtime) -> None:
    w = world(rt)
    tag = str(w["tag"])
    with rt.db.write() as s:
        for i in range(60):
            s.add(
                ConversationContext(
                    client_id=w["acme"],
                    context_type="general_context",
                    title=f"note {i} {tag}",
                    dense_summary="filler about the backup job " * 20,
                )
            )
    small = recall.recall_context(
        rt, ADMIN, recall.RecallRequest(client=f"Acme {tag}", budget_tokens=100, touch=False)
    )
    assert 0 < len(small.markdown) <= 400
    big = recall.recall_context(
        rt, ADMIN, recall.RecallRequest(client=f"Acme {tag}", budget_tokens=2500, touch=False)
    )
    assert 400 < len(big.markdown) <= 10_000
    with pytest.raises(ValidationError):
        recall.recall_context(rt, ADMIN, recall.RecallRequest(budget_tokens=0))
    with pytest.raises(NotFoundError):
        recall.recall_context(rt, ADMIN, recall.RecallRequest(client=f"nobody {tag}"))


def test_a_scoped_actor_sees_only_its_clients_contexts(rt: Runtime) -> None:
    w = world(rt)
    tag = str(w["tag"])
    scoped = Actor(type="api_key", role="technician", name="scoped", client_scope=frozenset({w["other"]}))
    with pytest.raises(NotFoundError):
        recall.recall_context(rt, scoped, recall.RecallRequest(client=f"Acme {tag}"))
    md = recall.recall_context(
        rt, scoped, recall.RecallRequest(query=f"replication {tag}", touch=False)
    ).markdown
    assert "Globex secret sauce" in md
    assert "New fix" not in md and "Old fix" not in md


def test_saved_text_and_transcripts_are_compressed_and_redacted(rt: Runtime, tmp_path: Path) -> None:
    w = world(rt)
    tag = str(w["tag"])
    secret = "Tr0ub4dor&3-" + tag
    long_text = (
        "Notes from the call.\n"
        + ("The weather was discussed at length. " * 80)
        + f"\n$ mysql -u root -p{secret} -e 'show databases'\n"
        + "ERROR 1045 (28000): Access denied for user 'root'\n"
        "We decided to use the backup_ro account instead of root.\n"
    )
    row = recall.save_context(
        rt, ADMIN, recall.ContextIn(title="call notes", text=long_text, client=f"Acme {tag}")
    )
    assert secret not in row.dense_summary
    assert "ERROR 1045 (28000): Access denied" in row.dense_summary
    assert "decided to use the backup_ro account" in row.dense_summary
    assert row.source_tokens and row.compressed_tokens and row.compressed_tokens < row.source_tokens / 3

    lines = [
        {
            "type": "user",
            "sessionId": "s1",
            "message": {"role": "user", "content": f"fix the GPO on DC{tag}"},
        },
        {
            "type": "assistant",
            "message": {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "Bash",
                        "input": {"command": f"psql postgres://app:{secret}@db1/app -c 'select 1'"},
                    }
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
                        "content": "Exit code 2\npsql: error: connection refused",
                        "is_error": True,
                    }
                ],
            },
        },
    ]
    ctx = recall.save_transcript(rt, ADMIN, [json.dumps(x) for x in lines], client=f"Acme {tag}")
    assert ctx.context_type == "session_summary"
    assert secret not in ctx.dense_summary and secret not in json.dumps(ctx.current_state)
    assert "psql: error: connection refused" in ctx.dense_summary
    assert f"DC{tag}" in ctx.current_state["hosts"]


def test_search_any_word_newest_first_without_snippets(rt: Runtime) -> None:
    from mspmode.db import search

    tag = "zq" + uuid.uuid4().hex[:8]
    older, newer, both = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = datetime.now(UTC) - timedelta(days=3)
    for i, (ident, words) in enumerate(
        ((older, f"{tag}alpha"), (both, f"{tag}alpha {tag}beta"), (newer, f"{tag}beta"))
    ):
        _add(
            rt,
            ConversationContext(
                id=ident,
                context_type="general_context",
                title=words,
                dense_summary="x",
                created_at=base + timedelta(hours=i),
            ),
        )
    words = f"{tag}alpha {tag}beta"
    with rt.db.read() as s:
        assert [h.id for h in search.search(s, "conversation_contexts", words)] == [both]
        hits = search.search(
            s, "conversation_contexts", words, match="any", order="recent", snippets=False, limit=2
        )
        assert [h.id for h in hits] == [newer, both]
        assert all(h.snippet == "" for h in hits)
        # A window bounds what SQLite looks at before filtering: only the newest match here.
        windowed = search.search(
            s,
            "conversation_contexts",
            words,
            match="any",
            order="recent",
            filters={"is_active": True},
            window=1,
        )
        expected = [newer] if rt.db.dialect == "sqlite" else [newer, both]
        assert [h.id for h in windowed][:2] == expected
        with pytest.raises(ValidationError):
            search.search(s, "conversation_contexts", words, order="random")


def test_session_start_failures_never_come_from_another_client(rt: Runtime, tmp_path: Path) -> None:
    """Issue 16: with no client in scope, SessionStart's known failures are those of no client;
    with one, that client's and those of no client, never another's."""
    from mspmode.services import hooks, learning
    from tests.integration.test_learning import jsonl

    tag = uuid.uuid4().hex[:8]
    gone = (
        "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program."
    )
    events: list[dict[str, object]] = []
    for owner, verb in (("Acme", "Get-AcmeWidget"), ("Globex", "Get-GlobexLedger")):
        events += [
            {"kind": "client", "name": f"{owner} {tag}"},
            {"kind": "host", "client": f"{owner} {tag}", "hostname": f"{owner}-{tag}",
             "os": "Windows Server"},
            {"kind": "command", "host": f"{owner}-{tag}", "command": f"{verb}{tag}", "exit_code": 1,
             "output": gone.format(f"{verb}{tag}")},
        ]  # fmt: skip
    events.append({"kind": "command", "command": f"lsx-{tag} /srv", "exit_code": 127,
                   "output": f"bash: lsx-{tag}: command not found"})  # fmt: skip
    learning.import_file(rt, ADMIN, jsonl(tmp_path / "clients.jsonl", *events))
    with rt.db.read() as s:
        acme = s.scalar(select(Client.id).where(Client.name == f"Acme {tag}"))

    unscoped = getattr(hooks.failure_facts(rt, ADMIN, None, "", 4000), "markdown", "")
    assert f"lsx-{tag}" in unscoped, "control: the failure of no client should be recalled"
    assert f"Get-AcmeWidget{tag}" not in unscoped and f"Get-GlobexLedger{tag}" not in unscoped, unscoped
    scoped = getattr(hooks.failure_facts(rt, ADMIN, str(acme), "", 4000), "markdown", "")
    assert f"Get-AcmeWidget{tag}" in scoped and f"lsx-{tag}" in scoped, scoped
    assert f"Get-GlobexLedger{tag}" not in scoped, scoped


def test_a_query_finds_the_clients_and_general_contexts_never_anothers(rt: Runtime) -> None:
    """A prompt's words search the client's contexts and those of no client; with no client in
    scope and ``strict_client`` (the hooks: a session in an unmapped folder, issue 16), no
    client's at all."""
    w = world(rt)
    tag = str(w["tag"])
    # More important general notes than the newest few recall reads without a query, so the
    # one below is found by its words or not at all.
    _add(
        rt,
        *[
            ConversationContext(
                context_type="general_context", title=f"filler {i} {tag}", dense_summary="x", importance=10
            )
            for i in range(recall.RECENT_LIMIT + 5)
        ],
        ConversationContext(
            context_type="general_context",
            title=f"Office hours {tag}",
            dense_summary=f"Changes only after 18:00 (wombat{tag})",
            importance=1,
        ),
    )
    strict = recall.RecallRequest(query="Globex secret sauce", touch=False, strict_client=True)
    assert "Globex secret sauce" not in recall.recall_context(rt, ADMIN, strict).markdown
    # A person searching everything they may see still finds it.
    anyone = recall.RecallRequest(query="Globex secret sauce", touch=False)
    assert "Globex secret sauce" in recall.recall_context(rt, ADMIN, anyone).markdown
    acme = recall.recall_context(
        rt, ADMIN, recall.RecallRequest(client=f"Acme {tag}", query=f"wombat{tag} hours", touch=False)
    )
    assert f"wombat{tag}" in acme.markdown
    assert "Globex secret sauce" not in acme.markdown
