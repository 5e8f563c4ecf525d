"""Compression without an LLM: a Claude Code transcript (JSONL) or a long text → a dense summary
that keeps every decision, every command with its result, every error message, file path, host
and credential *name* — and drops the rest (tool output bodies, prose, file contents).

Standard library and ``mspmode.engine`` only, so the Stop/SessionEnd hooks can call it::

    from mspmode.engine.compress import compress_transcript, compress_text, parse_transcript
    c = compress_transcript(open(path).read().splitlines(), redact=redact)   # or lines/dicts
    c.summary            # the dense text to store as a conversation_context
    c.source_tokens, c.compressed_tokens, c.reduction
    c.facts.commands     # [CommandEvent(command, exit_code, result, error, host, tool, at)]
    c.facts.files / .decisions / .errors / .hosts / .credential_names / .prompts / .todos

``redact`` is the caller's secret filter (``mspmode.vault.redact.redact`` — the engine may not
import the vault); every piece of text that reaches the summary passes through it. Without one, a
built-in scrubber still masks the common ``name=value`` / ``-p value`` / bearer shapes. A
credential's *name* (``$env:ACME_ADMIN_PASSWORD``, ``msp cred reveal "DC01 admin"``) is kept.

Nothing here raises on odd input: unreadable lines are skipped and counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mspmode.engine.recall import estimate_tokens
from mspmode.engine.tokenize import guess_dialect, parse, targets

Redactor = Callable[[str], str]

COMMAND_MAX = 400
LINE_MAX = 240
DECISION_MAX = 320
PROMPT_MAX = 200
# Tools whose input is a shell command (Claude Code's Bash, and PowerShell / MCP shell tools).
SHELL_TOOLS = re.compile(r"(?i)^(bash|powershell|pwsh|shell|cmd|terminal)$|(?i:__(run|exec|shell|bash|ssh))")
# MSP Mode's own MCP tools (the server as the README and the plugin name it): their answers are
# what MSP Mode said, not something that happened in the session.
OWN_TOOLS = re.compile(r"^mcp__msp__")
FILE_TOOLS = {
    "Edit": "edited",
    "MultiEdit": "edited",
    "Write": "written",
    "Read": "read",
    "NotebookEdit": "edited",
}

# Lines that report a failure. Ordered guards: the words, then the shapes tools print.
_ERROR_LINE = re.compile(
    r"""(?ix)
    \b(error|errors|failed|failure|fatal|denied|refused|unable|cannot|can't|couldn't|could\ not
       |not\ recognized|not\ found|no\ such|invalid|exception|timed\ out|timeout|unreachable
       |forbidden|unauthorized|panic|traceback|segmentation\ fault|abort(ed)?
       |unrecogni[sz]ed|unknown|illegal|unsupported|not\ supported|missing|usage)\b
    | ^E:\  | ^ERR!? | \bexit(ed)?\ (code|status)\ [1-9]
    """
)
# A sentence that records a choice. Guards: first person plural/singular choices, imperative
# policy words, and the explicit "Decision:" label agents and people write.
_DECISION = re.compile(
    r"""(?ix)
    \b(decided|decision|we\ will|we'll|i\ will|i'll\ use|going\ with|go\ with|chose|choose|chosen
       |opted|switch(ed)?\ to|instead\ of|rather\ than|from\ now\ on|always\ use|never\ use
       |do\ not\ use|don't\ use|must\ not|should\ not|prefer|standardi[sz]e\ on|agreed|policy)\b
    """
)
_TODO = re.compile(r"(?i)\b(todo|to-do|next step|still need|pending|follow[- ]up|remaining|left to do)\b")
# Text Claude Code wraps into a turn for the model, never said by the person or the assistant.
_REMINDER = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)
# A tool_result that says the call was refused, as Claude Code words it (older versions carry no
# permissionDecision on the record). Guards: a hook's deny, the person's "no", a permission rule.
_DENIAL = re.compile(
    r"""(?ix)
    ^\s*(?:\w+:\S+\s+)?hook\ (?:error|blocking\ error|denied)
    | ^\s*the\ user\ doesn't\ want\ to\ proceed\ with\ this\ tool\ use
    | ^\s*permission\ to\ use\ \S+\ (?:has\ been|was)\ denied
    """
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(])|\n+")
_PATH = re.compile(
    r"""(?x)
    (?<![\w/.:-])
    ( [A-Za-z]:\\[^\s"'<>|,;:*?]+            # C:\Windows\...
    | \\\\[\w.$-]+\\[^\s"'<>|,;]+            # \\SERVER\share\path
    | ~?/(?:[\w.@+-]+/)+[\w.@+-]*             # /etc/nginx/nginx.conf, ~/x/y
    | (?:\.\.?/)[\w.@+/-]+                    # ./relative/path
    )
    """
)
_IPV4 = re.compile(r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])")
# Names that hold a secret: env vars, PowerShell variables, msp cred / vault references.
_CRED_NAME = re.compile(
    r"""(?x)
    (?:\$env:|\$\{?|%)(?P<var>[A-Za-z_][A-Za-z0-9_]*(?:PASS|PASSWD|PASSWORD|PWD|SECRET|TOKEN|APIKEY|API_KEY
        |KEY|CRED|CREDENTIAL)[A-Za-z0-9_]*)\}?%?
    | \bmsp\s+cred(?:entials?)?\s+(?:reveal|show|totp|get)\s+(?P<msp>"[^"]+"|'[^']+'|\S+)
    | \b(?:Get-Credential|Get-StoredCredential|Get-Secret)\s+(?:-\w+\s+)*(?P<ps>"[^"]+"|'[^']+'|[\w.@\\-]+)
    | \bop://(?P<op>[^\s"']+)
    | \b(?:credential|vault\ entry|secret|entry)\s+(?P<quoted>"[^"\n]{1,80}"|'[^'\n]{1,80}')
    | (?P<named>"[^"\n]{1,80}"|'[^'\n]{1,80}')\s+(?:credential|vault\ entry|entry|secret|login)\b
    """,
    re.IGNORECASE,
)
# The built-in scrubber, used only when the caller gives no redactor.
_SCRUB = (
    (
        re.compile(
            r"(?i)(\b[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key)[\w-]*\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
        ),
        r"\1[REDACTED]",
    ),
    (re.compile(r"(?i)(\s-p)(?!\s)(\S+)"), r"\1[REDACTED]"),
    (re.compile(r"(?i)(--password[= ])(\S+)"), r"\1[REDACTED]"),
    (re.compile(r"(?i)(\bbearer\s+)[\w.~+/=-]{8,}"), r"\1[REDACTED]"),
    (re.compile(r"(?i)(convertto-securestring\s+(?:-string\s+)?)(\"[^\"]*\"|'[^']*')"), r"\1[REDACTED]"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1[REDACTED]@"),
)


def scrub(text: str) -> str:
    """A minimal secret filter for callers with no redactor: ``password=…``, ``-pX``,
    ``--password X``, bearer tokens, SecureString literals, URL passwords."""
    for pattern, repl in _SCRUB:
        text = pattern.sub(repl, text)
    return text


@dataclass
class CommandEvent:
    """A command the agent ran and what came of it."""

    command: str
    tool: str = "Bash"
    exit_code: int | None = None
    result: str = ""
    error: str = ""
    output: str = ""
    host: str | None = None
    at: str | None = None
    tool_use_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.exit_code not in (None, 0) or bool(self.error and self.exit_code is None)


@dataclass
class Facts:
    """Everything the summary keeps, as data."""

    session_id: str | None = None
    cwd: str | None = None
    prompts: list[str] = field(default_factory=list)
    commands: list[CommandEvent] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    credential_names: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    skipped_lines: int = 0


@dataclass(frozen=True)
class Compressed:
    summary: str
    source_tokens: int
    compressed_tokens: int
    facts: Facts

    @property
    def reduction(self) -> float:
        """Share of tokens saved, 0.0–1.0."""
        if self.source_tokens <= 0:
            return 0.0
        return max(0.0, 1.0 - self.compressed_tokens / self.source_tokens)


def _add(items: list[str], value: str) -> None:
    value = value.strip()
    if value and value not in items:
        items.append(value)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for block in content:
            if isinstance(block, Mapping):
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    out.append(block["text"])
                elif "content" in block:
                    out.append(_content_text(block["content"]))
            elif isinstance(block, str):
                out.append(block)
        return "\n".join(out)
    return ""


_EXIT = re.compile(r"(?i)\bexit (?:code|status)[: ]+(-?\d+)")


def _exit_code(text: str, is_error: bool) -> int | None:
    m = _EXIT.search(text[:200])
    if m:
        return int(m.group(1))
    return 1 if is_error else 0


_VARIABLE = re.compile(r"0x[0-9a-fA-F]+|\d+")


def error_lines(text: str, limit: int = 5) -> list[str]:
    """The first distinct lines of ``text`` that report a failure (at most ``limit``); lines
    that differ only in numbers (timestamps, ids, counters) count once."""
    out: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if line and _ERROR_LINE.search(line) and not _EXIT.fullmatch(line):
            shape = _VARIABLE.sub("#", line)
            if shape in seen:
                continue
            seen.add(shape)
            _add(out, _clip(line, LINE_MAX))
            if len(out) >= limit:
                break
    return out


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not _EXIT.fullmatch(line.strip()):
            return _clip(line, 120)
    return ""


def hosts_of(command: str) -> list[str]:
    """Hosts a command reaches through a wrapper (ssh, Invoke-Command…), plus literal IPv4s."""
    out: list[str] = []
    try:
        for host, _script, _chain in targets(parse(command, guess_dialect(command))):
            if host:
                _add(out, host)
    except Exception:  # the tokenizer promises not to raise; a summary must not either
        pass
    for ip in _IPV4.findall(command):
        _add(out, ip)
    return out


def credential_names(text: str) -> list[str]:
    """Names under which secrets are referenced in ``text`` — never the secrets."""
    out: list[str] = []
    for m in _CRED_NAME.finditer(text):
        name = next(v for v in m.groupdict().values() if v)
        _add(out, name.strip("\"'"))
    return out


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def _scan_prose(facts: Facts, text: str, red: Redactor) -> None:
    for s in sentences(text):
        if len(s) > 2000:
            continue
        if _DECISION.search(s):
            _add(facts.decisions, _clip(red(s), DECISION_MAX))
        elif _TODO.search(s):
            _add(facts.todos, _clip(red(s), DECISION_MAX))
    for name in credential_names(text):
        _add(facts.credential_names, name)


def _scan_paths(facts: Facts, text: str, action: str = "mentioned") -> None:
    for path in _PATH.findall(text):
        path = path.rstrip(".,)")
        if len(path) > 2 and "://" not in path and path not in facts.files:
            facts.files[path] = action


def _as_record(line: Any) -> Mapping[str, Any] | None:
    if isinstance(line, Mapping):
        return line
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    if not isinstance(line, str) or not line.strip():
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, Mapping) else None


def parse_transcript(
    lines: Iterable[Any], *, redact: Redactor | None = None, known_hosts: Iterable[str] = ()
) -> tuple[Facts, int]:
    """Read Claude Code transcript records (JSON strings or dicts) into :class:`Facts`; also
    returns the estimated tokens of the source. Text kept is redacted; outputs are not kept
    whole, only their result line and error lines. ``known_hosts`` (hostnames, aliases) are
    also looked for as whole words in prompts and prose, where no wrapper names them."""
    red = redact or scrub
    facts = Facts()
    hosts_re = _known_hosts_re(known_hosts)
    pending: dict[str, CommandEvent | None] = {}
    source_chars = 0
    for raw in lines:
        source_chars += len(raw) if isinstance(raw, (str, bytes)) else len(str(raw))
        rec = _as_record(raw)
        if rec is None:
            if isinstance(raw, (str, bytes)) and raw.strip():
                facts.skipped_lines += 1
            continue
        try:
            _read_record(facts, rec, pending, red, hosts_re)
        except Exception:  # a malformed record must not lose the rest of the session
            facts.skipped_lines += 1
    return facts, (source_chars + 3) // 4


def _known_hosts_re(known: Iterable[str]) -> re.Pattern[str] | None:
    names = sorted(
        {h.strip() for h in known if isinstance(h, str) and len(h.strip()) >= 2}, key=len, reverse=True
    )
    if not names:
        return None
    return re.compile(
        r"(?<![\w.-])(" + "|".join(re.escape(n) for n in names[:2000]) + r")(?![\w-])", re.IGNORECASE
    )


def _scan_hosts(facts: Facts, text: str, hosts_re: re.Pattern[str] | None) -> None:
    if hosts_re is not None:
        for m in hosts_re.finditer(text):
            if not any(h.lower() == m.group(1).lower() for h in facts.hosts):
                facts.hosts.append(m.group(1))


def _read_record(
    facts: Facts,
    rec: Mapping[str, Any],
    pending: dict[str, CommandEvent | None],
    red: Redactor,
    hosts_re: re.Pattern[str] | None = None,
) -> None:
    facts.session_id = facts.session_id or _str(rec.get("sessionId") or rec.get("session_id"))
    facts.cwd = facts.cwd or _str(rec.get("cwd"))
    if not _conversation(rec):
        return
    message = rec["message"]
    role = message.get("role")
    content = message.get("content")
    at = _str(rec.get("timestamp"))
    blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        btype = block.get("type")
        text = block.get("text")
        if btype == "text" and isinstance(text, str):
            text = _REMINDER.sub("", text)
            if not text.strip() or (role == "user" and text.lstrip().startswith("<")):
                continue  # Claude Code's own tags (<command-name>, <local-command-stdout>, …)
            if role == "user":
                _add(facts.prompts, _clip(red(text), PROMPT_MAX))
            _scan_prose(facts, text, red)
            _scan_paths(facts, text)
            _scan_hosts(facts, text, hosts_re)
        elif btype == "tool_use" and role == "assistant":
            _tool_use(facts, block, pending, red, at)
            data = block.get("input")
            command = data.get("command") if isinstance(data, Mapping) else None
            if isinstance(command, str):
                _scan_hosts(facts, command, hosts_re)
        elif btype == "tool_result" and role == "user":
            _tool_result(facts, block, rec, pending, red)


def _conversation(rec: Mapping[str, Any]) -> bool:
    """Whether a record is a turn of the conversation: the person's prompt, the assistant's
    reply, a tool's result. Everything else Claude Code writes to a transcript is left out —
    ``role: "system"`` records (its system prompt, the context hooks added, MSP Mode's own
    recall among them), ``api-request-*`` copies of what was sent, attachments, its
    ``isMeta`` and compaction summaries, ``summary`` titles — or a summary would recall Claude
    Code's instructions as decisions and MSP Mode's earlier summaries inside the next one, a
    snowball (issue 16)."""
    message = rec.get("message")
    if not isinstance(message, Mapping):
        return False
    kind = rec.get("type")
    role = message.get("role") or kind
    if role not in ("user", "assistant") or (kind is not None and kind != role):
        return False
    return not (rec.get("isMeta") or rec.get("isCompactSummary") or rec.get("isVisibleInTranscriptOnly"))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _tool_use(
    facts: Facts,
    block: Mapping[str, Any],
    pending: dict[str, CommandEvent | None],
    red: Redactor,
    at: str | None,
) -> None:
    name = _str(block.get("name")) or ""
    if OWN_TOOLS.match(name):
        if tid := _str(block.get("id")):
            pending[tid] = None
        return
    given = block.get("input")
    data: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    command = _str(data.get("command")) or _str(data.get("script"))
    if command and SHELL_TOOLS.search(name):
        hosts = hosts_of(command)
        for h in hosts:
            _add(facts.hosts, h)
        for cred in credential_names(command):
            _add(facts.credential_names, cred)
        _scan_paths(facts, command, "used")
        event = CommandEvent(
            command=_clip(red(command), COMMAND_MAX),
            tool=name,
            host=hosts[0] if hosts else None,
            at=at,
            tool_use_id=_str(block.get("id")),
        )
        facts.commands.append(event)
        if event.tool_use_id:
            pending[event.tool_use_id] = event
        return
    path = _str(data.get("file_path")) or _str(data.get("notebook_path")) or _str(data.get("path"))
    if path:
        action = FILE_TOOLS.get(name, "used")
        if facts.files.get(path) in (None, "read", "mentioned", "used") or action != "read":
            facts.files[path] = action if facts.files.get(path) != "edited" else "edited"
    for text in (v for v in data.values() if isinstance(v, str)):
        for cred in credential_names(text):
            _add(facts.credential_names, cred)


def _tool_result(
    facts: Facts,
    block: Mapping[str, Any],
    rec: Mapping[str, Any],
    pending: dict[str, CommandEvent | None],
    red: Redactor,
) -> None:
    tid = _str(block.get("tool_use_id")) or ""
    if tid in pending and pending[tid] is None:
        del pending[tid]
        return
    event = pending.pop(tid, None)
    text = _content_text(block.get("content"))
    is_error = bool(block.get("is_error"))
    if is_error and _denied(rec, text):
        # Nothing ran: the text is the reason a hook or the person gave (MSP Mode's own deny,
        # with what failed before), not the command's output.
        if event is not None:
            event.result = "not run: denied before it ran"
        return
    extra = rec.get("toolUseResult")
    if isinstance(extra, Mapping):
        stdout, stderr = _str(extra.get("stdout")) or "", _str(extra.get("stderr")) or ""
        if stdout or stderr:
            text = "\n".join(t for t in (text, stderr) if t) if text else f"{stdout}\n{stderr}"
    errors = error_lines(text) if (is_error or _ERROR_LINE.search(text)) else []
    for e in errors:
        _add(facts.errors, red(e))
    if event is None:
        return
    event.exit_code = _exit_code(text, is_error)
    event.output = red(text[:4000])
    if event.failed:
        event.error = red(errors[0]) if errors else _clip(red(_first_line(text)), LINE_MAX)
        event.result = f"exit {event.exit_code}: {event.error}" if event.error else f"exit {event.exit_code}"
    else:
        first = _first_line(text)
        event.result = f"ok: {red(first)}" if first else "ok"


def _denied(rec: Mapping[str, Any], text: str) -> bool:
    """A tool call that never ran: refused by a PreToolUse hook or by the person."""
    decision = rec.get("permissionDecision")
    if rec.get("toolDenialKind") or (
        isinstance(decision, Mapping) and decision.get("decision") in ("reject", "deny")
    ):
        return True
    return bool(_DENIAL.search(text[:300]))


def render(facts: Facts) -> str:
    """The dense summary of ``facts``: one labelled block per kind of fact, nothing else."""
    out: list[str] = []
    head = "Session"
    if facts.session_id:
        head += f" {facts.session_id}"
    if facts.cwd:
        head += f" in {facts.cwd}"
    out.append(head)
    if facts.prompts:
        out.append(
            "Asked: "
            + " | ".join(facts.prompts[:3])
            + (f" (+{len(facts.prompts) - 3})" if len(facts.prompts) > 3 else "")
        )
    if facts.hosts:
        out.append("Hosts: " + ", ".join(facts.hosts))
    if facts.commands:
        out.append("Commands:")
        for c in facts.commands:
            where = f" @{c.host}" if c.host else ""
            out.append(f"- `{c.command}`{where} → {c.result or 'no result'}")
    if facts.errors:
        reported = {c.error for c in facts.commands if c.error}
        extra = [e for e in facts.errors if e not in reported]
        if extra:
            out.append("Errors:")
            out.extend(f"- {e}" for e in extra)
    if facts.files:
        out.append("Files: " + ", ".join(f"{p} ({a})" for p, a in facts.files.items()))
    if facts.decisions:
        out.append("Decisions:")
        out.extend(f"- {d}" for d in facts.decisions)
    if facts.todos:
        out.append("Open:")
        out.extend(f"- {t}" for t in facts.todos)
    if facts.credential_names:
        out.append("Credentials used (names only): " + ", ".join(facts.credential_names))
    return "\n".join(out)


def compress_transcript(
    lines: Iterable[Any], *, redact: Redactor | None = None, known_hosts: Iterable[str] = ()
) -> Compressed:
    """Compress a Claude Code transcript: ``lines`` are its JSONL lines (or parsed dicts).
    Never raises on malformed lines (they are counted in ``facts.skipped_lines``)."""
    facts, source_tokens = parse_transcript(lines, redact=redact, known_hosts=known_hosts)
    summary = render(facts)
    return Compressed(summary, source_tokens, estimate_tokens(summary), facts)


def compress_text(
    text: str, *, redact: Redactor | None = None, known_hosts: Iterable[str] = ()
) -> Compressed:
    """Compress free text (notes, a pasted log, a terminal session): keeps decisions, open
    items, error lines, shell prompts' commands (``$ cmd``, ``PS C:\\> cmd``), paths, hosts and
    credential names."""
    red = redact or scrub
    facts = Facts()
    try:
        _scan_prose(facts, text, red)
        _scan_paths(facts, text)
        for line in text.splitlines():
            m = re.match(r"^\s*(?:\$|#|PS [^>]{0,200}>|[\w.-]+@[\w.-]+:[^$#]{0,200}[$#])\s+(.+)$", line)
            if m:
                cmd = m.group(1)
                facts.commands.append(CommandEvent(command=_clip(red(cmd), COMMAND_MAX), tool="text"))
                for h in hosts_of(cmd):
                    _add(facts.hosts, h)
        for e in error_lines(text, limit=50):
            _add(facts.errors, red(e))
        for ip in _IPV4.findall(text):
            _add(facts.hosts, ip)
        _scan_hosts(facts, text, _known_hosts_re(known_hosts))
    except Exception:  # compression must never fail a hook
        facts.skipped_lines += 1
    summary = render(facts)
    return Compressed(summary, estimate_tokens(text), estimate_tokens(summary), facts)
