"""Shell-aware tokenising: split a command the way its shell would, then find the simple commands
in it and look through wrappers to what really runs, and where.

Four dialects share one token model:

* ``posix`` — sh, bash, zsh, ash/BusyBox, dash, ksh: quotes, ``$( )``, ``<( )``, heredocs,
  redirections with file descriptors, reserved words, ``NAME=value`` prefixes.
* ``powershell`` — Windows PowerShell 2.0–5.1 and PowerShell 7: ``-Parameter``, script blocks,
  ``$( )``/``@( )``, here-strings, the call operator ``&``, ``&&``/``||`` (7 only, but we tokenise
  them so the culprit can be named).
* ``cmd`` — cmd.exe and COMMAND.COM: ``/switch``, ``^`` escapes, ``IF``/``FOR`` with a nested command.
* ``sql`` — statements separated by ``;``, strings, quoted identifiers, comments.

A command is never rejected: an unterminated quote or bracket still yields tokens (``ok`` is
then False) so that matching can go on over what was understood and over the raw text.

Wrappers are looked through in two ways. Same-host wrappers (``sudo``, ``env``, ``nohup``,
``timeout``, ``busybox``…) stay in the segment's ``wrappers`` while ``program`` is what they run;
script wrappers (``bash -c``, ``sh -c``, ``powershell -Command``, ``cmd /c``, ``mysql -e``) and
host wrappers (``ssh``, ``Invoke-Command -ComputerName``, ``Enter-PSSession``, ``psexec \\\\H``,
``winrs -r:H``) give a nested :class:`Script`, with the span of the text it came from so that an
adapted command can be written back into the original wrapper.

The parts, one module each: ``tokens`` (the token model and the dialects), ``lex_posix``,
``lex_powershell``, ``lex_cmd`` and ``lex_sql`` (the lexers), ``segments`` (simple commands and
their programs), ``wrappers`` (nested scripts and their hosts). This module puts them together
and is the one the rest of the engine imports.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from mspmode.engine.lex_cmd import lex_cmd
from mspmode.engine.lex_posix import lex_posix
from mspmode.engine.lex_powershell import lex_powershell
from mspmode.engine.lex_sql import lex_sql
from mspmode.engine.segments import (
    _cmd_statement_body,
    _inner_groups,
    _make_segment,
    _split_segments,
    _substitutions,
    _words,
    normalize_program,
)
from mspmode.engine.tokens import (
    CLOSE,
    CMD,
    DIALECTS,
    MAX_DEPTH,
    MAX_TOKENS,
    OP,
    OPEN,
    POSIX,
    POWERSHELL,
    PUNCT,
    REDIR,
    SQL,
    WORD,
    Lexer,
    Nested,
    Script,
    Segment,
    Token,
    dialect_for_shell,
    guess_dialect,
)
from mspmode.engine.wrappers import _Ctx, _wrapped

__all__ = [
    "CLOSE",
    "CMD",
    "DIALECTS",
    "MAX_DEPTH",
    "MAX_TOKENS",
    "OP",
    "OPEN",
    "POSIX",
    "POWERSHELL",
    "PUNCT",
    "REDIR",
    "SQL",
    "WORD",
    "Nested",
    "Script",
    "Segment",
    "Token",
    "all_segments",
    "dialect_for_shell",
    "guess_dialect",
    "normalize_program",
    "parse",
    "parse_cached",
    "targets",
    "tokenize",
]

_LEXERS: dict[str, Callable[[str], Lexer]] = {
    POSIX: lex_posix,
    POWERSHELL: lex_powershell,
    CMD: lex_cmd,
    SQL: lex_sql,
}


def tokenize(text: str, dialect: str = POSIX) -> tuple[Token, ...]:
    """The tokens of ``text`` in ``dialect``. Never raises; odd input gives odd tokens."""
    return _lex(text, dialect).out_tuple


class _Lexed:
    def __init__(self, tokens: tuple[Token, ...], problems: tuple[str, ...]) -> None:
        self.out_tuple = tokens
        self.problems = problems


def _lex(text: str, dialect: str) -> _Lexed:
    if not isinstance(text, str):
        text = str(text)
    lexer = _LEXERS.get(dialect, lex_posix)
    try:
        lx = lexer(text)
    except (RecursionError, ValueError, IndexError) as exc:  # defensive: never raise on input
        return _Lexed(tuple(Token(w, w, WORD, 0, 0) for w in text.split()[:MAX_TOKENS]), (repr(exc),))
    return _Lexed(tuple(lx.out), tuple(lx.problems))


def parse(
    command: str,
    dialect: str | None = None,
    *,
    dialect_of_host: Callable[[str], str | None] | None = None,
    _depth: int = 0,
) -> Script:
    """Tokenise ``command`` and find its simple commands, wrappers and nested scripts.

    ``dialect_of_host`` tells the dialect of a host named by a host wrapper (``ssh H 'cmd'``),
    so that the remote script is read the way that host's shell reads it.
    """
    if not isinstance(command, str):
        command = "" if command is None else str(command)
    dialect = dialect if dialect in DIALECTS else guess_dialect(command)
    assert dialect is not None
    lexed = _lex(command, dialect)
    tokens = lexed.out_tuple
    ctx = _Ctx(dialect_of_host, _depth, parse)
    segments: list[Segment] = []
    nested: list[Nested] = []
    _collect(tokens, dialect, command, ctx, segments, nested, 0)
    problems = lexed.problems
    return Script(
        text=command,
        dialect=dialect,
        tokens=tokens,
        segments=tuple(segments),
        nested=tuple(nested),
        ok=not problems,
        problems=problems,
    )


@lru_cache(maxsize=16_384)
def parse_cached(command: str, dialect: str | None) -> Script:
    """:func:`parse` without a host resolver, memoised: histories repeat the same commands, and
    a parsed script is immutable. Callers re-parse a remote script once they know its host."""
    return parse(command, dialect)


def _collect(
    tokens: tuple[Token, ...],
    dialect: str,
    text: str,
    ctx: _Ctx,
    segments: list[Segment],
    nested: list[Nested],
    depth: int,
) -> None:
    if depth > MAX_DEPTH or not tokens:
        return
    for seg_tokens, after in _split_segments(tokens, dialect):
        base = min(t.depth for t in seg_tokens)
        top = [t for t in seg_tokens if t.depth == base]
        # A segment that is only a bracketed group: ( … ), { …; }, $( … ) — look inside.
        if top and top[0].kind == OPEN and all(t.kind in (OPEN, CLOSE) for t in top):
            for group in _inner_groups(seg_tokens):
                _collect(group, dialect, text, ctx, segments, nested, depth + 1)
            continue
        words = _words(top, dialect)
        segment = _make_segment(words, dialect, after, depth)
        if dialect == CMD and segment.program in ("if", "for"):
            inner = _cmd_statement_body(segment)
            segments.append(segment)
            if inner:
                sub = _make_segment(inner, dialect, after, depth + 1)
                if sub.program is not None:
                    segments.append(sub)
                    _wrapped(sub, dialect, text, ctx, segments, nested, depth + 1)
        else:
            segments.append(segment)
            _wrapped(segment, dialect, text, ctx, segments, nested, depth)
        for group in _inner_groups(seg_tokens):
            if dialect == CMD and segment.program == "for":
                break  # FOR %%f IN (set): the set is data; the command after DO is handled above
            if dialect == SQL and not _sql_subquery(group):
                continue  # VARCHAR(255), COUNT(*), (a, b): arguments, not statements
            _collect(group, dialect, text, ctx, segments, nested, depth + 1)
        if dialect == POSIX:
            for word in words:
                for sub_text in _substitutions(word.text):
                    if ctx.depth + depth < MAX_DEPTH:
                        sub_script = parse(
                            sub_text, POSIX, dialect_of_host=ctx.dialect_of_host, _depth=ctx.depth + depth + 1
                        )
                        segments.extend(sub_script.segments)
                        nested.extend(sub_script.nested)


def _sql_subquery(group: tuple[Token, ...]) -> bool:
    return len(group) >= 3 and group[0].kind == WORD and group[1].kind == WORD and not group[0].quoted


def all_segments(script: Script) -> tuple[Segment, ...]:
    """Every simple command that runs on the script's own host (same-host nesting included)."""
    return script.segments


def targets(script: Script) -> list[tuple[str | None, Script, tuple[Nested, ...]]]:
    """Where the script's work runs: ``(host named by a wrapper or None, the script run there,
    the chain of nested scripts from the outside in)``. Without a host wrapper the script itself
    runs on the host it was given for."""
    out: list[tuple[str | None, Script, tuple[Nested, ...]]] = []
    _targets(script, (), out, 0)
    if not out:
        out.append((None, script, ()))
    return out


def _targets(
    script: Script,
    chain: tuple[Nested, ...],
    out: list[tuple[str | None, Script, tuple[Nested, ...]]],
    depth: int,
) -> None:
    if depth > MAX_DEPTH:
        return
    for item in script.nested:
        if item.host is not None:
            deeper: list[tuple[str | None, Script, tuple[Nested, ...]]] = []
            _targets(item.script, (*chain, item), deeper, depth + 1)
            if deeper:
                out.extend(deeper)
            else:
                out.append((item.host, item.script, (*chain, item)))
        elif any(n.host is not None for n in item.script.nested):
            _targets(item.script, (*chain, item), out, depth + 1)
