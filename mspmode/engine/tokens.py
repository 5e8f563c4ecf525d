"""The token model every dialect shares, the dialects themselves, and the lexer state.

Four dialects (``posix``, ``powershell``, ``cmd``, ``sql``), one :class:`Token` kind vocabulary,
and the structures a parse builds from them: :class:`Segment` (a simple command),
:class:`Nested` (a script inside a wrapper) and :class:`Script`. Each dialect's lexer lives in
its own module (``lex_posix``, ``lex_powershell``, ``lex_cmd``, ``lex_sql``) and fills a
:class:`Lexer`; ``tokenize`` puts them together.
"""

from __future__ import annotations

import re

from mspmode.engine.lazyre import lazy
from mspmode.engine.struct import field, struct

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
    "Lexer",
    "Nested",
    "Script",
    "Segment",
    "Token",
    "dialect_for_shell",
    "guess_dialect",
]

POSIX = "posix"
POWERSHELL = "powershell"
CMD = "cmd"
SQL = "sql"
DIALECTS = (POSIX, POWERSHELL, CMD, SQL)

# Token kinds.
WORD = "word"
OP = "op"  # control operators that end a simple command: | ; && || & newline
REDIR = "redir"  # > >> 2>&1 < <<EOF …
OPEN = "open"  # ( { $( @( @{ <( >(
CLOSE = "close"  # ) }
PUNCT = "punct"  # , in PowerShell and SQL, other SQL punctuation

MAX_DEPTH = 6  # nested wrappers / substitutions looked through; deeper text is kept as words
MAX_TOKENS = 4000  # a pasted script longer than this is matched on its first tokens and raw text


@struct(frozen=True)
class Token:
    """One token: ``text`` exactly as written, ``value`` with quotes and escapes removed."""

    text: str
    value: str
    kind: str
    start: int
    end: int
    quoted: bool = False
    depth: int = 0  # bracket depth within its script


@struct(frozen=True)
class Segment:
    """A simple command: a program and its arguments, between control operators."""

    words: tuple[Token, ...]
    program: str | None  # normalised (lower case, no directory, no .exe)
    program_at: int  # index into ``words``; -1 when the segment is an expression or keyword
    wrappers: tuple[str, ...] = ()  # same-host wrappers the program runs under (sudo, env…)
    wrapper_words: tuple[tuple[str, tuple[Token, ...]], ...] = ()  # each wrapper with its options
    after: str = ""  # control operator that follows it ("" at the end)
    depth: int = 0
    dialect: str = POSIX
    where: str = ""  # the container it runs in (docker exec NAME, kubectl exec POD), "" on the host

    @property
    def args(self) -> tuple[Token, ...]:
        return self.words[self.program_at + 1 :] if self.program_at >= 0 else ()


@struct(frozen=True)
class Nested:
    """A script inside a wrapper. ``host`` is the target of a host wrapper, None for same host.
    ``start``/``end`` is the span in the parent's text the script came from; ``quote`` the quote
    character it was written in ('' when it is the bare remainder of the command line)."""

    script: Script
    wrapper: str
    start: int
    end: int
    quote: str
    host: str | None = None
    where: str = ""  # a container on the same host the script runs in (its segments carry it)


@struct(frozen=True)
class Script:
    text: str
    dialect: str
    tokens: tuple[Token, ...]
    segments: tuple[Segment, ...]
    nested: tuple[Nested, ...] = ()
    ok: bool = True
    problems: tuple[str, ...] = field(default=())
    # Values derived from the script (its culprit keys…), computed once: scripts are shared
    # through parse_cached, and the keys of a command are asked for at record and check time.
    memo: dict[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)


# --------------------------------------------------------------------------------------------
# Dialects

_SHELL_DIALECT = {
    "bash": POSIX,
    "sh": POSIX,
    "zsh": POSIX,
    "ash": POSIX,
    "dash": POSIX,
    "ksh": POSIX,
    "mksh": POSIX,
    "busybox": POSIX,
    "fish": POSIX,
    "posix": POSIX,
    "powershell": POWERSHELL,
    "pwsh": POWERSHELL,
    "ps": POWERSHELL,
    "windows powershell": POWERSHELL,
    "cmd": CMD,
    "cmd.exe": CMD,
    "command.com": CMD,
    "dos": CMD,
    "batch": CMD,
    "sql": SQL,
    "mysql": SQL,
    "mariadb": SQL,
    "psql": SQL,
    "postgres": SQL,
    "postgresql": SQL,
    "sqlite": SQL,
    "sqlite3": SQL,
    "mssql": SQL,
    "sqlcmd": SQL,
    "tsql": SQL,
    "t-sql": SQL,
}


def dialect_for_shell(shell_type: object) -> str | None:
    """The dialect of a host's ``shell_type`` trait, or None when it says nothing we know."""
    if not isinstance(shell_type, str):
        return None
    key = shell_type.strip().lower()
    if key in _SHELL_DIALECT:
        return _SHELL_DIALECT[key]
    if key.endswith("-cli"):
        return POSIX  # a network device's CLI (ios-cli, asa-cli, routeros-cli): words and | pipes
    for name, dialect in _SHELL_DIALECT.items():
        if len(name) > 2 and name in key:
            return dialect
    return None


_GUESS_PS = lazy(
    r"""
    (?:^|[|;{(]\s*)[A-Za-z]+-[A-Za-z]{2,}\b(?!\.)   # Verb-Noun at a command position
    | \$_\b | \$\w+:\w                              # $_ and $env:PATH-style variables
    | \s-(?:eq|ne|like|match|gt|lt)\s               # comparison operators
    | \|\s*(?:%|\?)\s*\{                            # | % { … } and | ? { … }
    """,
    re.VERBOSE,
)
_GUESS_SQL = lazy(
    r"""
    ^\s*(?:SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|ALTER\s+TABLE|CREATE\s+
    (?:TABLE|INDEX|VIEW|DATABASE|USER|PROCEDURE|FUNCTION|TRIGGER|UNIQUE)|DROP\s+(?:TABLE|INDEX|
    VIEW|DATABASE|USER)|WITH\s+\w+\s+AS|SHOW\s+\w+|GRANT\s|REVOKE\s|TRUNCATE\s+TABLE|EXEC\s)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_GUESS_CMD = lazy(
    r"""
    ^\s*@?(?:IF|FOR)\s+(?:/[A-Za-z]\b|NOT\b|EXIST\b|ERRORLEVEL\b|DEFINED\b|%%?\w)  # IF /I, FOR %%f
    | %\w+%                                                                          # %VAR%
    """,
    re.VERBOSE | re.IGNORECASE,
)


def guess_dialect(text: str) -> str:
    """The dialect a command with no known shell is most likely written in."""
    head = text[:2000]
    if _GUESS_SQL.search(head):
        return SQL
    if _GUESS_CMD.search(head):
        return CMD
    if _GUESS_PS.search(head):
        return POWERSHELL
    return POSIX


class Lexer:
    """Shared state of the four lexers: the text, the output and the problems met."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.out: list[Token] = []
        self.problems: list[str] = []
        self.depth = 0

    def emit(self, text: str, value: str, kind: str, start: int, end: int, quoted: bool = False) -> None:
        if kind == CLOSE:
            self.depth = max(0, self.depth - 1)
        self.out.append(Token(text, value, kind, start, end, quoted, self.depth))
        if kind == OPEN:
            self.depth += 1

    def emit_operator(self, i: int, ops: tuple[str, ...], kind: str) -> str | None:
        """Emit the first of ``ops`` (longest first) that starts at ``i``; return it, or None."""
        for op in ops:
            if self.s.startswith(op, i):
                self.emit(op, op, kind, i, i + len(op))
                return op
        return None

    def full(self) -> bool:
        if len(self.out) >= MAX_TOKENS:
            self.problems.append("too many tokens; the rest is matched on raw text only")
            return True
        return False

    def skip_balanced(self, i: int, open_ch: str, close_ch: str) -> int:
        """Index just past the ``close_ch`` matching an ``open_ch`` already consumed before ``i``,
        honouring quotes; the end of the text if it is never closed."""
        s, n = self.s, self.n
        level = 1
        while i < n:
            c = s[i]
            if c == "\\" and i + 1 < n:
                i += 2
                continue
            if c in "'\"`" and c != close_ch:
                j = s.find(c, i + 1)
                if j < 0:
                    self.problems.append(f"unterminated {c} inside {open_ch}{close_ch}")
                    return n
                i = j + 1
                continue
            if c == open_ch:
                level += 1
            elif c == close_ch:
                level -= 1
                if level == 0:
                    return i + 1
            i += 1
        self.problems.append(f"unclosed {open_ch}")
        return n
