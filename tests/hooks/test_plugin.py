"""The Claude Code plugin at ``plugin/``: the pinned Claude Code validates it, its hooks are the
same events as ``msp hooks install`` writes (run by the ``msp-hook`` console script), and it
keeps no state in its own folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from mspmode.cli.hooks import HOOK_EVENTS
from mspmode.hooks.config import ASYNC_EVENTS

PLUGIN = Path(__file__).resolve().parents[2] / "plugin"
PINNED = "/opt/claude-code/node_modules/.bin/claude"


def claude_bin() -> str:
    """The pinned Claude Code CLI (``MSP_TEST_CLAUDE_BIN`` or where ``.ci/run`` installs it):
    missing, the test fails rather than skips."""
    path = os.environ.get("MSP_TEST_CLAUDE_BIN") or PINNED
    assert shutil.which(path), f"the pinned Claude Code CLI is missing at {path} (.ci/run installs it)"
    return path


def test_claude_plugin_validate_passes() -> None:
    proc = subprocess.run(
        [claude_bin(), "plugin", "validate", "--json", str(PLUGIN)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_plugin_runs_the_installed_hooks_and_mcp_server() -> None:
    hooks = json.loads((PLUGIN / "hooks" / "hooks.json").read_text())["hooks"]
    assert set(hooks) == {event for event, _, _ in HOOK_EVENTS}
    for event, matcher, timeout in HOOK_EVENTS:
        (group,) = hooks[event]
        assert group.get("matcher") == matcher
        hook = {"type": "command", "command": f"msp-hook {event}", "timeout": timeout}
        assert group["hooks"] == [{**hook, "async": True} if event in ASYNC_EVENTS else hook]
    servers = json.loads((PLUGIN / ".mcp.json").read_text())["mcpServers"]
    assert servers == {"msp": {"command": "msp", "args": ["mcp"]}}
    text = (PLUGIN / "hooks" / "hooks.json").read_text() + (PLUGIN / ".mcp.json").read_text()
    assert "CLAUDE_PLUGIN_ROOT" not in text  # state is in MSP_HOME, never in the plugin's folder
