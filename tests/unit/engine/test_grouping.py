"""Template grouping: the masking, the merge by position-wise variability, and the GA/FGA metrics
the grouping benchmark prints (checked by hand on small partitions)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mspmode.engine.grouping import (
    VARIABLE,
    fga,
    group,
    grouping_accuracy,
    mask_tokens,
    message_key,
    template_regex,
)

# --------------------------------------------------------------------------------------------
# Metrics, by hand

TRUTH = ["A", "A", "B", "B", "C"]


def test_ga_perfect_and_relabelled() -> None:
    assert grouping_accuracy(TRUTH, [7, 7, 3, 3, 1]) == 1.0
    assert fga(TRUTH, ["x", "x", "y", "y", "z"]) == 1.0


def test_ga_counts_messages_of_exactly_matched_groups() -> None:
    # A split in two: A's messages wrong; B and C exact: 3 of 5 right.
    assert grouping_accuracy(TRUTH, [1, 2, 3, 3, 4]) == pytest.approx(3 / 5)
    # B and C merged: only A right.
    assert grouping_accuracy(TRUTH, [1, 1, 2, 2, 2]) == pytest.approx(2 / 5)
    # everything in one group: nothing right
    assert grouping_accuracy(TRUTH, [0] * 5) == 0.0


def test_fga_is_f1_of_group_precision_and_recall() -> None:
    # predicted {0}{1}{2,3}{4}: correct groups B, C → PGA 2/4, RGA 2/3, F1 = 4/7
    assert fga(TRUTH, [1, 2, 3, 3, 4]) == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    # predicted {0,1}{2,3,4}: correct A → PGA 1/2, RGA 1/3 → 0.4
    assert fga(TRUTH, [1, 1, 2, 2, 2]) == pytest.approx(0.4)
    assert fga(TRUTH, [0] * 5) == 0.0


def test_metrics_reject_mismatched_lengths_and_take_empty() -> None:
    with pytest.raises(ValueError):
        grouping_accuracy(["a"], [])
    with pytest.raises(ValueError):
        fga(["a"], [1, 2])
    assert grouping_accuracy([], []) == 0.0 and fga([], []) == 0.0


# --------------------------------------------------------------------------------------------
# Masking


def test_tokens_with_digits_are_values_with_their_key_and_brackets_kept() -> None:
    tokens = ["blk_-1608999687919862906", "uid=0", "(uid=509)", "core.2275", "port", "10:05:25,"]
    assert mask_tokens(tokens) == [VARIABLE, "uid=<*>", "(uid=<*>)", VARIABLE, "port", "<*>,"]


def test_named_rules_mask_paths_hosts_urls_and_literals() -> None:
    tokens = ["/var/log/syslog", "proxy.cse.example.org", "https://x.example/a?b=c", "ret:true", "null"]
    assert mask_tokens(tokens) == [VARIABLE, VARIABLE, VARIABLE, "ret:<*>", VARIABLE]
    assert mask_tokens(["()", "[],"]) == ["(<*>)", "[<*>],"]


def test_message_key_collapses_runs_of_values() -> None:
    assert message_key("IRQs 3 4 5 6 7 10 11 12 free") == ("IRQs", VARIABLE, "free")
    assert message_key("") == ()


# --------------------------------------------------------------------------------------------
# Grouping


def test_a_position_with_many_values_becomes_a_variable() -> None:
    users = ["root", "admin", "oracle", "guest", "test"]
    msgs = [f"Invalid user {u} from 10.0.0.{i}" for i, u in enumerate(users)]
    msgs += ["session opened for user root", "session closed for user root"]
    g = group(msgs)
    assert len(set(g.labels[:5])) == 1
    assert g.templates[g.labels[0]] == "Invalid user <*> from <*>"
    # opened / closed: two values only, two templates
    assert g.labels[5] != g.labels[6]


def test_the_first_word_and_short_templates_stay_apart() -> None:
    msgs = [f"{w} started" for w in ("cupsd", "sshd", "crond", "named", "xinetd")]
    assert len(set(group(msgs).labels)) == 5
    assert len(set(group(["normal", "warning", "running", "blocked"]).labels)) == 4


def test_a_known_variable_position_takes_other_values() -> None:
    msgs = [
        "auth failure rhost=10.0.0.1 user=root",
        "auth failure rhost=10.0.0.2 user=root",
        "auth failure rhost=zummit.com user=root",
    ]
    assert len(set(group(msgs).labels)) == 1


def test_labels_follow_first_appearance() -> None:
    g = group(["b 1", "a x y", "b 2"])
    assert g.labels == [0, 1, 0]
    assert g.members() == [[0, 2], [1]]


def test_template_regex_matches_its_members_and_is_built_from_literals() -> None:
    msgs = [f"Failed password for {u} from 10.0.0.{i} port {i}22 ssh2" for i, u in enumerate("abcdef")]
    g = group(msgs)
    pattern = template_regex(g.templates[0])
    assert all(re.fullmatch(pattern, m) for m in msgs)
    assert "(?:" not in pattern and "*" not in pattern.replace(r"\*", "")
    # a gap and the literal after it are atomic: a message of many near-misses fails at once
    bad = re.compile(template_regex("a <*> a <*> a <*> a <*> a <*> z"))
    assert bad.fullmatch("a " * 2000) is None


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(st.lists(text, max_size=30))
def test_group_never_raises_and_is_deterministic(messages: list[str]) -> None:
    first = group(messages)
    assert len(first.labels) == len(messages)
    assert group(list(messages)) == first
    assert all(0 <= g < len(first.templates) for g in first.labels)
    # equal messages share a group
    for i, m in enumerate(messages):
        assert first.labels[i] == first.labels[messages.index(m)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30).filter(lambda t: t.strip()), max_size=20))
def test_masking_keeps_one_token_per_token_and_is_idempotent(tokens: list[str]) -> None:
    once = mask_tokens(tokens)
    assert len(once) == len(tokens)
    assert mask_tokens(once) == once


@settings(max_examples=200, deadline=None)
@given(text)
def test_message_key_is_idempotent(message: str) -> None:
    key = message_key(message)
    assert message_key(" ".join(key)) == key


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab1 9:.=/", max_size=20), min_size=1, max_size=10))
def test_numbers_never_decide_a_group(messages: list[str]) -> None:
    # the same messages with other digits group the same way, each with its twin
    twins = [m.translate(str.maketrans("19", "73")) for m in messages]
    g = group(messages + twins)
    n = len(messages)
    assert g.labels[:n] == g.labels[n:]


def test_a_very_long_token_is_a_value() -> None:
    assert mask_tokens(["x" * 300, "ok"]) == [VARIABLE, "ok"]
    assert message_key("dump " + "1" + ")" * 5000 + "x") == ("dump", VARIABLE)
