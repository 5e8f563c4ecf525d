"""``python -m mspmode.mcp`` (what ``msp mcp`` runs): the MCP tools over stdio, acting as the
local user with the installation's own rights, like the CLI."""

from __future__ import annotations

import os
import signal

from mspmode.mcp.server import build_server, fixed_actor
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings


def _stop(signum: int, _frame: object) -> None:
    """Ctrl-C or a TERM ends the server at once. Left to the event loop, a KeyboardInterrupt
    waits for the thread blocked reading stdin, which returns only when the client closes the
    pipe, so ``msp mcp`` ignored Ctrl-C (issue 16). Every tool call commits its own
    transaction: there is nothing half-done to finish."""
    os._exit(128 + signum)


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    rt = Runtime(Settings())
    try:
        build_server(rt, fixed_actor(local_actor("mcp"))).run("stdio")
    finally:
        rt.dispose()


if __name__ == "__main__":
    main()
