"""``msp mcp``: the MCP server over stdio. A module of its own so that starting it loads the
MCP layer and nothing else of the CLI: the agent waits for its answer to ``initialize``."""

from __future__ import annotations

import runpy

from mspmode.cli.app import app


@app.command("mcp")
def mcp() -> None:
    """Run the MCP server over stdio, for an agent that speaks MCP.

    Tools: check_command, record_command, recall_context, save_context,
    search_solutions, get_insights, log_work_item, find_host. They act as
    you, with this installation's rights. The same tools are served over
    streamable HTTP at /mcp by `msp serve`, behind an API key.
    Add to Claude Code with: claude mcp add msp -- msp mcp
    """
    # By module name: the CLI does not import the MCP layer (as `msp serve` starts the API).
    runpy.run_module("mspmode.mcp", run_name="__main__", alter_sys=True)
