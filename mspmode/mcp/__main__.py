"""``python -m mspmode.mcp`` (what ``msp mcp`` runs): the MCP tools over stdio, acting as the
local user with the installation's own rights, like the CLI."""

from __future__ import annotations

from mspmode.mcp.server import build_server, fixed_actor
from mspmode.services.actor import local_actor
from mspmode.services.runtime import Runtime
from mspmode.settings import Settings


def main() -> None:
    rt = Runtime(Settings())
    try:
        build_server(rt, fixed_actor(local_actor("mcp"))).run("stdio")
    finally:
        rt.dispose()


if __name__ == "__main__":
    main()
