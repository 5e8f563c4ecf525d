"""Reading Claude Code's event shapes: which tool calls are shell commands, their host, and the
exit status and output of a finished one (``error`` begins "Exit code N")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mspmode.hooks.events import deny_reason, outcome, shell_command


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"tool_name": "Bash", "tool_input": {"command": "ls -la", "description": "x"}}, ("ls -la", None)),
        ({"tool_name": "PowerShell", "tool_input": {"command": "Get-Service"}}, ("Get-Service", None)),
        ({"tool_name": "mcp__ssh__run_command", "tool_input": {"host": "DC1", "command": "hostname"}},
         ("hostname", "DC1")),
        ({"tool_name": "mcp__winrm__exec", "tool_input": {"computer_name": " FS1 ", "script": "dir"}},
         ("dir", "FS1")),
        ({"tool_name": "Write", "tool_input": {"file_path": "/x", "content": "y"}}, None),
        ({"tool_name": "mcp__memory__search", "tool_input": {"query": "x"}}, None),
        ({"tool_name": "Bash", "tool_input": {"command": "   "}}, None),
        ({"tool_name": "Bash", "tool_input": "ls"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_shell_commands_are_found(payload: dict[str, Any], expected: tuple[str, str | None] | None) -> None:
    assert shell_command(payload) == expected


def test_outcomes_of_the_documented_shapes() -> None:
    ok = {
        "hook_event_name": "PostToolUse",
        "tool_response": {"stdout": "a", "stderr": "b", "interrupted": False},
    }
    assert outcome(ok) == (0, "a\nb")
    failed = {"hook_event_name": "PostToolUseFailure", "error": "Exit code 127\nbash: dnf: command not found"}
    assert outcome(failed) == (127, "bash: dnf: command not found")
    windows = {"hook_event_name": "PostToolUseFailure", "error": "Exit code -2147024891\nAccess is denied."}
    assert outcome(windows) == (-2147024891, "Access is denied.")
    interrupted = {
        "hook_event_name": "PostToolUseFailure",
        "error": "Interrupted by user",
        "is_interrupt": True,
    }
    assert outcome(interrupted) == (None, "Interrupted by user")
    huge = {"hook_event_name": "PostToolUse", "tool_response": {"stdout": "x" * 500_000}}
    code, text = outcome(huge)
    assert code == 0 and len(text) < 70_000 and text.startswith("x") and text.endswith("x")


@given(code=st.integers(min_value=-(2**31), max_value=2**31 - 1), rest=st.text(max_size=200))
def test_the_exit_code_is_read_back(code: int, rest: str) -> None:
    got, text = outcome({"hook_event_name": "PostToolUseFailure", "error": f"Exit code {code}\n{rest}"})
    assert got == code and text == rest.lstrip("\n")


KEYS = st.sampled_from(
    ["tool_name", "tool_input", "tool_response", "error", "hook_event_name", "is_interrupt"]
)
VALUES = st.one_of(
    st.none(), st.text(max_size=30), st.integers(), st.booleans(),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10)),
)  # fmt: skip


@given(payload=st.dictionaries(KEYS, VALUES))
def test_odd_events_never_raise(payload: dict[str, Any]) -> None:
    shell_command(payload)
    outcome(payload)


def test_the_deny_reason_names_the_fix_and_the_pattern() -> None:
    reason = deny_reason(
        {
            "reason": "Command Get-LocalUser failed on DC2 (command_not_found, 1× since 2026-03-02).",
            "suggestions": ["net user asmith", "net user jdoe"],
            "pattern_ids": ["6270ec2c"],
        }
    )
    assert "failed on DC2" in reason and "  net user asmith" in reason and "6270ec2c" in reason
    assert "No fix was recorded" in deny_reason({"reason": "x", "suggestions": [], "pattern_ids": []})


@pytest.mark.parametrize(
    "tool", ["mcp__msp__check_command", "mcp__msp__record_command", "mcp__plugin_msp-mode_msp__check_command"]
)
def test_msp_modes_own_mcp_tools_are_not_shell_commands(tool: str) -> None:
    assert (
        shell_command({"tool_name": tool, "tool_input": {"command": "Get-LocalUser", "host": "DC2"}}) is None
    )
    assert shell_command({"tool_name": "mcp__ssh__run_command", "tool_input": {"command": "x"}}) == (
        "x",
        None,
    )


def test_a_warning_denies_the_first_attempt_and_says_how_to_go_on() -> None:
    from mspmode.hooks.events import verdict_output

    out, warned = verdict_output({"verdict": "warn", "reason": "failed on DC2, like DC3", "suggestions": []})
    assert warned and out is not None
    spec = out["hookSpecificOutput"]
    assert (
        spec["permissionDecision"] == "deny" and "identical command again" in spec["permissionDecisionReason"]
    )
