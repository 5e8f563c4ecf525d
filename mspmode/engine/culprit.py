"""What failed: a command word, an option of a named program, a subcommand, an operator or a
syntax fragment — the :class:`Culprit` — and whether a command contains it.

Every culprit has an index ``key`` (``cmd:systemctl``, ``opt:sed:-i``, ``sub:docker:0:compose``,
``op:&&``, ``syn:add``); ``keys.command_keys`` gives the keys a command *contains*, so the
pre-check finds patterns with dictionary look-ups instead of scanning them, and
:func:`contains_culprit` then checks what a key alone cannot say (a syntax run in order, the
fixed form of a "without" culprit, an option followed by its last word alone).

The parts: this module (the model and containment), ``culprit_rules`` (the error shapes that
name a word: an ordered table of named regexes), ``culprit_find`` (the word looked up in the
command's own tokens). Nothing here knows any command by name.
"""

from __future__ import annotations

from mspmode.engine.keys import is_option, positionals, scripts_of
from mspmode.engine.struct import struct
from mspmode.engine.tokenize import CLOSE, OP, OPEN, POSIX, PUNCT, SQL, WORD, Script, Token, tokenize

__all__ = [
    "COMMAND",
    "CULPRIT_KINDS",
    "GAP",
    "NAME",
    "NONE",
    "OPERAND_EATEN",
    "OPERATOR",
    "OPTION",
    "PACKAGE_NAMED",
    "SQL_KEYWORDS",
    "SUBCOMMAND",
    "SYNTAX",
    "Culprit",
    "contains_culprit",
    "eats_last",
    "has_words",
    "sql_construct",
]

COMMAND = "command"
OPTION = "option"
SUBCOMMAND = "subcommand"
OPERATOR = "operator"
SYNTAX = "syntax"
NONE = "none"
CULPRIT_KINDS = (COMMAND, OPTION, SUBCOMMAND, OPERATOR, SYNTAX, NONE)


@struct(frozen=True)
class Culprit:
    """What failed. ``text`` is as written; ``key`` is what the indexes use; ``sequence`` (syntax
    only) is the lower-cased token run a command must contain to match."""

    kind: str
    text: str
    key: str
    program: str | None = None
    sequence: tuple[str, ...] = ()  # syntax: the token run (GAP: any tokens); permission: the verb
    rule: str = ""
    # Words whose presence means the command is the fixed form (``-UseBasicParsing``, ``-T``,
    # ``--user``): the culprit is the program or verb *without* them.
    absent: tuple[str, ...] = ()
    where: str = ""  # the container it failed in ("" on the host itself)

    def describe(self) -> str:
        text = self._what()
        if self.absent:
            text += " without " + " ".join(self.absent)
        if self.where:
            text += f" in {self.where.replace(':', ' ', 1)}"
        return text

    def _what(self) -> str:
        if self.key.startswith("perm:"):
            verb = f" {self.sequence[0]}" if self.sequence else ""
            user = self.key.partition("@")[2].split("@")[0] if "@" in self.key else ""
            who = (
                f"as {user}"
                if user and not user.startswith(("ctr:", "svc:", "img:", "pod:"))
                else "as this user"
            )
            return f"'{self.program}{verb}' {who}"
        if self.kind == OPTION and self.program:
            ate = (
                " before its last word (taken as its value)" if self.sequence[-1:] == (OPERAND_EATEN,) else ""
            )
            return f"option {self.text} of {self.program}{ate}"
        if self.kind == SUBCOMMAND and self.program:
            return f"subcommand '{self.program} {self.text}'"
        if self.kind == COMMAND:
            return f"command {self.text}"
        if self.kind == OPERATOR:
            return f"operator {self.text}"
        if self.kind == SYNTAX:
            return f"syntax '{self.text}'"
        return self.text


PACKAGE_NAMED = "package_named"  # rule of a culprit that is a package the error says is missing


GAP = "…"  # in a syntax sequence: any tokens of the same statement
OPERAND_EATEN = "<last operand>"  # an option's sequence: it is followed by the last word alone
NAME = "<name>"  # in a syntax sequence: one name or value (not a keyword, bracket or comma)
_NOT_NAMES = frozenset("()[]{},")
# Verbs that read without privileges: a permission failure of another verb says nothing of them
# (``systemctl stop`` refused, ``systemctl status`` works). The failing verb itself always counts.
READ_ONLY_VERBS = frozenset(
    {"status", "show", "list", "ls", "get", "cat", "describe", "info", "help", "version", "logs",
     "log", "is-active", "is-enabled", "is-failed", "list-units", "list-unit-files", "list-timers",
     "query", "search", "inspect", "view", "check", "diff", "history", "whoami", "freeze"}
)  # fmt: skip
SQL_TOKEN_KINDS = (WORD, PUNCT, OPEN, CLOSE)


def contains_culprit(culprit: Culprit, keys: frozenset[str], script: Script) -> bool:
    """Whether a command with these keys contains the culprit (syntax runs checked in order,
    the fixed form of a "without" culprit excluded)."""
    if culprit.key not in keys:
        return False
    if culprit.absent and has_words(script, culprit.absent):
        return False
    if culprit.key.startswith("perm:") and culprit.sequence:
        # another verb of the program by the same account: only if it is not a mere read
        base = culprit.key.partition("@")[0]
        verbs = {k.split(":", 2)[2].partition("@")[0] for k in keys if k.startswith(base + ":")}
        return not (verbs and culprit.sequence[0] not in verbs and verbs <= READ_ONLY_VERBS)
    if culprit.rule == PACKAGE_NAMED:
        # the package as what a command acts on, not the verb (yum install update / yum update)
        word = culprit.sequence[0] if culprit.sequence else ""
        return any(w.value.lower() == word for seg in script.segments for w in positionals(seg)[1:])
    if culprit.kind == OPTION and culprit.sequence[-1:] == (OPERAND_EATEN,) and culprit.program:
        return eats_last(script, culprit.program, culprit.sequence[0])
    if culprit.kind != SYNTAX or len(culprit.sequence) < 2:
        return True
    return any(_has_sequence(sub, culprit.sequence) for sub in scripts_of(script))


def _has_sequence(script: Script, seq: tuple[str, ...]) -> bool:
    """Whether one statement of ``script`` has the tokens of ``seq`` in order (GAP: any run)."""
    words: list[str] = []
    statements: list[list[str]] = [words]
    for t in script.tokens:
        if t.kind == OP and t.text in (";", "\n", "&&", "||", "|"):
            words = []
            statements.append(words)
        elif t.kind in SQL_TOKEN_KINDS:
            words.append(t.value.lower())
    return any(_match_from(ws, 0, seq, 0) for ws in statements if ws)


def _match_from(words: list[str], i: int, seq: tuple[str, ...], j: int) -> bool:
    if j == len(seq):
        return True
    if seq[j] == GAP:
        return any(_match_from(words, k, seq, j + 1) for k in range(i, len(words) + 1))
    if j == 0:
        return any(words[k] == seq[0] and _match_from(words, k + 1, seq, 1) for k in range(len(words)))
    return i < len(words) and _word_is(words[i], seq[j]) and _match_from(words, i + 1, seq, j + 1)


def _word_is(word: str, wanted: str) -> bool:
    if wanted == NAME:
        return bool(word) and word not in SQL_KEYWORDS and word not in _NOT_NAMES
    return word == wanted


def has_words(script: Script, wanted: tuple[str, ...]) -> bool:
    """Whether the command has every word of ``wanted`` (as written; lower case where the
    shell ignores case)."""
    have = script.memo.get("words")
    if not isinstance(have, frozenset):
        fold = str.lower if script.dialect != POSIX else str
        found: set[str] = set()
        for sub in scripts_of(script):
            for t in sub.tokens:
                if t.kind == WORD:
                    found.add(fold(t.text))
                    found.add(fold(t.value))
        have = frozenset(found)
        script.memo["words"] = have
    return all(w in have for w in wanted)


def eats_last(script: Script, program: str, option: str) -> bool:
    """Whether ``program`` is given ``option`` (as a word of its own) followed by one word only,
    an operand: the option takes it as its value and the program has no operand left."""
    for sub in scripts_of(script):
        for seg in sub.segments:
            if seg.program != program:
                continue
            args = seg.args
            for k, w in enumerate(args):
                if w.text == option and len(args) == k + 2 and not is_option(args[k + 1], seg.dialect):
                    return True
    return False


# SQL's reserved and common words: a culprit is a run of these (the construct), never the names
# and values around them (an account in GRANT … IDENTIFIED BY, a table, a literal).
SQL_KEYWORDS = frozenset(
    """add after aggregate all alter always analyze and any as asc authorization auto_increment backup begin
    conflict do nothing generated stored filter within
    between binary by cascade case cast change character charset check collate collation column columns
    comment commit concurrently constraint create cross current cursor database databases declare default
    delete desc describe distinct drop each else end engine escape except exec execute exists explain
    extension fetch first for force foreign from full function grant group having identified identity if
    ignore ilike immediate in index inner insert instead intersect into is isolation join key keys last
    lateral left level like limit local lock log logs master materialized merge modify natural next no not
    nowait null nulls of offset on only option or order outer over owner partition password plan policy
    primary privileges procedure purge range read recursive references rename repair replace replica
    replication
    restrict returning revoke right role rollback row rows savepoint schema select sequence session set
    share show slave some start status storage table tables tablespace temp temporary then to top
    transaction trigger truncate type union unique unlock update usage use user using vacuum values
    variables view virtual when where window with without work zone""".split()
)


def _sql_keyword(t: Token) -> bool:
    return t.kind == WORD and not t.quoted and t.value.lower() in SQL_KEYWORDS


def sql_construct(fragment: str, script: Script, rule: str) -> Culprit | None:
    """The construct a SQL parser choked on: the run of keywords from the word it names (or the
    keyword just before it), after the statement's verb — ``DROP … IF EXISTS``, ``SHOW … MASTER
    STATUS``, ``GRANT … IDENTIFIED BY`` — with names and values left out."""
    frag = [t.value.lower() for t in tokenize(fragment, SQL) if t.kind in SQL_TOKEN_KINDS][:3]
    if not frag:
        return None
    for sub in scripts_of(script):
        statement: list[Token] = []
        statements = [statement]
        for t in sub.tokens:
            if t.kind == OP and t.text == ";":
                statement = []
                statements.append(statement)
            elif t.kind in SQL_TOKEN_KINDS:
                statement.append(t)
        for toks in statements:
            low = [t.value.lower() for t in toks]
            for i in range(len(low)):
                if low[i : i + len(frag)] == frag or (low[i] == frag[0] and len(frag) == 1):
                    seq = _construct(toks, i)
                    shown = " ".join(x if x != GAP else "…" for x in seq).upper()
                    return Culprit(SYNTAX, shown, "syn:" + seq[0], sequence=seq, rule=rule)
    return None


def _construct(toks: list[Token], i: int) -> tuple[str, ...]:
    named: tuple[str, ...] = ()
    if not _sql_keyword(toks[i]) and i > 0 and _sql_keyword(toks[i - 1]):
        i -= 1  # the parser stopped just after the construct it does not know (WITH cte …)
    elif _sql_keyword(toks[i]) and i > 1 and toks[i - 1].kind == WORD and not _sql_keyword(toks[i - 1]):
        # It stopped at a keyword right after a name (DROP FUNCTION f CASCADE: f needs its
        # argument list): the construct is "a name then the keyword", the name masked, so that
        # the fixed form (f() CASCADE) is not the same construct and another name is.
        named = (NAME,)
    run = [i]
    while (
        run[-1] + 1 < len(toks) and _sql_keyword(toks[run[-1] + 1]) and len(run) < 4 and _sql_keyword(toks[i])
    ):
        run.append(run[-1] + 1)
    words = (*named, *(toks[k].value.lower() for k in run))
    if i > 0 and _sql_keyword(toks[0]):
        return (toks[0].value.lower(), GAP, *words)
    return words
