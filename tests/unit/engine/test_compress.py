"""Compression: what a summary keeps from a Claude Code transcript or a text, what it drops,
that secrets never reach it, and that no input makes it raise."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mspmode.engine.compress import compress_text, compress_transcript, credential_names, error_lines, scrub
from mspmode.vault.redact import redact


def tool_use(tid: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "assistant",
        "message": {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": tid, "name": name, "input": data}],
        },
    }


def tool_result(tid: str, text: str, error: bool = False) -> dict[str, Any]:
    return {
        "type": "user",
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tid, "content": text, "is_error": error}],
        },
    }


LOG = "\n".join(f"Mar 11 09:{i % 60:02d}:00 web01 nginx[123]: routine line {i}" for i in range(400))
TRANSCRIPT = [
    {
        "type": "user",
        "sessionId": "abc",
        "cwd": "/srv/acme",
        "message": {"role": "user", "content": "Fix nginx on web01"},
    },
    {
        "type": "assistant",
        "message": {
            "role": "assistant",
            "content": [
                {
                    "type": "text",
                    "text": "We decided to pin nginx 1.24 instead of upgrading. Next step: tell the client.",
                }
            ],
        },
    },
    tool_use("t1", "Bash", {"command": "ssh root@web01.acme.local 'journalctl -u nginx'"}),
    tool_result("t1", LOG),
    tool_use("t2", "Bash", {"command": "mysql -u app -pHunter2Secret! -e 'select 1'"}),
    tool_result(
        "t2",
        "Exit code 1\nERROR 2002 (HY000): Can't connect to local MySQL server through socket "
        "'/run/mysqld/mysqld.sock' (2)",
        True,
    ),
    tool_use("t3", "Edit", {"file_path": "/etc/nginx/nginx.conf", "old_string": "a", "new_string": "b"}),
    tool_result("t3", "The file /etc/nginx/nginx.conf has been updated."),
    tool_use("t4", "Bash", {"command": "export DB_PASSWORD=$(msp cred reveal 'Acme MySQL app')"}),
    tool_result("t4", ""),
]


def test_a_transcript_keeps_its_facts_and_drops_the_bulk() -> None:
    packed = compress_transcript([json.dumps(r) for r in TRANSCRIPT], redact=redact)
    s = packed.summary
    assert "Fix nginx on web01" in s
    assert "`ssh root@web01.acme.local 'journalctl -u nginx'` @web01.acme.local → ok" in s
    assert "ERROR 2002 (HY000): Can't connect to local MySQL server" in s
    assert "exit 1" in s
    assert "/etc/nginx/nginx.conf (edited)" in s
    assert "We decided to pin nginx 1.24 instead of upgrading." in s
    assert "Next step: tell the client." in s
    assert "Acme MySQL app" in s and "DB_PASSWORD" in s
    assert "Hunter2Secret!" not in s
    assert "routine line 399" not in s
    assert packed.reduction > 0.9
    failed = [c for c in packed.facts.commands if c.failed]
    assert [c.exit_code for c in failed] == [1]
    assert packed.facts.session_id == "abc" and packed.facts.cwd == "/srv/acme"


def test_without_a_redactor_the_built_in_scrubber_still_drops_values() -> None:
    packed = compress_transcript(TRANSCRIPT)
    assert "Hunter2Secret!" not in packed.summary and "-p[REDACTED]" in packed.summary
    assert scrub("password=abc123 token: 'xyz' https://u:pw@host/x --password s3") == (
        "password=[REDACTED] token: [REDACTED] https://u:[REDACTED]@host/x --password [REDACTED]"
    )


def test_known_hosts_are_found_in_prose_and_bad_lines_are_counted() -> None:
    lines = [
        "not json",
        "{}",
        "[]",
        json.dumps({"type": "user", "message": {"role": "user", "content": "DC01 is slow, and fs01 too"}}),
    ]
    packed = compress_transcript(lines, known_hosts=["dc01", "FS01", "x"])
    assert packed.facts.hosts == ["DC01", "fs01"]
    assert packed.facts.skipped_lines == 2  # "not json" and "[]"; "{}" is a record without a message


# Records Claude Code 2.1.332 writes to a transcript beside the conversation (shapes copied from
# a real run of tests/agent): the system prompt and hook context as ``role: "system"`` request
# copies, reminders in ``isMeta`` turns and attachments, a compaction summary, a title.
PRIOR_SUMMARY = (
    "## Recalled context (MSP Mode)\n- Session abc in /srv/acme\n- - Decisions:\n"
    "- - - We decided to pin nginx 1.24 instead of upgrading."
)
SYSTEM_PROMPT = "Always use the Read tool instead of cat. Prefer editing files over creating new ones."
NOT_CONVERSATION = [
    {"type": "api-request-blob", "message": {"role": "system", "content": [
        {"type": "text", "text": SYSTEM_PROMPT}]}},
    {"type": "api-request-blob", "message": {"role": "system", "content": [
        {"type": "text", "text": f"SessionStart hook additional context: {PRIOR_SUMMARY}"}]}},
    {"type": "api-request-blob", "message": {"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>We will never use sudo here.</system-reminder>"}]}},
    {"type": "system", "message": {"role": "system", "content": "Decision: do not use git push --force."}},
    {"type": "user", "isMeta": True, "message": {"role": "user", "content": "Caveat: we decided to use X."}},
    {"type": "user", "isCompactSummary": True, "message": {"role": "user", "content": PRIOR_SUMMARY}},
    {"type": "attachment", "attachment": {"type": "hook_additional_context", "content": [PRIOR_SUMMARY]}},
    {"type": "summary", "summary": "We decided to standardise on Samba 4.19."},
    {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text":
        "<system-reminder>Prefer the MSP Mode fix.</system-reminder>Restart nginx on web01"}]}},
]  # fmt: skip
DENY = (
    "PreToolUse:Bash hook error: MSP Mode stopped this command: This exact command failed on web01 "
    "(command_not_found, 1× since 2026-01-06): bash: tree: command not found.\n"
    "What worked instead (run this):\n  find /srv -maxdepth 2"
)


def test_only_the_conversation_is_summarised() -> None:
    """Issue 16: no system prompt as a decision, no earlier summary inside the next one (the
    ``- - -`` snowball), no hook text; a denied command is "not run", not a failure."""
    denied = tool_result("t2", DENY, True)
    denied.update(
        toolDenialKind="permission-rule", permissionDecision={"decision": "reject", "source": "hook"}
    )
    lines = [
        *NOT_CONVERSATION,
        tool_use("t1", "Bash", {"command": "systemctl restart nginx"}),
        tool_result("t1", ""),
        tool_use("t2", "Bash", {"command": "tree /srv"}),
        denied,
        tool_use("t3", "Bash", {"command": "tree /opt"}),
        tool_result("t3", "PreToolUse:Bash hook error: MSP Mode stopped this command: failed before.", True),
        tool_use("t4", "mcp__msp__check_command", {"command": "tree /srv"}),
        tool_result("t4", '{"verdict": "block", "reason": "tree failed on web01: command not found"}'),
    ]
    packed = compress_transcript([json.dumps(r) for r in lines], redact=redact)
    s = packed.summary
    assert packed.facts.prompts == ["Restart nginx on web01"]
    assert packed.facts.decisions == [] and packed.facts.errors == [], s
    assert "`tree /srv` → not run" in s and "`tree /opt` → not run" in s
    assert [c.failed for c in packed.facts.commands] == [False, False, False]
    for leaked in (
        "Read tool",
        "nginx 1.24",
        "sudo",
        "git push",
        "Samba",
        "MSP Mode",
        "- -",
        "command not found",
    ):
        assert leaked not in s, (leaked, s)


def test_text_compression_keeps_commands_errors_and_decisions() -> None:
    text = (
        "blah " * 2000
        + "\n$ systemctl restart smbd\nJob for smbd.service failed.\nWe chose Samba 4.19 rather than 4.20.\n"
    )
    packed = compress_text(text)
    assert "`systemctl restart smbd`" in packed.summary
    assert "Job for smbd.service failed." in packed.summary
    assert "We chose Samba 4.19 rather than 4.20." in packed.summary
    assert packed.reduction > 0.9


def test_error_lines_count_a_repeated_shape_once() -> None:
    text = "\n".join(f"2025-03-{d:02d} error: disk 0x{d:x} failed" for d in range(1, 30)) + "\nfatal: other"
    assert error_lines(text) == ["2025-03-01 error: disk 0x1 failed", "fatal: other"]


def test_credential_names_are_names() -> None:
    assert credential_names("$env:ACME_ADMIN_PASSWORD and ${GITHUB_TOKEN} and %SQL_PWD%") == [
        "ACME_ADMIN_PASSWORD",
        "GITHUB_TOKEN",
        "SQL_PWD",
    ]
    assert credential_names("$HOME and $PATH") == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "message",
                    "content",
                    "role",
                    "text",
                    "name",
                    "input",
                    "id",
                    "tool_use_id",
                    "command",
                    "file_path",
                    "is_error",
                    "toolUseResult",
                    "stdout",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values | st.text(max_size=200), max_size=12))
def test_compress_transcript_never_raises(records: list[Any]) -> None:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    packed = compress_transcript(lines)
    assert packed.compressed_tokens >= 0 and 0.0 <= packed.reduction <= 1.0


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_compress_text_never_raises(text: str) -> None:
    assert compress_text(text).summary.startswith("Session")
