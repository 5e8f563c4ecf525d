"""What a hook does with each Claude Code event, as a thin client of the service.

Every event but Stop/SessionEnd is posted as it came, with what only this machine knows
(``_extras``), to ``POST /api/hooks/{event}`` of the service: the local one of ``MSP_HOME``
(started on demand, ``service.py``) or the team's ``msp serve``; one code path. The service runs
the handler with what it learned in memory (``services/hooks.py``) and answers the hook's JSON.
Stop and SessionEnd only queue the session's transcript (a file): the next SessionStart sends it.

When the service cannot answer (starting, stopped, another version being restarted, the team
server down), nothing is let through that is known to fail and nothing is lost: PreToolUse
checks against the index the service keeps on disk (``index.py``) — with none to check
against (the first start, a team server restarting) it waits for the service — PostToolUse appends the
command to the journal the service replays, and the agent is told once per session that MSP
Mode is degraded.

Warnings: a ``warn`` verdict (the command failed on hosts *like* this one) denies the first
attempt with the reason, so the agent reads it before anything runs; the identical command sent
again in the same Claude session runs (its key is kept in ``hook-sessions/``). ``block`` is
always a deny. MSP Mode's own MCP tools (server ``msp``, or the plugin's) are never checked or
recorded: they are not shell commands.
"""

from __future__ import annotations

import json
import os
import re
import time

from mspmode.hooks import config, index, service

TYPE_CHECKING = False  # typing costs a hook 5 ms of imports; pathlib 5, left to the session queue
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from mspmode.hooks.config import HookConfig

# Tools whose input is a shell command: Claude Code's Bash and PowerShell, and MCP tools that run
# commands (mcp__<server>__run_command, …__ssh_exec, …).
SHELL_TOOL = re.compile(r"^(Bash|PowerShell)$|^mcp__.+__.*(run|exec|shell|bash|ssh|powershell|command)", re.I)
_HOST_FIELDS = ("host", "hostname", "computer_name", "computerName", "server", "target")
_EXIT_CODE = re.compile(r"^\s*Exit code:?\s*(-?\d+)", re.I)
QUEUE_DIR = "hook-queue"
SAVED_FILE = "saved.json"  # in QUEUE_DIR, local mode: each Claude session's saved context row
TRANSCRIPT_LINES = 20_000  # the tail of a very long session is what matters
SESSION_START_WAIT = 3.0  # seconds a SessionStart waits for a service it had to start
PRE_TOOL_WAIT = 10.0  # … and a PreToolUse with no index to answer from (its timeout is 15 s)
# MSP Mode's own MCP server as ``claude mcp add msp`` and the plugin (``plugin_<name>_msp``)
# name it: its tools are questions to MSP Mode, not commands to check or record.
OWN_SERVER = re.compile(r"^(msp|plugin_[^_].*_msp)$")
OUTPUT_LIMIT = 64 * 1024  # what a hook passes on of a tool's output (the store keeps head and tail)


# --------------------------------------------------------------------------------------------
# Reading the event


def own_tool(tool: str, servers: Any = ()) -> bool:
    """Whether ``tool`` is one of MSP Mode's own MCP tools (``mcp__<server>__<tool>``)."""
    if not tool.startswith("mcp__"):
        return False
    server = tool[5:].split("__", 1)[0]
    return bool(OWN_SERVER.match(server)) or server in (servers or ())


def shell_command(payload: dict[str, Any], own_servers: Any = ()) -> tuple[str, str | None] | None:
    """(command, host named by the tool) for a shell tool call, else None (MSP Mode's own
    MCP tools included: ``own_servers`` adds names of our server beside the usual ones)."""
    tool = payload.get("tool_name")
    tool_input = payload.get("tool_input")
    if not isinstance(tool, str) or not SHELL_TOOL.search(tool) or not isinstance(tool_input, dict):
        return None
    if own_tool(tool, own_servers):
        return None
    command = next(
        (tool_input[k] for k in ("command", "cmd", "script") if isinstance(tool_input.get(k), str)), None
    )
    if not command or not command.strip():
        return None
    host = next((tool_input[k] for k in _HOST_FIELDS if isinstance(tool_input.get(k), str)), None)
    return command, (host.strip() or None) if host else None


def outcome(payload: dict[str, Any]) -> tuple[int | None, str]:
    """(exit code, output) of a PostToolUse / PostToolUseFailure event."""
    response = payload.get("tool_response")
    parts: list[str] = []
    code: int | None = None
    if isinstance(response, dict):
        for key in ("stdout", "stderr", "output"):
            if isinstance(response.get(key), str) and response[key]:
                parts.append(response[key])
        for key in ("exit_code", "exitCode", "returnCode", "code"):
            value = response.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                code = value
                break
    elif isinstance(response, str):
        parts.append(response)
    error = payload.get("error")
    if payload.get("hook_event_name") == "PostToolUseFailure":
        text = error if isinstance(error, str) else ""
        m = _EXIT_CODE.match(text)
        if m:
            code = int(m.group(1))
            text = text[m.end() :].lstrip("\n")
        elif payload.get("is_interrupt"):
            code = None  # stopped by the person: the outcome was not seen
        if text:
            parts.append(text)
    elif code is None:
        code = 0  # PostToolUse fires for a tool call that succeeded
    output = "\n".join(parts)
    if len(output) > OUTPUT_LIMIT:
        half = OUTPUT_LIMIT // 2
        output = output[:half] + "\n…\n" + output[-half:]
    return code, output


def _session_ref(cfg: HookConfig, payload: dict[str, Any]) -> dict[str, Any]:
    current = config.current_session(cfg)
    if current:
        return {"session_id": current["session_id"]}
    sid = payload.get("session_id")
    return {"session": f"claude:{sid}"[:255]} if isinstance(sid, str) and sid else {}


def _context(event: str, text: str) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}


# --------------------------------------------------------------------------------------------
# What the agent reads


def deny_reason(result: dict[str, Any]) -> str:
    """What the agent reads when a command is stopped: what failed, where, when, what worked."""
    lines = [f"MSP Mode stopped this command: {result.get('reason', '').strip()}"]
    suggestions = [s for s in result.get("suggestions") or [] if isinstance(s, str)]
    if suggestions:
        lines.append("What worked instead (run this):")
        lines.extend(f"  {s}" for s in suggestions[:3])
    else:
        lines.append("No fix was recorded yet: try another way, and it will be learned when it works.")
    if result.get("pattern_ids"):
        lines.append(f"(msp patterns explain {result['pattern_ids'][0]} tells why.)")
    return "\n".join(lines)


def warn_reason(result: dict[str, Any]) -> str:
    """A warning, given as a deny of the first attempt so it reaches the agent before the
    command runs; the identical command sent again in the same session is let through."""
    lines = [f"MSP Mode warning (not run yet): {result.get('reason', '').strip()}"]
    suggestions = [s for s in result.get("suggestions") or [] if isinstance(s, str)]
    if suggestions:
        lines.append("What worked there: " + " | ".join(suggestions[:3]))
    lines.append("If you still mean to run it, send the identical command again: it will run.")
    return "\n".join(lines)


def verdict_output(result: Any) -> tuple[dict[str, Any] | None, bool]:
    """(the PreToolUse answer for a pre-check result, whether it is a warning)."""
    if not isinstance(result, dict):
        return None, False
    verdict = result.get("verdict")
    if verdict == "block":
        return deny(deny_reason(result)), False
    if verdict == "warn":
        return deny(warn_reason(result)), True
    return None, False


def deny(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }


# --------------------------------------------------------------------------------------------
# Degraded: the pre-check from the saved index


def index_usable(cfg: HookConfig) -> bool:
    """Whether the service's index is there for a pre-check without it, of this code, and —
    for an SQLite database, which a hook can read — up to date with it (an import or records
    made while the service was down are not in it until the service has started)."""
    path = index.index_path(cfg.home, config.database_label(cfg.database_url, cfg.home))
    if not index.usable_at(path):
        return False
    database = None if cfg.team else cfg.sqlite_path
    return database is None or index.current_at(path, database)


def local_check(cfg: HookConfig, host: str | None, command: str, client: Any = None) -> dict[str, Any] | None:
    """The pre-check from the index the service keeps (``index.py``); None: allow with nothing
    to say, or no index yet."""
    path = index.index_path(cfg.home, config.database_label(cfg.database_url, cfg.home))
    if not os.path.exists(path):
        return None
    try:
        reader = index.Reader(path)
    except Exception:  # a damaged index: the service rewrites it when it starts
        return None
    try:
        if not reader.usable() or not reader.may_match(command):
            return None
        from mspmode.engine.memory import HostScope
        from mspmode.engine.precheck import check

        scope = HostScope(client=client) if isinstance(client, str) else None
        return check(reader.memory(), host, command, scope).to_dict()
    finally:
        reader.close()


# --------------------------------------------------------------------------------------------
# Saving sessions: queued by Stop/SessionEnd (fast), saved by the next SessionStart


def queue_session(cfg: HookConfig, payload: dict[str, Any]) -> None:
    sid = payload.get("session_id")
    transcript = payload.get("transcript_path")
    if not isinstance(sid, str) or not sid or not isinstance(transcript, str) or not transcript:
        return None
    from pathlib import Path

    folder = Path(cfg.home) / QUEUE_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", sid)[:100] + ".json"
    entry = {
        "session_id": sid,
        "transcript_path": transcript,
        "cwd": payload.get("cwd"),
        "event": payload.get("hook_event_name"),
        "reason": payload.get("reason"),
        "queued_at": time.time(),
        "current_session": config.current_session(cfg) or None,
    }
    tmp = folder / f".{name}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(entry, f)
    os.replace(tmp, folder / name)
    return None


def queued_transcripts(folder: Path) -> Iterator[tuple[Path, dict[str, Any], list[str]]]:
    """Each session queued in ``folder`` with its transcript's lines (the caller removes the
    entry once it is sent or saved); an entry whose transcript cannot be read is dropped."""
    from pathlib import Path

    for path in sorted(folder.glob("*.json")):
        if path.name == SAVED_FILE:
            continue
        entry = config.read_json(path)
        try:
            lines = Path(entry["transcript_path"]).read_text(encoding="utf-8", errors="replace").splitlines()
        except (KeyError, OSError, TypeError):
            path.unlink(missing_ok=True)
            continue
        yield path, entry, lines


def take_queued(cfg: HookConfig) -> tuple[list[Any], list[dict[str, Any]]]:
    """The sessions Stop/SessionEnd queued, to send with SessionStart: (their files, what to
    send: the entry and the transcript's last lines)."""
    from pathlib import Path

    folder = Path(cfg.home) / QUEUE_DIR
    if not folder.is_dir():
        return [], []
    paths, sent = [], []
    for path, entry, lines in queued_transcripts(folder):
        paths.append(path)
        sent.append({**entry, "lines": [line for line in lines if line.strip()][-TRANSCRIPT_LINES:]})
    return paths, sent


# --------------------------------------------------------------------------------------------
# The client: every event goes to the service; what happens when it cannot be asked


def _extras(cfg: HookConfig, event: str) -> dict[str, Any]:
    """What only this machine knows, sent beside the event."""
    extra: dict[str, Any] = {"current_session": config.current_session(cfg) or None, "at": time.time()}
    if cfg.mcp_servers:
        extra["mcp_servers"] = list(cfg.mcp_servers)
    return extra


def ask(
    cfg: HookConfig, event: str, body: dict[str, Any], *, wait: float = 0.0, restarted: bool = False
) -> dict[str, Any]:
    """The service's answer to one event. A local service that is not running is started
    (and waited for up to ``wait`` seconds); one of other code is asked to stop and a new one
    started (unless ``restarted``: this hook asked for it already), and waited for likewise.
    Raises ``service.Unavailable`` when it cannot answer now (``service.OtherCode`` when the
    service of other code is still the one running)."""
    try:
        answer = service.request(cfg, "POST", f"/api/hooks/{event}", body)
    except service.OtherCode:
        if not restarted:
            _restart(cfg)
        if wait <= 0:
            raise
        # Until the old service is gone and the new one warm, the old one's files say "other
        # code": polled as any other not-yet-ready service.
        service.wait_ready(cfg, wait)
        answer = service.request(cfg, "POST", f"/api/hooks/{event}", body)
    except service.Unavailable:
        if cfg.team:
            if wait <= 0:
                raise
            return _ask_team_until(cfg, event, body, time.monotonic() + wait)
        started = service.ensure_started(cfg)
        if wait <= 0 or not (started or service.running(cfg.home)):
            raise
        service.wait_ready(cfg, wait)
        answer = service.request(cfg, "POST", f"/api/hooks/{event}", body)
    if not isinstance(answer, dict):
        raise service.Unavailable(f"{event}: the service's answer is not an object")
    return answer


def _ask_team_until(cfg: HookConfig, event: str, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Ask the team server again until ``deadline``: restarting, it opens its socket only once
    it has loaded what it learned. A 4xx answer is not asked again."""
    while True:
        time.sleep(0.2)
        left = deadline - time.monotonic()
        if left <= 0:
            raise service.Unavailable(f"{event}: the team server did not answer in time")
        try:
            answer = service.request(
                cfg, "POST", f"/api/hooks/{event}", body, timeout=max(0.5, min(cfg.timeout, left))
            )
        except service.Refused:
            raise
        except service.Unavailable:
            continue
        if not isinstance(answer, dict):
            raise service.Unavailable(f"{event}: the service's answer is not an object")
        return answer


def _restart(cfg: HookConfig) -> None:
    service.ask_stop(cfg.home)
    if service.database_present(cfg):
        service.spawn(cfg, replace=True)


def handle(cfg: HookConfig, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to print for one event."""
    sid = payload.get("session_id")
    if event in ("Stop", "SessionEnd"):
        queue_session(cfg, payload)
        if event == "SessionEnd":
            service.forget_session(cfg, sid)
        return None
    found = None
    if event in ("PreToolUse", "PostToolUse", "PostToolUseFailure"):
        found = shell_command(payload, cfg.mcp_servers)
        if found is None:
            return None  # not a shell command, or one of MSP Mode's own tools
        if event == "PreToolUse" and service.was_warned(cfg, sid, found[0]):
            return None  # warned before in this session, and sent again: the agent's choice
    if event == "UserPromptSubmit" and not str(payload.get("prompt") or "").strip():
        return None
    body = dict(payload)
    body["msp"] = _extras(cfg, event)
    sent: list[Any] = []
    if event == "SessionStart":
        sent, body["msp"]["queued"] = take_queued(cfg)
    try:
        try:
            answer = ask(cfg, event, body, wait=SESSION_START_WAIT if event == "SessionStart" else 0.0)
        except service.Unavailable as first:
            if event != "PreToolUse" or isinstance(first, service.Refused):
                raise
            if cfg.team:
                # No index of a team's database on this machine: the command waits for the
                # server (restarting, warming) rather than run unchecked — once per Claude
                # session, so a server that stays down does not hold up every command.
                if service.degraded_before(cfg, sid):
                    raise
            elif index_usable(cfg):
                raise
            # No index to check against (the first start, or one written by other code): a
            # known failure would run unchecked, so the command waits for the service instead
            # (the replacement the first ask already asked for, when other code was running).
            restarted = isinstance(first, service.OtherCode)
            answer = ask(cfg, event, body, wait=PRE_TOOL_WAIT, restarted=restarted)
    except service.Unavailable as exc:
        return degraded(cfg, event, payload, found, str(exc), at=body["msp"]["at"])
    for path in sent:
        path.unlink(missing_ok=True)
    if answer.get("warned") and found is not None:
        service.remember_warned(cfg, sid, found[0])
    hook = answer.get("hook")
    return hook if isinstance(hook, dict) and hook else None


DEGRADED = (
    "MSP Mode is degraded ({why}). Known failures are still stopped from its saved index; "
    "what runs is kept in a journal under MSP_HOME and learned when its service is back; "
    "context recall is off until then. `msp local-service status` tells more."
)


def degraded(
    cfg: HookConfig,
    event: str,
    payload: dict[str, Any],
    found: tuple[str, str | None] | None,
    why: str,
    *,
    at: float | None = None,
) -> dict[str, Any] | None:
    """The answer without the service: the pre-check from the index, the command journaled,
    and the agent told (once per Claude session; hook.log says why, once too). ``at`` is the
    time stamp the service was sent: a service that stored the command, then died before it
    answered, has it under that stamp, and the replay of the journal skips it."""
    out: dict[str, Any] | None = None
    if event == "PreToolUse" and found is not None:
        current = config.current_session(cfg)
        result = local_check(cfg, found[1], found[0], current.get("client_id"))
        out, warned = verdict_output(result)
        if warned:
            service.remember_warned(cfg, payload.get("session_id"), found[0])
        if out is not None and result is not None:
            # Kept like the service's own verdicts (what was stopped today), once it replays.
            kept = {
                k: result.get(k)
                for k in ("host", "command", "verdict", "confidence", "reason", "pattern_ids")
            }
            kept.update(
                kind="verdict", client=current.get("client_id"), at=at if at is not None else time.time()
            )
            service.journal_append(cfg, kept)
    elif event in ("PostToolUse", "PostToolUseFailure") and found is not None:
        code, output = outcome(payload)
        item: dict[str, Any] = {
            "command": found[0],
            "host": found[1],
            "exit_code": code,
            "output": output or None,
            "at": at if at is not None else time.time(),
            "cwd": payload.get("cwd"),
            **_session_ref(cfg, payload),
        }
        service.journal_append(cfg, item)
    if event in config.ASYNC_EVENTS:
        return out  # its answer is not read: the next PreToolUse tells the agent
    if not service.first_degraded(cfg, payload.get("session_id")):
        return out
    # The database the hooks were installed for is gone: said as it is, never created empty.
    missing = config.missing_database(cfg)
    config.log(cfg, event, missing or f"degraded: {why}")
    short = why.split(":")[0] if len(why) > 120 else why
    notice = missing or DEGRADED.format(why=short)
    if out is not None:
        spec = out["hookSpecificOutput"]
        spec["permissionDecisionReason"] += "\n" + notice
        return out
    return _context(event, notice)
