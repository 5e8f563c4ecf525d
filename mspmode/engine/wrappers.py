"""Looking through wrappers: the script inside ``bash -c``, ``powershell -Command``, ``cmd /c``,
``mysql -e``, and the host and script of ``ssh``, ``Invoke-Command -ComputerName``,
``Enter-PSSession``, ``psexec \\\\H`` and ``winrs -r:H`` — each with the span of the text it came
from, so an adapted command can be written back into its wrapper."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from mspmode.engine.struct import struct
from mspmode.engine.tokens import (
    CMD,
    MAX_DEPTH,
    POSIX,
    POWERSHELL,
    PUNCT,
    SQL,
    WORD,
    Nested,
    Script,
    Segment,
    Token,
)


@struct
class _Ctx:
    dialect_of_host: Callable[[str], str | None] | None
    depth: int
    parse: Callable[..., Script]  # tokenize.parse: nested scripts are parsed like any other


_SCRIPT_SHELLS = frozenset({"bash", "sh", "zsh", "ash", "dash", "ksh", "mksh", "fish"})
_PS_HOSTS = frozenset({"powershell", "pwsh", "powershell_ise"})


def _wrapped(
    segment: Segment,
    dialect: str,
    text: str,
    ctx: _Ctx,
    segments: list[Segment],
    nested: list[Nested],
    depth: int,
) -> None:
    if segment.program is None or ctx.depth + depth >= MAX_DEPTH:
        return
    found = _find_nested(segment, dialect, text, ctx)
    for item in found:
        nested.append(item)
        if item.host is None and item.where:
            # The client's own words end where the container's command begins.
            if segments and segments[-1] is segment:
                inner = item.script.segments[0].words[0].start if item.script.segments else -1
                cut = tuple(w for w in segment.words if w.end <= item.start) if inner >= 0 else segment.words
                segments[-1] = _with(segment, words=cut)
            segments.extend(_with(s, where=item.where) for s in item.script.segments)
            nested.extend(item.script.nested)
        elif item.host is None:
            segments.extend(item.script.segments)
            nested.extend(item.script.nested)


def _with(seg: Segment, *, words: tuple[Token, ...] | None = None, where: str | None = None) -> Segment:
    return Segment(
        words=seg.words if words is None else words,
        program=seg.program,
        program_at=seg.program_at,
        wrappers=seg.wrappers,
        wrapper_words=seg.wrapper_words,
        after=seg.after,
        depth=seg.depth,
        dialect=seg.dialect,
        where=seg.where if where is None else where,
    )


def _find_nested(segment: Segment, dialect: str, text: str, ctx: _Ctx) -> list[Nested]:
    prog = segment.program or ""
    args = list(segment.args)
    sub_depth = ctx.depth + segment.depth + 1

    def sub(script_text: str, sub_dialect: str | None) -> Script:
        return ctx.parse(script_text, sub_dialect, dialect_of_host=ctx.dialect_of_host, _depth=sub_depth)

    def from_tokens(
        toks: list[Token], wrapper: str, sub_dialect: str | None, host: str | None
    ) -> Nested | None:
        if not toks:
            return None
        if len(toks) == 1 and toks[0].quoted:
            tok = toks[0]
            quote = tok.text[0] if tok.text[:1] in ("'", '"') and tok.text[-1:] == tok.text[:1] else ""
            if quote:
                return Nested(sub(tok.value, sub_dialect), wrapper, tok.start, tok.end, quote, host)
            return Nested(sub(tok.value, sub_dialect), wrapper, tok.start, tok.end, "", host)
        start, end = toks[0].start, toks[-1].end
        if len(toks) == 1 and not toks[0].quoted:
            return Nested(sub(toks[0].value, sub_dialect), wrapper, start, end, "", host)
        raw = text[start:end] if 0 <= start < end <= len(text) else " ".join(t.value for t in toks)
        if any(t.quoted for t in toks):
            # ssh joins its arguments with spaces and the remote shell reads them again.
            joined = " ".join(t.value for t in toks)
            return Nested(sub(joined, sub_dialect), wrapper, start, end, "", host)
        return Nested(sub(raw, sub_dialect), wrapper, start, end, "", host)

    # bash -c 'script', sh -lc "…", su -c '…'
    if (
        prog in _SCRIPT_SHELLS
        or prog == "su"
        or (prog == "busybox" and args and args[0].value in ("sh", "ash"))
    ):
        for idx, w in enumerate(args):
            t = w.text
            if t.startswith("-") and not t.startswith("--") and "c" in t[1:] and idx + 1 < len(args):
                item = from_tokens([args[idx + 1]], prog, POSIX, None)
                return [item] if item else []
            if not t.startswith("-"):
                break
        return []
    if prog in _PS_HOSTS:
        return _powershell_host(args, prog, from_tokens)
    if prog == "cmd" and dialect in (CMD, POWERSHELL, POSIX):
        for idx, w in enumerate(args):
            if w.text.lower() in ("/c", "/k", "/s/c", "/q/c"):
                item = from_tokens(args[idx + 1 :], prog, CMD, None)
                return [item] if item else []
        return []
    if prog in ("mysql", "mariadb", "psql", "sqlite3", "sqlcmd", "isql", "osql"):
        return _sql_client(prog, args, from_tokens, ctx)
    if prog == "ssh":
        return _ssh(args, from_tokens, ctx)
    if dialect == POWERSHELL and prog in ("invoke-command", "icm"):
        return _invoke_command(args, segment, text, ctx, sub)
    if dialect == POWERSHELL and prog in ("enter-pssession", "etsn"):
        hosts = _ps_param_values(args, ("-computername", "-cn", "-hostname"), positional=True)
        return [Nested(sub("", POWERSHELL), prog, 0, 0, "", h) for h in hosts[:1]]
    if prog in _CONTAINER_CLIENTS:
        item = _container(prog, args, text, sub)
        return [item] if item else []
    if prog in ("psexec", "psexec64", "paexec"):
        return _psexec(args, from_tokens, ctx)
    if prog == "winrs":
        host = None
        rest: list[Token] = []
        for idx, w in enumerate(args):
            low = w.value.lower()
            if low.startswith(("-r:", "/r:", "-remote:", "/remote:")):
                host = w.value.split(":", 1)[1]
                continue
            if w.value.startswith(("-", "/")):
                continue
            rest = args[idx:]
            break
        if host:
            item = from_tokens(rest, prog, _host_dialect(ctx, host) or CMD, host)
            return [item] if item else [Nested(sub("", CMD), prog, 0, 0, "", host)]
    return []


def _host_dialect(ctx: _Ctx, host: str) -> str | None:
    if ctx.dialect_of_host is None:
        return None
    try:
        return ctx.dialect_of_host(host)
    except Exception:  # a resolver bug must not break parsing
        return None


_SSH_VALUE_OPTS = frozenset("bcDEeFIiJLlmOopQRSWw")

# Container clients: the verbs that run a command inside a container, and the options of each
# that take a value (the word after them is not the container). ``-it`` and friends take none.
_CONTAINER_CLIENTS = frozenset(
    {"docker", "podman", "docker-compose", "podman-compose", "kubectl", "oc", "nerdctl"}
)
_RUN_VERBS = {"exec": "ctr", "run": "img"}
_CLIENT_GLOBALS = frozenset(
    {"-f", "--file", "-p", "--project-name", "--env-file", "-H", "--host", "--context", "-c", "--config",
     "--project-directory", "--profile", "-n", "--namespace", "--kubeconfig", "--cluster", "--log-level"}
)  # fmt: skip
_VALUE_OPTIONS = frozenset(
    {"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys", "-v", "--volume",
     "-p", "--publish", "--name", "--network", "--net", "--entrypoint", "-m", "--memory", "--cpus",
     "--mount", "-l", "--label", "-h", "--hostname", "--add-host", "--device", "--gpus", "--runtime",
     "--restart", "--log-driver", "--platform", "--shm-size", "--ulimit", "--cap-add", "--cap-drop",
     "--security-opt", "--tmpfs", "--dns", "--pull", "--ipc", "--pid", "--cidfile", "--stop-signal",
     "-c", "--container", "-n", "--namespace", "-f", "--filename", "--context", "--kubeconfig",
     "--pod-running-timeout", "--index", "--link", "--expose", "--group-add", "--ip", "--mac-address"}
)  # fmt: skip


def _container(
    prog: str, args: list[Token], text: str, sub: Callable[[str, str | None], Script]
) -> Nested | None:
    """``docker exec [opts] NAME cmd…``, ``docker run [opts] IMAGE cmd…``, ``docker compose
    exec|run [opts] SERVICE cmd…`` and ``kubectl exec [opts] POD [--] cmd…``: the command run
    inside, with where it runs (``ctr:NAME``, ``img:IMAGE``, ``svc:SERVICE``, ``pod:POD``)."""
    i = 0
    words = [a.value for a in args]
    compose = prog.endswith("-compose")
    while i < len(words) and words[i].startswith("-"):  # global options
        i += 2 if words[i] in _CLIENT_GLOBALS else 1
    if i < len(words) and words[i] == "compose" and not compose:
        compose = True
        i += 1
        while i < len(words) and words[i].startswith("-"):
            i += 2 if words[i] in _CLIENT_GLOBALS else 1
    if i < len(words) and words[i] == "container" and not compose:
        i += 1  # docker container exec
    verb = words[i] if i < len(words) else ""
    if verb not in _RUN_VERBS or (prog in ("kubectl", "oc") and verb != "exec"):
        return None
    kind = "svc" if compose else ("pod" if prog in ("kubectl", "oc") else _RUN_VERBS[verb])
    i += 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        i += 2 if words[i] in _VALUE_OPTIONS else 1
    if i >= len(words) or words[i] == "--":
        return None
    name = words[i]
    i += 1
    if i < len(words) and words[i] == "--":
        i += 1
    if i >= len(args):
        return None
    # The client hands the words over as they are (no shell reads them again): the raw text.
    start, end = args[i].start, args[-1].end
    if not 0 <= start < end <= len(text):
        return None
    return Nested(sub(text[start:end], POSIX), f"{prog} {verb}", start, end, "", None, f"{kind}:{name}")


def _ssh(args: list[Token], from_tokens: Callable[..., Nested | None], ctx: _Ctx) -> list[Nested]:
    user = None
    idx = 0
    while idx < len(args):
        t = args[idx].text
        if t == "--":
            idx += 1
            break
        if t.startswith("-") and len(t) > 1:
            letters = t[1:]
            for pos, ch in enumerate(letters):
                if ch in _SSH_VALUE_OPTS:
                    value_inline = letters[pos + 1 :]
                    if not value_inline:
                        idx += 1
                        value = args[idx].value if idx < len(args) else ""
                    else:
                        value = value_inline
                    if ch == "l":
                        user = value
                    break
            idx += 1
            continue
        break
    if idx >= len(args):
        return []
    dest = args[idx].value
    host = _host_from_destination(dest)
    del user
    if not host:
        return []
    rest = args[idx + 1 :]
    dialect = _host_dialect(ctx, host)
    item = from_tokens(rest, "ssh", dialect, host)
    if item is None:
        empty = ctx.parse("", dialect or POSIX, dialect_of_host=ctx.dialect_of_host, _depth=MAX_DEPTH)
        return [Nested(empty, "ssh", args[idx].end, args[idx].end, "", host)]
    return [item]


def _host_from_destination(dest: str) -> str:
    d = dest.strip()
    if d.startswith("ssh://"):
        d = d[6:]
    if "@" in d:
        d = d.rsplit("@", 1)[1]
    if d.startswith("["):
        d = d[1:].split("]", 1)[0]
    elif d.count(":") == 1:
        d = d.split(":", 1)[0]
    d = d.rstrip("/")
    return d if re.match(r"^[\w.:-]+$", d) else ""


def _ps_param_values(args: list[Token], names: tuple[str, ...], positional: bool = False) -> list[str]:
    """Values of a PowerShell parameter given by name (prefix-abbreviated) or first positional."""
    values: list[str] = []
    i = 0
    while i < len(args):
        w = args[i]
        low = w.text.lower()
        name, _, inline = low.partition(":")
        if name.startswith("-") and len(name) > 2 and any(n.startswith(name) for n in names):
            if inline:
                values.extend(v for v in re.split(r"\s*,\s*", w.value.split(":", 1)[1]) if v)
                return values
            i += 1
            while i < len(args):
                if args[i].kind == PUNCT:
                    i += 1
                    continue
                if args[i].text.startswith("-") or args[i].kind != WORD:
                    break
                values.extend(v for v in args[i].value.split(",") if v)
                i += 1
                if i < len(args) and args[i].kind != PUNCT:
                    break
            return values
        i += 1
    if positional:
        for w in args:
            if w.kind == WORD and not w.text.startswith("-"):
                return [w.value]
    return values


def _invoke_command(
    args: list[Token], segment: Segment, text: str, ctx: _Ctx, sub: Callable[[str, str | None], Script]
) -> list[Nested]:
    hosts = _ps_param_values(args, ("-computername", "-cn", "-hostname"))
    block = None
    # The script block is the text between the segment's outermost braces.
    words = segment.words
    if words:
        start = words[0].start
        seg_end = max(w.end for w in words)
        j = text.find("{", start)
        if j >= 0:
            level, k = 0, j
            while k < len(text):
                if text[k] == "{":
                    level += 1
                elif text[k] == "}":
                    level -= 1
                    if level == 0:
                        break
                k += 1
            if k > seg_end + 10_000:
                k = len(text)
            block = (j + 1, min(k, len(text)))
    if block is None:
        return []
    inner_text = text[block[0] : block[1]]
    out: list[Nested] = []
    named: list[str | None] = list(hosts) if hosts else [None]
    for h in named:
        out.append(Nested(sub(inner_text, POWERSHELL), "invoke-command", block[0], block[1], "", h))
    return out


def _powershell_host(args: list[Token], prog: str, from_tokens: Callable[..., Nested | None]) -> list[Nested]:
    i = 0
    while i < len(args):
        low = args[i].text.lower()
        if low in ("-command", "-c", "-com", "-comm", "-comma", "-comman"):
            item = from_tokens(args[i + 1 :], prog, POWERSHELL, None)
            return [item] if item else []
        if low in ("-encodedcommand", "-enc", "-e", "-ec") and i + 1 < len(args):
            decoded = _decode_ps(args[i + 1].value)
            if decoded is None:
                return []
            tok = args[i + 1]
            nested = from_tokens(
                [Token(decoded, decoded, WORD, tok.start, tok.end, False)], prog, POWERSHELL, None
            )
            return [nested] if nested else []
        if low in ("-file", "-f"):
            return []
        if low.startswith("-"):
            # -NoProfile, -ExecutionPolicy Bypass …: skip a value that is not itself a parameter.
            takes_value = low in ("-executionpolicy", "-ep", "-ex", "-windowstyle", "-w", "-version", "-v")
            i += 2 if takes_value else 1
            continue
        item = from_tokens(args[i:], prog, POWERSHELL, None)
        return [item] if item else []
    return []


def _decode_ps(value: str) -> str | None:
    try:
        raw = base64.b64decode(value, validate=True)
        return raw.decode("utf-16-le")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _sql_client(
    prog: str, args: list[Token], from_tokens: Callable[..., Nested | None], ctx: _Ctx
) -> list[Nested]:
    host = None
    script: list[Token] = []
    i = 0
    flags: dict[str, tuple[str, ...]] = {
        "mysql": ("-e", "--execute"),
        "mariadb": ("-e", "--execute"),
        "psql": ("-c", "--command"),
        "sqlcmd": ("-q", "-Q"),
        "isql": ("-q",),
        "osql": ("-q", "-Q"),
    }
    while i < len(args):
        t = args[i].text
        if t in ("-h", "--host", "-S") and i + 1 < len(args):
            host = args[i + 1].value
            i += 2
            continue
        if t.startswith("--host="):
            host = t.split("=", 1)[1]
        if t in flags.get(prog, ()) and i + 1 < len(args):
            script = [args[i + 1]]
            break
        for f in flags.get(prog, ()):
            if f.startswith("--") and t.startswith(f + "="):
                script = [
                    Token(t, args[i].value.split("=", 1)[1], WORD, args[i].start, args[i].end, args[i].quoted)
                ]
        i += 1
    if prog == "sqlite3" and not script:
        positional = [a for a in args if not a.text.startswith("-")]
        if len(positional) >= 2:
            script = [positional[1]]
    if not script:
        return []
    if host and (host.startswith("127.") or host.lower() in ("localhost", "::1")):
        host = None
    item = from_tokens(script, prog, SQL, host if host and _host_dialect(ctx, host) else None)
    return [item] if item else []


def _psexec(args: list[Token], from_tokens: Callable[..., Nested | None], ctx: _Ctx) -> list[Nested]:
    host = None
    i = 0
    value_opts = {"-u", "-p", "-w", "-n", "-r", "-a", "-c", "-g"}
    while i < len(args):
        t = args[i].value
        if t.startswith("\\\\") and host is None:
            host = t.lstrip("\\").split("\\", 1)[0].split(",")[0]
            i += 1
            continue
        if t.startswith("-") or t.startswith("/"):
            i += 2 if t.lower() in value_opts and t.lower() != "-c" else 1
            continue
        break
    if not host:
        return []
    rest = args[i:]
    item = from_tokens(rest, "psexec", CMD, host)
    return [item] if item else []


# --------------------------------------------------------------------------------------------
# Walking a parsed script
