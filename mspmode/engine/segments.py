"""Simple commands: which word is the program (past grammar words, assignments and same-host
wrappers such as ``sudo`` or ``env``), its options, and the segments a token stream splits into."""

from __future__ import annotations

import re

from mspmode.engine.lazyre import lazy
from mspmode.engine.tokens import (
    CLOSE,
    CMD,
    OP,
    OPEN,
    POSIX,
    POWERSHELL,
    PUNCT,
    REDIR,
    SQL,
    WORD,
    Segment,
    Token,
)

_EXTENSIONS = (".exe", ".com", ".bat", ".cmd")


def normalize_program(word: str) -> str:
    """A program name as the index knows it: no directory, no Windows extension, lower case."""
    name = word.strip().strip("'\"")
    name = re.split(r"[\\/]", name)[-1] if ("/" in name or "\\" in name) and name not in ("/", "\\") else name
    low = name.lower()
    for ext in _EXTENSIONS:
        if low.endswith(ext) and len(low) > len(ext):
            low = low[: -len(ext)]
            break
    return low


# Grammar words of the shells, not commands: a statement that starts with one of them has its
# program further on (if, then, !) or has none (for, case, function).
_POSIX_SKIP = frozenset(
    {"!", "{", "}", "if", "then", "elif", "else", "fi", "do", "done", "while", "until", "time"}
)
_POSIX_NONE = frozenset({"for", "case", "esac", "select", "in", "function", ";;", "coproc"})
_PS_KEYWORDS = frozenset(
    {
        "if",
        "elseif",
        "else",
        "foreach",
        "for",
        "while",
        "do",
        "until",
        "switch",
        "function",
        "filter",
        "param",
        "begin",
        "process",
        "end",
        "try",
        "catch",
        "finally",
        "return",
        "throw",
        "trap",
        "break",
        "continue",
        "exit",
        "class",
        "enum",
        "data",
        "using",
        "workflow",
        "dynamicparam",
    }
)
_PYTHON = lazy(r"^(?:python|py)[\d.]*$")
_PS_ASSIGN = frozenset({"=", "+=", "-=", "*=", "/=", "??="})
_ASSIGNMENT = lazy(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_NUMBERISH = lazy(r"^[-+]?\d[\d.,]*$")


def _split_segments(tokens: tuple[Token, ...], dialect: str) -> list[tuple[list[Token], str]]:
    """Top-level simple commands (tokens at the lowest depth among them) with the operator after."""
    out: list[tuple[list[Token], str]] = []
    cur: list[Token] = []
    base = min((t.depth for t in tokens), default=0)
    for tok in tokens:
        if tok.kind == OP and tok.depth == base:
            if dialect == SQL and tok.text != ";":
                cur.append(tok)
                continue
            out.append((cur, tok.text))
            cur = []
            continue
        cur.append(tok)
    out.append((cur, ""))
    return [(seg, op) for seg, op in out if seg]


def _inner_groups(seg: list[Token]) -> list[tuple[Token, ...]]:
    """The token runs inside each outermost bracket pair of a segment ({ … }, ( … ), $( … ))."""
    groups: list[tuple[Token, ...]] = []
    base = min((t.depth for t in seg), default=0)
    start = -1
    for idx, tok in enumerate(seg):
        if tok.kind == OPEN and tok.depth == base:
            start = idx
        elif tok.kind == CLOSE and tok.depth == base and start >= 0:
            if idx > start + 1:
                groups.append(tuple(seg[start + 1 : idx]))
            start = -1
    if start >= 0 and start + 1 < len(seg):
        groups.append(tuple(seg[start + 1 :]))
    return groups


def _words(top: list[Token], dialect: str) -> list[Token]:
    """Word tokens of a simple command, without redirections and their targets."""
    words: list[Token] = []
    skip_next = False
    for tok in top:
        if skip_next:
            skip_next = False
            if tok.kind == WORD:
                continue
        if tok.kind == REDIR:
            # 2>&1 carries its target; > file and <<EOF take the next word.
            skip_next = not tok.text.endswith("&1") and not tok.text.endswith("&2")
            continue
        if tok.kind in (WORD, PUNCT) or (tok.kind == OPEN and dialect == SQL):
            words.append(tok)
    return words


def _substitutions(word: str) -> list[str]:
    subs: list[str] = []
    i = 0
    while True:
        j = word.find("$(", i)
        k = word.find("`", i)
        if j < 0 and k < 0:
            break
        if j >= 0 and (k < 0 or j < k):
            if word.startswith("$((", j):
                i = j + 3
                continue
            level, m = 1, j + 2
            while m < len(word) and level:
                level += {"(": 1, ")": -1}.get(word[m], 0)
                m += 1
            subs.append(word[j + 2 : m - 1] if level == 0 else word[j + 2 :])
            i = m
        else:
            e = word.find("`", k + 1)
            if e < 0:
                break
            subs.append(word[k + 1 : e])
            i = e + 1
    return [s for s in subs if s.strip()][:4]


# Same-host wrappers: they run the command that follows them, on the same machine. The numbers
# are how many words each option that takes a value consumes.
_SAME_HOST_WRAPPERS: dict[str, dict[str, int]] = {
    "sudo": {
        "-u": 1,
        "-g": 1,
        "-h": 1,
        "-p": 1,
        "-C": 1,
        "-D": 1,
        "-r": 1,
        "-t": 1,
        "-U": 1,
        "-T": 1,
        "--user": 1,
        "--group": 1,
    },
    "doas": {"-u": 1, "-C": 1},
    "env": {"-u": 1, "--unset": 1, "-C": 1, "--chdir": 1, "-S": 0},
    "nohup": {},
    "nice": {"-n": 1, "--adjustment": 1},
    "ionice": {"-c": 1, "-n": 1, "-p": 1},
    "time": {"-f": 1, "-o": 1},
    "timeout": {"-s": 1, "--signal": 1, "-k": 1, "--kill-after": 1},
    "stdbuf": {"-i": 1, "-o": 1, "-e": 1},
    "exec": {"-a": 1},
    "xargs": {"-I": 1, "-n": 1, "-P": 1, "-d": 1, "-L": 1, "-s": 1, "-E": 1, "-a": 1},
    "busybox": {},
    "command": {},
    "builtin": {},
    "chroot": {},
    "runuser": {"-u": 1, "-g": 1, "-l": 1},
    "caffeinate": {"-t": 1, "-w": 1},
    "strace": {"-o": 1, "-e": 1, "-p": 1, "-s": 1},
    "flock": {"-w": 1, "-E": 1},
    "unbuffer": {},
    "torsocks": {},
    "proxychains": {"-f": 1},
}
# Wrappers whose first positional word is theirs, not the command's (timeout DURATION, chroot DIR).
_WRAPPER_POSITIONALS = {"timeout": 1, "chroot": 1, "flock": 1}


def _make_segment(words: list[Token], dialect: str, after: str, depth: int) -> Segment:
    words = list(words)
    if dialect == CMD and words:
        words = _split_cmd_program(words)
    at = _program_index(words, dialect)
    wrappers: list[str] = []
    wrapper_words: list[tuple[str, tuple[Token, ...]]] = []
    if at >= 0 and dialect in (POSIX, CMD, POWERSHELL):
        while True:
            name = normalize_program(words[at].value)
            if _PYTHON.match(name) and at + 2 < len(words) and words[at + 1].text == "-m":
                # python3 -m pip install …: the module is the program that runs
                wrappers.append(name)
                wrapper_words.append((name, tuple(words[at : at + 2])))
                at += 2
                break
            spec = _SAME_HOST_WRAPPERS.get(name) if dialect == POSIX or name == "sudo" else None
            if spec is None or (name in ("command", "builtin") and _is_lookup(words, at)):
                break
            nxt = _skip_wrapper_options(words, at, spec, _WRAPPER_POSITIONALS.get(name, 0))
            if nxt is None:
                break
            wrappers.append(name)
            wrapper_words.append((name, tuple(words[at:nxt])))
            at = nxt
            while at < len(words) and dialect == POSIX and _ASSIGNMENT.match(words[at].text):
                at += 1
            if at >= len(words):
                at = -1
                break
    program = normalize_program(words[at].value) if at >= 0 else None
    if program == "" or program is None:
        program, at = None, -1
    return Segment(
        words=tuple(words),
        program=program,
        program_at=at,
        wrappers=tuple(wrappers),
        wrapper_words=tuple(wrapper_words),
        after=after,
        depth=depth,
        dialect=dialect,
    )


def _is_lookup(words: list[Token], at: int) -> bool:
    # `command -v x` asks whether x exists; it does not run it.
    return any(w.text in ("-v", "-V") for w in words[at + 1 : at + 3])


def _skip_wrapper_options(words: list[Token], at: int, spec: dict[str, int], positionals: int) -> int | None:
    i = at + 1
    while i < len(words):
        w = words[i].text
        if w == "--":
            i += 1
            break
        if w.startswith("-") and len(w) > 1 and not words[i].quoted:
            i += 1 + spec.get(w, 0)
            continue
        if _ASSIGNMENT.match(w):
            i += 1
            continue
        break
    i += positionals
    return i if i < len(words) else None


def _program_index(words: list[Token], dialect: str) -> int:
    i = 0
    if dialect == POSIX:
        while i < len(words):
            w = words[i]
            low = w.text.lower() if not w.quoted else ""
            if low in _POSIX_SKIP:
                i += 1
                continue
            if low in _POSIX_NONE:
                return -1
            if _ASSIGNMENT.match(w.text) and not w.text.startswith("="):
                i += 1
                continue
            break
        if i >= len(words):
            return -1
        if i + 1 < len(words) and words[i + 1].text == "()":
            return -1  # function definition
        return i
    if dialect == POWERSHELL:
        if not words:
            return -1
        first = words[0]
        low = first.text.lower()
        if len(words) > 2 and words[1].text in _PS_ASSIGN and low.startswith("$"):
            # $x = Get-Thing …: the pipeline on the right runs a command.
            rest = _program_index(words[2:], dialect)
            return rest + 2 if rest >= 0 else -1
        if first.kind != WORD or low in _PS_KEYWORDS:
            return -1
        if low in ("&", ".") and len(words) > 1:
            return 1
        if first.quoted or first.text.startswith(("$", "@", "[", "'", '"')) or _NUMBERISH.match(first.text):
            return -1
        if first.text.startswith(".") and not first.text.startswith((".\\", "./", "..\\", "../")):
            return -1  # (…).Member: a property of what the group gave, not a command
        if ".." in first.text and first.text.replace(".", "").lstrip("-").isdigit():
            return -1
        if len(words) > 1 and words[1].text in _PS_ASSIGN:
            return -1
        return 0
    if dialect == CMD:
        while i < len(words) and words[i].text.lower() in ("@", "@echo"):
            i += 1
        return i if i < len(words) else -1
    if dialect == SQL:
        return 0 if words and words[0].kind == WORD and not words[0].quoted else -1
    return 0 if words else -1


def _split_cmd_program(words: list[Token]) -> list[Token]:
    """cmd.exe reads ``dir/w`` as ``dir /w`` and ``@echo`` as ``echo``: split the first word."""
    first = words[0]
    text = first.text
    if text.startswith("@") and len(text) > 1:
        first = Token(
            text[1:], first.value.lstrip("@"), WORD, first.start + 1, first.end, first.quoted, first.depth
        )
        text = first.text
    m = re.match(r"^([A-Za-z][\w.-]*)(/.*)$", text)
    if m and not first.quoted and ":" not in m.group(1):
        head, tail = m.group(1), m.group(2)
        cut = first.start + len(head)
        return [
            Token(head, head, WORD, first.start, cut, False, first.depth),
            Token(tail, tail, WORD, cut, first.end, False, first.depth),
            *words[1:],
        ]
    return [first, *words[1:]]


def _cmd_statement_body(segment: Segment) -> list[Token]:
    """The command an IF or FOR statement runs (what follows the condition or DO)."""
    words = list(segment.words)
    if segment.program == "for":
        for idx, w in enumerate(words):
            if w.text.lower() == "do":
                return words[idx + 1 :]
        return []
    i = segment.program_at + 1
    while i < len(words) and (words[i].text.startswith("/") or words[i].text.lower() == "not"):
        i += 1
    if i >= len(words):
        return []
    first = words[i].text.lower()
    if first in ("exist", "errorlevel", "defined", "cmdextversion"):
        i += 2
    elif "==" in words[i].text and not words[i].text.endswith("=="):
        i += 1
    elif (i + 1 < len(words) and words[i + 1].text in ("==",)) or (
        i + 1 < len(words) and words[i + 1].text.lower() in ("equ", "neq", "lss", "leq", "gtr", "geq")
    ):
        i += 3
    else:
        i += 1
    return words[i:] if i < len(words) else []
