"""``python -S …/mspmode/hooks/__main__.py EVENT [--home DIR]`` (or ``python -m mspmode.hooks``):
one Claude Code hook call. Reads the event JSON on stdin, prints the answer JSON (or nothing)
on stdout, and exits 0 whatever happens: an internal error is logged to ``MSP_HOME/hook.log``
and the agent goes on. A wrong or missing event name is the only non-zero exit (1, a mistake in
the settings)."""

from __future__ import annotations

import json
import sys
import time

# Event names as Claude Code spells them, and the kebab-case a person may type.
EVENTS = (
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "SessionStart",
    "UserPromptSubmit",
    "Stop",
    "SessionEnd",
)
_ALIASES = {e.lower(): e for e in EVENTS} | {
    "pre-tool-use": "PreToolUse",
    "post-tool-use": "PostToolUse",
    "post-tool-use-failure": "PostToolUseFailure",
    "session-start": "SessionStart",
    "user-prompt-submit": "UserPromptSubmit",
    "session-end": "SessionEnd",
}
MAX_STDIN = 64 * 1024 * 1024


def _args(argv: list[str]) -> tuple[str | None, str | None]:
    event = home = None
    rest = iter(argv)
    for arg in rest:
        if arg == "--home":
            home = next(rest, None)
        elif arg.startswith("--home="):
            home = arg.split("=", 1)[1]
        elif event is None:
            event = _ALIASES.get(arg.lower())
    return event, home


def main(argv: list[str] | None = None) -> int:
    event, home = _args(sys.argv[1:] if argv is None else argv)
    if event is None:
        sys.stderr.write(f"usage: msp-hook {{{','.join(EVENTS)}}} [--home DIR]\n")
        return 1
    from mspmode.hooks import config

    cfg = None
    started = time.monotonic()
    try:
        cfg = config.load(home)
        raw = sys.stdin.buffer.read(MAX_STDIN)
        payload = json.loads(raw.decode("utf-8", errors="replace")) if raw.strip() else {}
        if not isinstance(payload, dict):
            raise ValueError(f"the event is a JSON {type(payload).__name__}, not an object")
        payload.setdefault("hook_event_name", event)
        from mspmode.hooks.events import handle

        answer = handle(cfg, event, payload)
    except Exception as exc:  # fail open: the agent must never be stuck on us
        config.log(cfg, event, f"{type(exc).__name__}: {exc} after {time.monotonic() - started:.2f}s")
        return 0
    if answer:
        sys.stdout.write(json.dumps(answer, ensure_ascii=False))
        sys.stdout.flush()
    return 0


def run() -> None:
    """``msp-hook EVENT``: the console script the Claude Code plugin's hooks run."""
    raise SystemExit(main())


if __name__ == "__main__":
    run()
