"""``msp check`` answered by the local service, without Typer.

An agent's loop runs ``msp check`` before every command. When the local service of this
``MSP_HOME`` runs (same code, same database; see :mod:`mspmode.localservice`) it is asked, warm,
with the standard library's client (:mod:`mspmode.hooks.service`). :func:`run` does it for the
plain forms of the command line (``msp check [--host H] [--json] [--] COMMAND…``) before Typer
is loaded: Typer's option parsing alone loads pydantic. Anything else (``--help``, ``--batch``,
a mistake on the command line), or no service to ask, goes to the full command in
:mod:`mspmode.cli.check`, which asks the service too and otherwise loads what was learned in
this process. The answer is the same either way.
"""

from __future__ import annotations

import json
import os
import sys

from mspmode.hooks import config as hook_config
from mspmode.hooks import service as local_service

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXIT_BLOCK = 2  # what agent hooks read as "do not run this"
VERDICT_KEYS = ("host", "command", "verdict", "confidence", "reason", "suggestions", "pattern_ids")


def run(argv: list[str]) -> int | None:
    """``msp check`` with the arguments ``argv`` (after ``check``) answered by the local service:
    the exit status, or None when the full command must answer."""
    parsed = parse(argv)
    if parsed is None:
        return None
    host, as_json, text = parsed
    result = ask_service(host, text)
    if result is None:
        return None
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_verdict(result)
    sys.stdout.flush()
    return EXIT_BLOCK if result["verdict"] == "block" else 0


def parse(argv: list[str]) -> tuple[str | None, bool, str] | None:
    """(host, --json, command) of a plain ``msp check`` command line as Click reads it, or None
    for anything else (left to Click, which also explains what is wrong)."""
    host, as_json, words = None, False, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            words += argv[i + 1 :]
            break
        if arg == "--json":
            as_json = True
        elif arg in ("--host", "-H") and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            host = argv[i + 1]
            i += 1
        elif arg.startswith("--host=") and len(arg) > len("--host="):
            host = arg[len("--host=") :]
        elif arg.startswith("-"):
            return None
        else:
            words.append(arg)
        i += 1
    text = " ".join(words).strip()
    return (host, as_json, text) if text else None


def ask_service(host: str | None, command: str) -> dict[str, Any] | None:
    """The local service's verdict, or None when it cannot give this process's answer: not
    running (it is not started from here: the hooks and ``msp local-service start`` do), of
    other code, or serving another database than this command would open
    (``MSP_DATABASE_URL`` naming another one than the hooks were installed for)."""
    cfg = hook_config.load()
    if cfg.team:
        return None  # the hooks ask a team server; this command checks its own database
    ours = os.environ.get("MSP_DATABASE_URL", "").strip() or None
    installed = hook_config.read_json(os.path.join(cfg.home, hook_config.CONFIG_FILE)).get("database_url")
    theirs = installed.strip() if isinstance(installed, str) and installed.strip() else None
    if hook_config.database_label(ours, cfg.home) != hook_config.database_label(theirs, cfg.home):
        return None
    try:
        answer = local_service.request(cfg, "POST", "/api/check", {"host": host, "command": command})
    except (local_service.Unavailable, ValueError):
        return None
    if not isinstance(answer, dict) or not all(k in answer for k in VERDICT_KEYS):
        return None
    return {k: answer[k] for k in VERDICT_KEYS}


def print_verdict(result: dict[str, Any], *, short: bool = False) -> None:
    where = result["host"] or "this machine"
    confidence = f" ({result['confidence']})" if result["confidence"] else ""
    head = f"{result['verdict'].upper()}{confidence} on {where}"
    if short:
        print(f"{head}: {result['command']} — {result['reason']}")
        for s in result["suggestions"][:1]:
            print(f"    instead: {s}")
        return
    print(f"{head}: {result['reason']}")
    for i, s in enumerate(result["suggestions"]):
        print(f"  {'instead:' if i == 0 else '        '} {s}")
    if result["pattern_ids"]:
        print(f"  patterns: {', '.join(p[:8] for p in result['pattern_ids'])} (msp patterns explain ID)")
