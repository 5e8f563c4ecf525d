"""The layers import only downwards (STYLE.md): engine and vault import nothing else of ours;
models and db never import services; api, cli and mcp never import each other; the hooks import
only the engine and the redactor (the CLI and services share their index format); nothing
imports ``server``, the composition root that mounts the MCP tools on the API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mspmode"

FORBIDDEN = {
    "engine": {
        "db",
        "models",
        "schemas",
        "services",
        "api",
        "cli",
        "mcp",
        "hooks",
        "vault",
        "settings",
        "server",
    },
    "vault": {
        "db",
        "models",
        "schemas",
        "services",
        "api",
        "cli",
        "mcp",
        "hooks",
        "engine",
        "settings",
        "server",
    },
    "models": {"services", "api", "cli", "mcp", "hooks", "schemas", "server"},
    "db": {"services", "api", "cli", "mcp", "hooks", "schemas", "server"},
    # hooks/index.py and hooks/config.py are the index format and the hook settings, shared with
    # the full stack that writes them (services/hooks.py, cli/hooks.py).
    "services": {"api", "cli", "mcp", "server"},
    # Outside systems speak HTTP only: what to store and where is the services' business.
    "integrations": {
        "db",
        "models",
        "schemas",
        "services",
        "api",
        "cli",
        "mcp",
        "hooks",
        "settings",
        "server",
    },
    "api": {"cli", "mcp", "hooks", "server"},
    "cli": {"api", "mcp", "server"},
    "mcp": {"api", "cli", "hooks", "server"},
    # A hook is a new process per tool call: the standard library, the engine and the redactor.
    "hooks": {"api", "cli", "mcp", "db", "models", "services", "schemas", "settings", "server"},
}


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mspmode" and len(parts) > 1:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    for path in files:
        bad = imported_layers(path) & FORBIDDEN[layer]
        assert not bad, f"{path.relative_to(PACKAGE.parent)} imports {sorted(bad)}"


def test_the_checker_sees_imports() -> None:
    # Guard against a checker that passes because it finds nothing.
    assert "db" in imported_layers(PACKAGE / "services" / "setup.py")
    assert "errors" in imported_layers(PACKAGE / "vault" / "keyfiles.py")
