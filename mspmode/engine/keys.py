"""The culprit keys a command contains: what the pre-check and the learning look up patterns
by (``cmd:systemctl``, ``opt:sed:-i``, ``sub:docker:0:compose``, ``op:&&``, ``syn:add``) —
every key of a command (:func:`command_keys`), and those of the parts its success proves
(:func:`proven_keys`). ``culprit`` gives a failure's culprit the key these would find.
"""

from __future__ import annotations

import re

from mspmode.engine.lazyre import lazy
from mspmode.engine.tokenize import CMD, OP, OPEN, POSIX, POWERSHELL, REDIR, SQL, WORD, Script, Segment, Token

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "INFO_OPTIONS",
    "MAX_POSITIONAL_COUNT",
    "MAX_SUBCOMMAND_ORDINAL",
    "command_keys",
    "effective_user",
    "expansion_shapes",
    "family",
    "info_only",
    "is_option",
    "lower_dialect",
    "option_keys",
    "positionals",
    "proven_keys",
    "punctuation_only",
    "scripts_of",
]

MAX_SUBCOMMAND_ORDINAL = 2  # sub:prog:N keys for the first three positional words
MAX_POSITIONAL_COUNT = 6  # pos:prog:N keys: "it has an argument at position N"

# Options that only ask a program about itself: such a call is no use of it (``pg_dump
# --version`` works where ``pg_dump`` against a newer server fails).
INFO_OPTIONS = frozenset({"--version", "-version", "-v", "--help", "-help", "-h", "/?", "-?", "version"})

# Wrappers that run the command as another account, and the option naming it (``sudo -u``).
_USER_WRAPPERS = {"sudo": ("-u", "--user"), "doas": ("-u",), "runuser": ("-u",), "su": ()}
_PS_OPERATOR = lazy(
    r"""^-(?:eq|ne|gt|ge|lt|le|like|notlike|match|notmatch|contains|notcontains|in|notin|replace
    |split|join|is|isnot|as|band|bor|bxor|bnot|shl|shr|and|or|xor|not|f)$""",
    re.IGNORECASE | re.VERBOSE,
)
_NEGATIVE_NUMBER = lazy(r"^-[\d.,]+$")
_PUNCT_ONLY = lazy(r"^[^\w\s'\"]{1,6}$")
_EXPANSION = lazy(r"\$\{(?P<pre>[#!]?)[A-Za-z_]\w{0,100}(?P<op>[^}\w][^}]{0,200})?\}")


def scripts_of(script: Script) -> list[Script]:
    """The script and every same-host script nested in it (bash -c, powershell -Command …)."""
    return [script, *(n.script for n in script.nested if n.host is None)]


def lower_dialect(dialect: str) -> bool:
    return dialect in (POWERSHELL, CMD, SQL)


def option_keys(word: Token, dialect: str) -> list[str]:
    """The option spellings a word stands for: ``-la`` is ``-la``, ``-l`` and ``-a``; ``-w0``
    is ``-w0`` and ``-w`` (a value attached); ``--color=auto`` is ``--color`` (and itself);
    ``--printf`` and ``-printf`` stand for each other (tools differ in how many dashes a long
    option takes); ``-Name:x`` is ``-name``; ``/A:H`` is ``/a:h`` and ``/a``."""
    t = word.text
    if dialect in (POWERSHELL, CMD):
        low = t.lower()
        head = low.split(":", 1)[0]
        return [low] if head == low else [low, head]
    if t.startswith("--"):
        name, eq, _value = t.partition("=")
        out = [name, name[1:]] if len(name) > 3 else [name]
        return [*out, t] if eq else out
    body = t[1:]
    if body.isalpha() and len(body) > 1:
        return [t, "-" + t, *("-" + ch for ch in dict.fromkeys(body))]
    if len(body) > 1 and body[0].isalpha() and not body[1].isalpha():
        return [t, t[:2]]  # -w0, -n5, -j4: a one-letter option with its value attached
    return [t]


# Programs that read a dashless first argument as option letters (BSD-style ``ps ax``, ``tar
# xzf``): BusyBox's ps refuses the letter by name ("invalid option -- 'a'").
DASHLESS_OPTIONS: frozenset[str] = frozenset({"ps", "tar"})


def dashless_keys(segment: Segment, word: Token) -> list[str]:
    """The option letters ``word`` stands for when it is such a program's dashless first
    argument (``ps aux`` is ``-a``, ``-u``, ``-x``); none otherwise."""
    args = segment.args
    if segment.program not in DASHLESS_OPTIONS or not args or args[0] is not word:
        return []
    t = word.text
    if word.kind != WORD or not t.isalpha() or not t.islower() or len(t) > 8:
        return []
    return ["-" + ch for ch in dict.fromkeys(t)]


def is_option(word: Token, dialect: str) -> bool:
    t = word.text
    if len(t) < 2 or word.kind != WORD or t[0] in "'\"`":
        return False  # (a quoted value after the option's name, --date='30 days ago', is still one)
    if t[0] == "-":
        return not _NEGATIVE_NUMBER.match(t)
    return dialect == CMD and t[0] == "/" and "/" not in t[1:] and "\\" not in t and len(t) <= 16


def positionals(segment: Segment) -> list[Token]:
    """The arguments that are no option. In PowerShell a word after ``-Name`` is that
    parameter's value (most parameters take one), not an argument by position."""
    out: list[Token] = []
    options_done = False
    value_next = False
    for w in segment.args:
        if w.kind != WORD:
            continue
        if not options_done and w.text == "--":
            options_done = True
            continue
        if not options_done and is_option(w, segment.dialect):
            value_next = segment.dialect == POWERSHELL and ":" not in w.text
            continue
        if value_next:
            value_next = False
            continue
        out.append(w)
    return out


def _segment_keys(seg: Segment, keys: set[str]) -> None:
    at = "@" + seg.where if seg.where else ""  # a command run in a container is that container's
    for name, words in seg.wrapper_words:
        keys.add(f"cmd:{name}{at}")
        for w in words[1:]:
            if is_option(w, seg.dialect):
                keys.update(f"opt:{name}:{k}{at}" for k in option_keys(w, seg.dialect))
                if w.text.startswith("--") and seg.dialect == POSIX:
                    keys.add(f"opt:{name}:--*{at}")  # xargs --null: a wrapper's long option
    prog = seg.program
    if prog is None:
        if seg.dialect == POWERSHELL:
            # An expression's operators (-in, -notin, -shl…): Windows PowerShell 2.0 lacks some.
            keys.update(
                "op:" + w.text.lower() for w in seg.words if _PS_OPERATOR.match(w.text) and not w.quoted
            )
        return
    if not (seg.wrapper_words and seg.wrapper_words[-1][1][-1].text == "-m"):
        keys.add(f"cmd:{prog}{at}")  # (python3 -m pip runs a module: no program looked up on PATH)
    args = seg.args
    for i, w in enumerate(args):
        if w.text == "--":
            keys.add(f"opt:{prog}:--{at}")
            break
        if is_option(w, seg.dialect):
            keys.update(f"opt:{prog}:{k}{at}" for k in option_keys(w, seg.dialect))
            if w.text.startswith("--") and seg.dialect == POSIX:
                keys.add(f"opt:{prog}:--*{at}")  # it has some long option (BSD tools take none)
            if seg.dialect == POWERSHELL and i + 1 < len(args) and not is_option(args[i + 1], seg.dialect):
                # -Encoding utf8NoBOM: a value an older version's ValidateSet lacks
                keys.add(f"opt:{prog}:{w.text.lower()}={args[i + 1].value.lower()}{at}")
    if seg.args and seg.dialect == POSIX:
        keys.update(f"opt:{prog}:{k}{at}" for k in dashless_keys(seg, seg.args[0]))
    found = positionals(seg)
    for ordinal, w in enumerate(found[: MAX_SUBCOMMAND_ORDINAL + 1]):
        keys.add(f"sub:{prog}:{ordinal}:{w.value.lower()}{at}")
    for ordinal in range(min(len(found), MAX_POSITIONAL_COUNT)):
        keys.add(f"pos:{prog}:{ordinal}{at}")  # it has an argument at this position
    fam = family(prog)
    if fam != prog:
        # pip3 is pip, python3.12 is python: a use or a verb of one is one of the other
        keys.update(
            f"sub:{fam}:{o}:{w.value.lower()}{at}" for o, w in enumerate(found[: MAX_SUBCOMMAND_ORDINAL + 1])
        )
    if not info_only(seg):
        verb = found[0].value.lower() if found and found[0] is _first_arg(seg) else ""
        user = effective_user(seg)
        for name in {prog, fam}:
            keys.add(f"use:{name}{at}")
            keys.add(f"perm:{name}{'@' + user if user else ''}{at}")
            if verb:
                keys.add(f"perm:{name}:{verb}{'@' + user if user else ''}{at}")


def _token_keys(script: Script, keys: set[str]) -> None:
    for tok in script.tokens:
        if (tok.kind in (OP, REDIR) and tok.text != "\n") or (
            tok.kind == OPEN and tok.text in ("<(", ">(", "$(", "@(", "@{")
        ):
            keys.add("op:" + tok.text)
        elif tok.kind == WORD:
            if not tok.quoted and punctuation_only(tok.text):
                keys.add("op:" + tok.text)
            if tok.value[:1].isalnum():
                keys.add("syn:" + tok.value.lower())
            if "${" in tok.text:
                keys.update("syn:" + shape for shape in expansion_shapes(tok.text))


def command_keys(script: Script) -> frozenset[str]:
    """Every culprit key the command contains (with its same-host nested scripts)."""
    return _memoized(script, "keys", script.segments)


def proven_keys(script: Script) -> frozenset[str]:
    """Keys of the parts of a successful command that certainly ran and succeeded.

    With ``a; b``, ``a | b`` (POSIX) or ``a || b`` an exit status of 0 says nothing about ``a``,
    so only the segments whose success the status proves count as evidence against a pattern.
    """
    cached = script.memo.get("proven")
    if isinstance(cached, frozenset):
        return cached
    if any(t.kind == OP and t.text == "||" for sub in scripts_of(script) for t in sub.tokens):
        script.memo["proven"] = frozenset()
        return frozenset()
    proved = [
        seg
        for seg in script.segments
        if seg.after in ("", "&&", "\n") or (seg.after == "|" and seg.dialect == POWERSHELL)
    ]
    return _memoized(script, "proven", proved)


def _memoized(script: Script, name: str, segments: Iterable[Segment]) -> frozenset[str]:
    """The keys of ``segments`` and of the script's own tokens, kept in ``script.memo[name]``."""
    cached = script.memo.get(name)
    if isinstance(cached, frozenset):
        return cached
    keys: set[str] = set()
    for seg in segments:
        _segment_keys(seg, keys)
    for sub in scripts_of(script):
        _token_keys(sub, keys)
    result = frozenset(keys)
    script.memo[name] = result
    return result


def _first_arg(seg: Segment) -> Token | None:
    args = [w for w in seg.args if w.kind == WORD]
    return args[0] if args else None


# Programs that are another program with its verb (Chocolatey's shims): one program to the rules
# that tell failures apart by program. (shortcut → the program it runs)
SHORTCUTS: dict[str, str] = {
    "cinst": "choco",  # choco install
    "cup": "choco",  # choco upgrade
    "cuninst": "choco",  # choco uninstall
    "clist": "choco",  # choco list
}


def family(program: str) -> str:
    """A program's name without the version it carries (``pip3``, ``python3.12``, ``php7.4``)."""
    base = program.rstrip("0123456789.")
    return base if len(base) >= 2 and base != program and not base.endswith(("-", "_")) else program


def info_only(seg: Segment) -> bool:
    """Whether the command only asks its program for its version or help."""
    words = [w.text.lower() for w in seg.args if w.kind == WORD]
    return bool(words) and all(w in INFO_OPTIONS for w in words)


def effective_user(seg: Segment) -> str:
    """The account a segment runs as, when a wrapper changes it (``root`` for a bare ``sudo``,
    the named one for ``sudo -u x``); "" for the account that ran the command line."""
    user = ""
    for name, words in seg.wrapper_words:
        if name not in _USER_WRAPPERS:
            continue
        user = "root"
        flags = _USER_WRAPPERS[name]
        texts = [w.value for w in words[1:]]
        for i, t in enumerate(texts):
            if t in flags and i + 1 < len(texts):
                user = texts[i + 1].lower()
            elif any(t.startswith(f + "=") for f in flags if f.startswith("--")):
                user = t.split("=", 1)[1].lower()
    return user


def punctuation_only(text: str) -> bool:
    """A word of one to six punctuation characters: an operator the lexer does not know."""
    return _PUNCT_ONLY.match(text) is not None


def expansion_shapes(word: str) -> list[str]:
    """The operators of the ``${…}`` expansions in ``word`` (``${x:-y}`` is ``${:-}``)."""
    return [shape for m in _EXPANSION.finditer(word) if (shape := _expansion_shape(m))]


def _expansion_shape(m: re.Match[str]) -> str:
    if m.group("pre") == "!":
        return "${!}"
    op = m.group("op") or ""
    if not op or op[0].isalnum() or op[0].isspace():
        return ""
    # Operators are one character, doubled (// ,, ^^ ## %%) or ':' with one of -=?+.
    if len(op) > 1 and (op[1] == op[0] or (op[0] == ":" and op[1] in "-=?+")):
        return "${" + op[:2] + "}"
    return "${" + op[0] + "}"
