"""The recovery decision per failure class, the backoff, the regex guard, and the insight
rules (category, priority, drafts, insights.md) — the pure engine, no database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mspmode import engine
from mspmode.engine import insights as ei
from mspmode.engine.classify import CAPABILITY_CLASSES, FAILURE_CLASSES, TRANSIENT_CLASSES
from mspmode.engine.recovery import (
    DECISIONS,
    Failure,
    backoff_delays,
    decide,
    is_catastrophic,
    severity_level,
)
from mspmode.models.recovery import RECOVERY_STRATEGIES, RETRY_DECISIONS, SEVERITY_LEVELS

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize("cls", sorted(TRANSIENT_CLASSES))
def test_transient_failures_are_retried_with_backoff(cls: str) -> None:
    d = decide(Failure(cls, is_transient=True, what="curl https://x", host="web1"))
    assert d.retry_decision == "retry_with_backoff"
    assert d.strategy == "retry_with_backoff"
    assert d.backoff_seconds == backoff_delays()
    assert d.suggested_commands == ["curl https://x"]
    assert d.user_action_required is None
    assert d.severity_level == "low"
    assert "web1" in d.failure_summary


def test_a_transient_failure_that_keeps_happening_asks_a_person_to_look() -> None:
    d = decide(Failure("timeout", is_transient=True, what="ssh nas", occurrences=7))
    assert d.retry_decision == "retry_with_backoff"
    assert d.severity_level == "medium"
    assert d.user_action_required and "7×" in d.user_action_required


@pytest.mark.parametrize("cls", sorted(CAPABILITY_CLASSES))
def test_incompatibilities_use_the_learned_alternative(cls: str) -> None:
    d = decide(
        Failure(
            cls, what="Get-LocalUser", host="AD1", culprit="Get-LocalUser", workarounds=("Get-WmiObject",)
        )
    )
    assert d.retry_decision == "use_learned_alternative"
    assert d.suggested_commands == ["Get-WmiObject"]
    assert d.user_action_required is None
    assert "Get-WmiObject" in d.retry_explanation


@pytest.mark.parametrize("cls", sorted(CAPABILITY_CLASSES))
def test_incompatibilities_without_an_alternative_are_not_retried(cls: str) -> None:
    d = decide(Failure(cls, what="Get-LocalUser", host="AD1", culprit="Get-LocalUser"))
    assert d.retry_decision == "do_not_retry"
    assert d.strategy == "manual_fix"
    assert d.user_action_required and "Get-LocalUser" in d.user_action_required
    assert d.severity_level == "high"


@pytest.mark.parametrize(
    ("cls", "words"),
    [("permission_denied", "rights"), ("authentication_failure", "credentials")],
)
def test_permission_and_authentication_escalate_with_the_users_action(cls: str, words: str) -> None:
    d = decide(Failure(cls, what="rm /etc/x", host="nas", workarounds=("sudo rm /etc/x",)))
    assert d.retry_decision == "escalate_to_user"
    assert d.strategy == "escalate_to_user"
    assert d.user_action_required and words in d.user_action_required
    assert "nas" in d.user_action_required
    assert d.suggested_commands == []
    assert d.severity_level in ("high", "critical")


def test_repeated_authentication_failures_are_critical() -> None:
    assert severity_level(Failure("authentication_failure", occurrences=3)) == "critical"


@pytest.mark.parametrize("cls", ["not_found", "configuration_error", "unknown"])
def test_state_failures_are_not_retried_and_say_what_to_check(cls: str) -> None:
    d = decide(Failure(cls, what="cat /nope"))
    assert d.retry_decision == "do_not_retry"
    assert d.user_action_required


@pytest.mark.parametrize("cls", sorted(FAILURE_CLASSES))
def test_every_decision_fits_the_schema(cls: str) -> None:
    for workarounds in ((), ("other",)):
        d = decide(Failure(cls, is_transient=cls in TRANSIENT_CLASSES, what="x", workarounds=workarounds))
        assert d.retry_decision in RETRY_DECISIONS and d.retry_decision in DECISIONS
        assert d.strategy in RECOVERY_STRATEGIES
        assert d.severity_level in SEVERITY_LEVELS
        assert d.failure_summary and d.root_cause and d.retry_explanation


def test_operations_are_not_suggested_as_commands() -> None:
    d = decide(Failure("timeout", is_transient=True, what="nightly backup", is_command=False))
    assert d.suggested_commands == []
    assert "operation" in d.retry_explanation


def test_backoff_is_exponential_and_capped() -> None:
    assert backoff_delays(3, base=5, factor=3, cap=300) == [5, 15, 45]
    assert backoff_delays(6, base=5, factor=3, cap=300)[-2:] == [300, 300]
    assert backoff_delays(0) == []


@pytest.mark.parametrize(
    "pattern", [r"(a+)+", r"(\w*)*", r"(x*y?)*z", r"((ab)*c)+", r"(?:.{0,500})+", "[unclosed", r"(a|b+)*"]
)
def test_catastrophic_or_invalid_regexes_are_refused(pattern: str) -> None:
    assert is_catastrophic(pattern)


@pytest.mark.parametrize(
    "pattern", [r"systemctl: not found", r"Get\-LocalUser.{0,200}?not recognized", r"a+b+c*", r"(ab|cd)+"]
)
def test_linear_regexes_pass(pattern: str) -> None:
    assert not is_catastrophic(pattern)


@given(st.text(max_size=200))
def test_escaped_literals_and_engine_patterns_are_never_catastrophic(text: str) -> None:
    assert not is_catastrophic(re.escape(text))
    pattern = engine.error_pattern(engine.normalize_message(text))
    assert not is_catastrophic(pattern)


# --------------------------------------------------------------------------------------------
# Insights


def facts(**kw: object) -> ei.PatternFacts:
    base: dict[str, object] = {
        "id": "p1",
        "failure_class": "command_not_found",
        "pattern_signature": "command_not_found: Get-LocalUser",
        "severity": "blocking",
        "confidence_level": "likely",
        "culprit": "Get-LocalUser",
        "root_cause": "Get-LocalUser needs PowerShell 5.1.",
        "workaround_commands": ("Get-WmiObject Win32_UserAccount",),
        "triggering_commands": ("Get-LocalUser -Name jdoe",),
        "occurrences": 1,
        "last_seen": NOW,
    }
    base.update(kw)
    return ei.PatternFacts(**base)  # type: ignore[arg-type]


PS2 = ei.HostFacts("AD1", "192.0.2.5", "Windows Server", "2008 R2", "powershell", "2.0")


def test_priority_is_severity_times_frequency_times_recency() -> None:
    p = ei.priority
    assert p("blocking", 10, NOW, NOW) == 10
    assert p("blocking", 1, NOW, NOW) < p("blocking", 3, NOW, NOW) < p("blocking", 10, NOW, NOW)
    assert p("minor", 10, NOW, NOW) < p("major", 10, NOW, NOW) < p("blocking", 10, NOW, NOW)
    old = NOW - timedelta(days=200)
    assert p("blocking", 10, old, NOW) < p("blocking", 10, NOW - timedelta(days=30), NOW) < 10
    assert p("blocking", 10, old, NOW) == 5  # recency halves it at most
    assert p("info", 1, old, NOW) == 1


@given(
    st.sampled_from(["blocking", "major", "minor", "info", None]),
    st.integers(min_value=-5, max_value=10**6),
    st.integers(min_value=-400, max_value=4000),
)
def test_priority_is_always_between_1_and_10(severity: str | None, n: int, days: int) -> None:
    assert 1 <= ei.priority(severity, n, NOW - timedelta(days=days), NOW) <= 10


def test_a_capability_failure_on_a_powershell_host_is_a_version_limitation() -> None:
    d = ei.draft(facts(), PS2, NOW)
    assert d is not None
    assert d.category == "version_limitations"
    assert "PowerShell 2.0" in d.title and "`Get-LocalUser`" in d.title
    assert "**Use instead:**" in d.description and "Get-WmiObject Win32_UserAccount" in d.description
    assert d.examples == ["Get-WmiObject Win32_UserAccount"]
    assert "user_management" in d.affected_operations
    assert d.basis == ei.basis_of(PS2)


def test_categories_follow_the_failure_class() -> None:
    nas = ei.HostFacts("nas", os="ReadyNAS OS", shell_type="sh")
    assert ei.draft(facts(culprit="systemctl", triggering_commands=("systemctl status nmbd",)), nas, NOW)
    assert ei.category_for(facts(culprit="systemctl"), nas) == "command_constraints"
    assert ei.category_for(facts(failure_class="permission_denied"), nas) == "permissions"
    assert ei.category_for(facts(failure_class="dns"), nas) == "network_constraints"
    assert ei.category_for(facts(failure_class="configuration_error"), nas) == "service_configuration"


def test_one_off_transient_and_unknown_failures_make_no_insight() -> None:
    assert ei.draft(facts(failure_class="timeout", is_transient=True), PS2, NOW) is None
    assert ei.draft(facts(failure_class="timeout", is_transient=True, occurrences=3), PS2, NOW) is not None
    assert ei.draft(facts(failure_class="unknown"), PS2, NOW) is None


def test_the_basis_changes_when_powershell_is_upgraded() -> None:
    upgraded = ei.HostFacts("AD1", "192.0.2.5", "Windows Server", "2008 R2", "powershell", "5.1")
    assert ei.basis_of(upgraded) != ei.basis_of(PS2)
    assert ei.basis_of(ei.HostFacts("other name", os="windows server", os_version="2008 r2")) == ei.basis_of(
        ei.HostFacts("AD1", os="Windows Server", os_version="2008 R2")
    )


def test_better_prefers_confidence_then_a_known_fix() -> None:
    assert ei.better(("confirmed", False, 3, NOW), ("likely", True, 9, NOW))
    assert ei.better(("likely", True, 3, NOW), ("likely", False, 9, NOW))
    assert not ei.better(("likely", False, 3, NOW), ("likely", False, 3, NOW))


def test_insights_md_has_the_seed_shape() -> None:
    d = ei.draft(facts(occurrences=4), PS2, NOW)
    assert d is not None
    nas = ei.HostFacts("D2TESTNAS", "192.0.2.9", "ReadyNAS OS", "6.10", "sh")
    text = ei.render_markdown(
        "Dataforth",
        [
            ei.HostSection(PS2, [(d.category, d.title, d.description, d.examples, d.priority)]),
            ei.HostSection(nas, [], ["SMB1 only, for the DOS machines"]),
            ei.HostSection(ei.HostFacts("quiet"), []),
        ],
        NOW,
    )
    lines = text.splitlines()
    assert lines[0] == "# Environmental Insights: Dataforth"
    assert "## AD1 (192.0.2.5 - Windows Server 2008 R2, PowerShell 2.0)" in lines
    assert "### Version Limitations" in lines
    assert any(line.startswith("**`Get-LocalUser` not available") for line in lines)
    assert "Get-WmiObject Win32_UserAccount" in lines  # in the correct-commands block
    assert "## D2TESTNAS (192.0.2.9 - ReadyNAS OS 6.10, sh)" in lines
    assert "- SMB1 only, for the DOS machines" in lines
    assert "## quiet" not in lines
    empty = ei.render_markdown("Nobody", [], NOW)
    assert "No active insights yet" in empty
