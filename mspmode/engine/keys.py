"""The culprit keys a command contains: what the pre-check and the learning look up patterns
by (``cmd:systemctl``, ``opt:sed:-i``, ``sub:docker:0:compose``, ``op:&&``, ``syn:add``) —
every key of a command (:func:`command_keys`), and those of the parts its success proves
(:func:`proven_keys`). ``culprit`` gives a failure's culprit the key these would find.
"""

from __future__ import annotations

import re

from mspmode.engine.lazyre import lazy
from mspmode.engine.tokenize import CMD, OP, OPEN, POWERSHELL, REDIR, SQL, WORD, Script, Segment, Token

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "MAX_SUBCOMMAND_ORDINAL",
    "command_keys",
    "expansion_shapes",
    "is_option",
    "lower_dialect",
    "option_keys",
    "positionals",
    "proven_keys",
    "punctuation_only",
    "scripts_of",
]

MAX_SUBCOMMAND_ORDINAL = 2  # sub:prog:N keys for the first three positional words
_NEGATIVE_NUMBER = lazy(r"^-[\d.,]+$")
_PUNCT_ONLY = lazy(r"^[^\w\s'\"]{1,6}$")
_EXPANSION = lazy(r"\$\{(?P<pre>[#!]?)[A-Za-z_]\w{0,100}(?P<op>[^}\w][^}]{0,200})?\}")


def scripts_of(script: Script) -> list[Script]:
    """The script and every same-host script nested in it (bash -c, powershell -Command …)."""
    return [script, *(n.script for n in script.nested if n.host is None)]


def lower_dialect(dialect: str) -> bool:
    return dialect in (POWERSHELL, CMD, SQL)


def option_keys(word: Token, dialect: str) -> list[str]:
    """The option spellings a word stands for: ``-la`` is ``-la``, ``-l`` and ``-a``;
    ``--color=auto`` is ``--color``; ``-Name:x`` is ``-name``; ``/A:H`` is ``/a:h`` and ``/a``."""
    t = word.text
    if dialect in (POWERSHELL, CMD):
        low = t.lower()
        head = low.split(":", 1)[0]
        return [low] if head == low else [low, head]
    if t.startswith("--"):
        return [t.split("=", 1)[0]]
    body = t[1:]
    if body.isalpha() and len(body) > 1:
        return [t, *("-" + ch for ch in dict.fromkeys(body))]
    return [t]


def is_option(word: Token, dialect: str) -> bool:
    t = word.text
    if word.quoted or len(t) < 2 or word.kind != WORD:
        return False
    if t[0] == "-":
        return not _NEGATIVE_NUMBER.match(t)
    return dialect == CMD and t[0] == "/" and "/" not in t[1:] and "\\" not in t and len(t) <= 16


def positionals(segment: Segment) -> list[Token]:
    out: list[Token] = []
    options_done = False
    for w in segment.args:
        if w.kind != WORD:
            continue
        if not options_done and w.text == "--":
            options_done = True
            continue
        if not options_done and is_option(w, segment.dialect):
            continue
        out.append(w)
    return out


def _segment_keys(seg: Segment, keys: set[str]) -> None:
    for name, words in seg.wrapper_words:
        keys.add("cmd:" + name)
        for w in words[1:]:
            if is_option(w, seg.dialect):
                keys.update(f"opt:{name}:{k}" for k in option_keys(w, seg.dialect))
    prog = seg.program
    if prog is None:
        return
    keys.add("cmd:" + prog)
    for w in seg.args:
        if w.text == "--":
            break
        if is_option(w, seg.dialect):
            keys.update(f"opt:{prog}:{k}" for k in option_keys(w, seg.dialect))
    for ordinal, w in enumerate(positionals(seg)[: MAX_SUBCOMMAND_ORDINAL + 1]):
        keys.add(f"sub:{prog}:{ordinal}:{w.value.lower()}")


def _token_keys(script: Script, keys: set[str]) -> None:
    for tok in script.tokens:
        if (tok.kind in (OP, REDIR) and tok.text != "\n") or (
            tok.kind == OPEN and tok.text in ("<(", ">(", "$(", "@(", "@{")
        ):
            keys.add("op:" + tok.text)
        elif tok.kind == WORD:
            if not tok.quoted and punctuation_only(tok.text):
                keys.add("op:" + tok.text)
            if tok.value[:1].isalpha():
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
