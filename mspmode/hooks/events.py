"""What each Claude Code hook event does. Every handler takes the configuration and the event's
JSON and returns the JSON to print (or None: nothing to say). Errors propagate to
:func:`mspmode.hooks.main.main`, which logs them and lets the agent go on.

Local mode reads the pre-check index with ``sqlite3`` (``index.py``) and leaves every write —
recording a command, saving a session, rebuilding the index — to a short-lived ``msp`` process
it waits for (``python -m mspmode hooks …``, the normal services path, learning included), so
nothing is left running when a hook returns. Team mode sends the same requests to ``msp serve``
with ``urllib``.

Warnings: a ``warn`` verdict (the command failed on hosts *like* this one, not on it) becomes
``additionalContext`` for the agent, not ``"ask"``: asking would stop the session for a person
to read a hint the agent can act on itself. ``block`` is ``permissionDecision: "deny"``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

from mspmode.hooks import config, index

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
SUBPROCESS_TIMEOUT = {"record": 25.0, "sync": 10.0, "context": 25.0}
SYNC_BACKOFF = 300.0  # seconds between two rebuilds of the index after one failed
TEAM_TRANSCRIPT_LINES = 20_000  # the tail of a very long session is what matters
OUTPUT_LIMIT = 64 * 1024  # what a hook passes on of a tool's output (the store keeps head and tail)


# --------------------------------------------------------------------------------------------
# Reading the event


def shell_command(payload: dict[str, Any]) -> tuple[str, str | None] | None:
    """(command, host named by the tool) for a shell tool call, else None."""
    tool = payload.get("tool_name")
    tool_input = payload.get("tool_input")
    if not isinstance(tool, str) or not SHELL_TOOL.search(tool) or not isinstance(tool_input, dict):
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
# Talking to the full stack: a short-lived msp process, or the team server


def run_msp(cfg: HookConfig, verb: str, request: dict[str, Any]) -> dict[str, Any]:
    """``python -m mspmode hooks VERB`` with ``request`` on stdin; its JSON answer. Waited for
    (so nothing outlives the hook) and killed at its time limit."""
    import subprocess

    env = dict(os.environ, MSP_HOME=str(cfg.home))
    if cfg.database_url:
        env["MSP_DATABASE_URL"] = cfg.database_url
    proc = subprocess.run(
        [sys.executable, "-m", "mspmode", "hooks", verb],
        input=json.dumps(request).encode(),
        capture_output=True,
        env=env,
        timeout=SUBPROCESS_TIMEOUT[verb],
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"msp hooks {verb} exited {proc.returncode}: {err[-1] if err else ''}")
    out = proc.stdout.decode(errors="replace").strip()
    data = json.loads(out) if out else {}
    return data if isinstance(data, dict) else {}


def call_server(cfg: HookConfig, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One request to the team server with the API key; its JSON answer (None for a 404)."""
    import urllib.error
    import urllib.request  # here: 10 ms of imports the local pre-check does not need

    url = (cfg.server or "").rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    key = cfg.api_key()
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise RuntimeError(f"{method} {path}: HTTP {exc.code}") from None
    return json.loads(raw) if raw else None


# --------------------------------------------------------------------------------------------
# Pre-check


def local_check(cfg: HookConfig, host: str | None, command: str) -> dict[str, Any] | None:
    """The pre-check from the index (built first when there is none); None: allow with
    nothing to say."""
    db = cfg.sqlite_path
    path = index.index_path(cfg.home, config.database_label(cfg.database_url, cfg.home))
    if db is not None and not os.path.exists(db):
        return None  # nothing recorded yet
    reader = _open_index(path)
    if reader is None or not reader.usable():
        # Rebuilt only when there is none: a stale one still knows all it knew, and the next
        # PostToolUse (or SessionStart) brings it up to date without stalling a tool call.
        reader = _sync(cfg, path, reader)
        if reader is None:
            return None
    try:
        if not reader.may_match(command):
            return None
        from mspmode.engine.memory import HostScope
        from mspmode.engine.precheck import check

        # The running session's client's host first, as when the command is recorded.
        client = config.current_session(cfg).get("client_id")
        scope = HostScope(client=client) if isinstance(client, str) else None
        return check(reader.memory(), host, command, scope).to_dict()
    finally:
        reader.close()


def _sync(cfg: HookConfig, path: str, reader: index.Reader | None) -> index.Reader | None:
    """Build the index before answering. After a build that failed or ran out of time the
    hooks allow without one and try again only after ``SYNC_BACKOFF`` seconds, so a slow
    database stalls one tool call, not every one."""
    if reader is not None:
        reader.close()
    marker = path + ".sync-failed"
    try:
        if time.time() - os.stat(marker).st_mtime < SYNC_BACKOFF:
            return None
    except OSError:
        pass
    try:
        run_msp(cfg, "sync", {})
    except Exception as exc:
        os.makedirs(os.path.dirname(marker), mode=0o700, exist_ok=True)
        with open(marker, "a"):
            pass
        config.log(cfg, "PreToolUse", f"index rebuild failed: {exc}")
    else:
        try:  # noqa: SIM105 - contextlib costs a hook 2 ms of imports
            os.unlink(marker)
        except FileNotFoundError:
            pass
    fresh = _open_index(path)
    return fresh if fresh is not None and fresh.usable() else None


def _open_index(path: str) -> index.Reader | None:
    if not os.path.exists(path):
        return None
    try:
        return index.Reader(path)
    except Exception:  # a damaged index is rebuilt
        return None


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


def pre_tool_use(cfg: HookConfig, payload: dict[str, Any]) -> dict[str, Any] | None:
    found = shell_command(payload)
    if found is None:
        return None
    command, host = found
    if cfg.team:
        body = {"host": host, "command": command, **_session_ref(cfg, payload)}
        result = call_server(cfg, "POST", "/api/check", body)
    else:
        result = local_check(cfg, host, command)
    if not isinstance(result, dict):
        return None
    verdict = result.get("verdict")
    if verdict == "block":
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": deny_reason(result),
            }
        }
    if verdict == "warn":
        text = f"MSP Mode warning for this command: {result.get('reason', '').strip()}"
        if result.get("suggestions"):
            text += "\nWhat worked there: " + " | ".join(result["suggestions"][:3])
        return _context("PreToolUse", text)
    return None


# --------------------------------------------------------------------------------------------
# Recording what ran


def post_tool_use(cfg: HookConfig, payload: dict[str, Any]) -> dict[str, Any] | None:
    found = shell_command(payload)
    if found is None:
        return None
    command, host = found
    code, output = outcome(payload)
    item: dict[str, Any] = {"command": command, "exit_code": code, "output": output or None, "host": host}
    item.update(_session_ref(cfg, payload))
    if cfg.team:
        answer = call_server(cfg, "POST", "/api/commands", item) or {}
        answer["new_pattern"] = (answer.get("learned") or {}).get("new_pattern")
        hint = answer.get("hint")
    else:
        answer = run_msp(cfg, "record", {"command": item, "cwd": payload.get("cwd")})
        hint = answer.get("hint")
    event = str(payload.get("hook_event_name") or "PostToolUse")
    if answer.get("queued"):
        return _context(
            event,
            "MSP Mode kept this command but could not learn from it in time: its learning state "
            "must be rebuilt once. Ask the user to run `msp hooks sync`.",
        )
    if not isinstance(hint, dict) or code in (0, None):
        return None
    if hint.get("retry"):
        return _context(
            event, f"MSP Mode: {hint.get('reason', '')} This failure is transient: retrying may work."
        )
    known = hint.get("verdict") in ("block", "warn") and not answer.get("new_pattern")
    if hint.get("suggestions") or known:
        text = f"MSP Mode recognises this failure: {hint.get('reason', '')}"
        if hint.get("suggestions"):
            text += "\nWhat worked instead: " + " | ".join(hint["suggestions"][:3])
        return _context(event, text)
    return None


# --------------------------------------------------------------------------------------------
# Recall


def session_start(cfg: HookConfig, payload: dict[str, Any]) -> dict[str, Any] | None:
    request = {
        "cwd": payload.get("cwd"),
        "source": payload.get("source"),
        "session_id": payload.get("session_id"),
        "query": "",
    }
    if cfg.team:
        drain_queue_team(cfg)
        markdown = recall_from_server(cfg, request)
    else:
        markdown = run_msp(cfg, "context", request).get("markdown")
    return _context("SessionStart", markdown) if isinstance(markdown, str) and markdown.strip() else None


def user_prompt_submit(cfg: HookConfig, payload: dict[str, Any]) -> dict[str, Any] | None:
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    if cfg.team:
        markdown = recall_from_server(cfg, {"cwd": payload.get("cwd"), "query": prompt[:2000]})
    else:
        markdown = prompt_facts(cfg, prompt)
    return _context("UserPromptSubmit", markdown) if markdown else None


def recall_from_server(cfg: HookConfig, request: dict[str, Any]) -> str | None:
    from urllib.parse import urlencode

    params = {"q": request.get("query") or "", "budget": 1500}
    answer = call_server(cfg, "GET", "/api/recall?" + urlencode(params))
    markdown = answer.get("markdown") if isinstance(answer, dict) else None
    return markdown if isinstance(markdown, str) else None


def prompt_facts(cfg: HookConfig, prompt: str, budget_tokens: int = 600) -> str | None:
    """What failed on the hosts the prompt names, from the index alone (no process, no
    engine import unless a host is named)."""
    path = index.index_path(cfg.home, config.database_label(cfg.database_url, cfg.home))
    reader = _open_index(path)
    if reader is None:
        return None
    try:
        if not reader.usable():
            return None
        keys = reader.host_keys_in(prompt)[:5]
        if not keys:
            return None
        mem = reader.memory()
        from mspmode.engine.recall import Candidate, RecallQuery, recall

        candidates = []
        for key in keys:
            name = mem.display_name(key) or key
            for p in reader.patterns_on(key):
                ev = p.hosts.get(key)
                what = p.failure_description or p.root_cause
                body = f"`{ev.last_command if ev else ''}` failed on {name}: {what}"
                if p.workaround_commands:
                    body += f" What worked: `{p.workaround_commands[0]}`."
                candidates.append(
                    recall_candidate(Candidate, p, name, body, ev.last_seen if ev else p.last_seen)
                )
        if not candidates:
            return None
        result = recall(
            candidates,
            RecallQuery(
                query=prompt[:2000],
                hosts=tuple(mem.display_name(k) or k for k in keys),
                budget_tokens=budget_tokens,
            ),
            heading="MSP Mode: known failures on the hosts in this prompt",
        )
        return result.markdown or None
    finally:
        reader.close()


def recall_candidate(candidate: Any, pattern: Any, host: str, body: str, at: Any) -> Any:
    capability = pattern.failure_class not in ("permission_denied", "authentication_failure", "not_found")
    return candidate(
        id=f"pattern:{pattern.id}",
        kind="constraint" if capability else "insight",
        title=pattern.pattern_signature or pattern.failure_class,
        body=body,
        importance=8 if pattern.fix_observed else 6,
        updated_at=at,
        host=host,
        decays=not capability,  # "PowerShell 2.0 has no Get-LocalUser" stays true
    )


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


def drain_queue_team(cfg: HookConfig) -> None:
    """Team mode: send each queued transcript to the server, which compresses and redacts it
    (``POST /api/conversation-contexts/transcript``)."""
    from pathlib import Path

    folder = Path(cfg.home) / QUEUE_DIR
    if not folder.is_dir():
        return
    for path, entry, lines in queued_transcripts(folder):
        lines = [line for line in lines if line.strip()][-TEAM_TRANSCRIPT_LINES:]
        if lines:
            body: dict[str, Any] = {"lines": lines}
            current = entry.get("current_session")
            if isinstance(current, dict) and isinstance(current.get("session_id"), str):
                body["session_id"] = current["session_id"]
            call_server(cfg, "POST", "/api/conversation-contexts/transcript", body)
        path.unlink(missing_ok=True)


def stop(cfg: HookConfig, payload: dict[str, Any]) -> dict[str, Any] | None:
    return queue_session(cfg, payload)


HANDLERS = {
    "PreToolUse": pre_tool_use,
    "PostToolUse": post_tool_use,
    "PostToolUseFailure": post_tool_use,
    "SessionStart": session_start,
    "UserPromptSubmit": user_prompt_submit,
    "Stop": stop,
    "SessionEnd": stop,
}
