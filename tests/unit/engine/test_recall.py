"""Recall scoring: each factor on its own, the order it gives, what is never recalled, and the
budget of the assembled markdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mspmode.engine.recall import (
    DECAY_FLOOR,
    MAX_CHARS,
    Candidate,
    RecallQuery,
    assemble,
    estimate_tokens,
    rank,
    recall,
    relevance,
    score,
    terms,
    time_decay,
    usage_boost,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def c(id: str, **kw: object) -> Candidate:
    base: dict[str, object] = {"kind": "context", "title": id, "body": "", "updated_at": NOW}
    base.update(kw)
    return Candidate(id=id, **base)  # type: ignore[arg-type]


def test_time_decay_halves_per_half_life_and_spares_hard_facts() -> None:
    assert time_decay(0, 30) == 1.0
    assert time_decay(30, 30) == pytest.approx(0.5)
    assert time_decay(60, 30) == pytest.approx(0.25)
    assert time_decay(3650, 30) == DECAY_FLOOR
    assert time_decay(3650, 30, decays=False) == 1.0
    assert time_decay(100, 0) == 1.0  # half-life 0: decay off


def test_usage_and_relevance_factors() -> None:
    assert usage_boost(0) == 1.0 and usage_boost(1) == pytest.approx(1.2)
    assert usage_boost(10**6) == 2.0
    q = terms("restarting nginx")
    assert relevance(q, "nginx restarted", "") == 1.0  # stems: restarting ~ restarted
    assert relevance(q, "other", "nginx was fine") == pytest.approx(0.25)
    assert relevance(q, "other", "nothing") == 0.0
    assert relevance([], "x", "y") == 1.0


def test_fresh_beats_old_but_a_hard_host_constraint_does_not_fade() -> None:
    old = NOW - timedelta(days=365)
    q = RecallQuery(query="replication", hosts=("DC01",), now=NOW)
    ranked = rank(
        [
            c("old", body="replication fixed", updated_at=old),
            c("new", body="replication fixed"),
            c(
                "rule",
                kind="constraint",
                title="PowerShell 2.0 only",
                updated_at=old,
                decays=False,
                host="dc01",
            ),
        ],
        q,
    )
    ids = [s.candidate.id for s in ranked]
    assert ids.index("new") < ids.index("old")
    assert ranked[ids.index("rule")].parts["decay"] == 1.0
    assert ranked[ids.index("rule")].parts["match"] == 2.5  # host match is case-insensitive


def test_other_clients_superseded_and_inactive_facts_are_never_recalled() -> None:
    q = RecallQuery(client="acme", project="p1", now=NOW)
    got = recall(
        [
            c("mine", client="ACME"),
            c("general"),
            c("theirs", client="globex", importance=10),
            c("other-project", client="acme", project="p2"),
            c("replaced", client="acme", superseded=True),
            c("off", client="acme", active=False),
        ],
        q,
    )
    assert set(got.used) == {"mine", "general"}
    assert score(c("theirs", client="globex"), q).score == 0.0


def test_assembled_markdown_is_grouped_and_within_the_budget() -> None:
    many = [c(f"ctx{i}", body="word " * 40, importance=1 + i % 9) for i in range(50)]
    many.append(c("d1", kind="decision", title="Use Veeam", body="not Windows Server Backup", importance=10))
    got = recall(many, RecallQuery(budget_tokens=300, now=NOW))
    assert len(got.markdown) <= 300 * 4
    assert got.markdown.index("### Decisions") < got.markdown.index("### Earlier sessions")
    big = recall(many, RecallQuery(budget_tokens=10**6, max_chars=10**9, now=NOW))
    assert len(big.markdown) <= MAX_CHARS
    assert assemble([], budget_tokens=100) == ("", ())
    assert got.tokens == estimate_tokens(got.markdown)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.builds(
            Candidate,
            id=st.text(min_size=1, max_size=8),
            kind=st.sampled_from(["context", "snippet", "decision", "constraint", "odd"]),
            title=st.text(max_size=80),
            body=st.text(max_size=3000),
            importance=st.integers(-5, 20),
            updated_at=st.none() | st.datetimes(timezones=st.just(UTC)),
            usage_count=st.integers(-3, 10**6),
            tags=st.lists(st.text(max_size=10), max_size=3).map(tuple),
            client=st.none() | st.sampled_from(["a", "b"]),
            host=st.none() | st.text(max_size=10),
            decays=st.booleans(),
        ),
        max_size=30,
    ),
    st.text(max_size=200),
    st.integers(1, 4000),
)
def test_recall_never_raises_and_never_exceeds_its_budget(
    candidates: list[Candidate], query: str, budget: int
) -> None:
    got = recall(
        candidates, RecallQuery(query=query, client="a", hosts=("h",), budget_tokens=budget, now=NOW)
    )
    assert len(got.markdown) <= min(MAX_CHARS, budget * 4)
    assert all(s.score > 0 for s in got.scored)
    assert set(got.used) <= {x.id for x in candidates}
