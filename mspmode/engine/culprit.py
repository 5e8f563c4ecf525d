"""Find what exactly failed: a command word, an option of a named program, a subcommand, an
operator or a syntax fragment.

Each rule in :data:`CULPRIT_RULES` reads one error *shape* ("The term 'X' is not recognized",
"X: command not found", "unrecognized option: P", "Invalid switch - /I", "'X' is not a docker
command", "near '…'") and names a word; the word is then looked up in the command's own tokens
to decide what it is and which program it belongs to. Nothing here knows any command by name.

Every culprit has an index ``key`` (``cmd:systemctl``, ``opt:sed:-i``, ``sub:docker:0:compose``,
``op:&&``, ``syn:add``); ``keys.command_keys`` gives the keys a command *contains*, so the
pre-check finds patterns with dictionary look-ups instead of scanning them.
"""

from __future__ import annotations

import re

from mspmode.engine.classify import CAPABILITY_CLASSES, USAGE_ERROR, Classification
from mspmode.engine.keys import (
    MAX_SUBCOMMAND_ORDINAL,
    expansion_shapes,
    is_option,
    lower_dialect,
    option_keys,
    positionals,
    punctuation_only,
    scripts_of,
)
from mspmode.engine.lazyre import lazy
from mspmode.engine.struct import struct
from mspmode.engine.tokenize import (
    CLOSE,
    OP,
    OPEN,
    PUNCT,
    REDIR,
    SQL,
    WORD,
    Script,
    Token,
    normalize_program,
    tokenize,
)

__all__ = [
    "COMMAND",
    "CULPRIT_KINDS",
    "CULPRIT_RULES",
    "NONE",
    "OPERATOR",
    "OPTION",
    "SUBCOMMAND",
    "SYNTAX",
    "Culprit",
    "CulpritRule",
    "contains_culprit",
    "find_culprit",
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
    sequence: tuple[str, ...] = ()
    rule: str = ""

    def describe(self) -> str:
        if self.kind == OPTION and self.program:
            return f"option {self.text} of {self.program}"
        if self.kind == SUBCOMMAND and self.program:
            return f"subcommand '{self.program} {self.text}'"
        if self.kind == COMMAND:
            return f"command {self.text}"
        if self.kind == OPERATOR:
            return f"operator {self.text}"
        if self.kind == SYNTAX:
            return f"syntax '{self.text}'"
        return self.text


@struct(frozen=True)
class CulpritRule:
    name: str
    hint: str  # command | option | subcommand | token | operator | sql | substitution | first_program
    regex: re.Pattern[str]


def _c(name: str, hint: str, pattern: str) -> CulpritRule:
    return CulpritRule(name, hint, lazy(pattern, re.VERBOSE | re.IGNORECASE | re.MULTILINE))


# Ordered: the first rule whose word resolves wins. Each regex is anchored on literal wording and
# uses only bounded or negated classes, so none can backtrack badly on a long output.
CULPRIT_RULES: tuple[CulpritRule, ...] = (
    # PowerShell: The term 'Get-LocalUser' is not recognized as the name of a cmdlet …
    _c("ps_term", "command", r"The\ term\ '(?P<word>[^'\n]{1,200})'\ is\ not\ recognized"),
    # cmd.exe: 'foo' is not recognized as an internal or external command
    _c(
        "cmd_term",
        "command",
        r"^'?(?P<word>[^'\n]{1,200}?)'?\ is\ not\ recognized\ as\ an\ internal\ or\ external",
    ),
    # bash -bash: dnf: command not found · ash -ash: systemctl: not found · dash sh: 1: x: not found
    _c(
        "posix_not_found",
        "command",
        r"^\S{0,80}:\ (?:line\ \d+:\ |\d+:\ )?(?P<word>[^\s:]{1,200}):\ (?:command\ )?not\ found\s*$",
    ),
    # a bare "foo: command not found" (no shell prefix)
    _c("bare_not_found", "command", r"^(?P<word>[^\s:]{1,200}):\ command\ not\ found\s*$"),
    # zsh: command not found: foo
    _c("zsh_not_found", "command", r"command\ not\ found:\ (?P<word>\S{1,200})"),
    # fish: Unknown command: foo
    _c("fish_unknown", "command", r"^fish:\ Unknown\ command:?\ ['\"]?(?P<word>[^\s'\"]{1,200})"),
    # env: 'foo': No such file or directory · exec: "foo": executable file not found in $PATH
    _c(
        "exec_missing",
        "command",
        r"""(?:^env|exec\w{0,2}):\ ['"`‘]?(?P<word>[^'"`’:\s]{1,200})['"`’]?:
        \ (?:No\ such\ file|executable\ file\ not\ found)""",
    ),
    # COMMAND.COM: Bad command or file name (names nothing: the program of the command it ran)
    _c("dos_bad_command", "first_program", r"^Bad\ command\ or\ file\ name"),
    # git/docker/heroku: 'compose' is not a docker command.
    _c(
        "not_a_command",
        "subcommand",
        r"""['"`‘]?(?P<word>[\w.:+-]{1,100})['"`’]?\ is\ not\ a\ (?P<prog>[\w.-]{1,60})\ (?:command|task)""",
    ),
    # az: 'providers' is not in the 'az' command group.
    _c("not_in_group", "subcommand", r"'(?P<word>[^'\n]{1,100})'\ is\ not\ in\ the\ '(?P<prog>[^'\s]{1,60})"),
    # npm/brew/kubectl/pip/hg: Unknown command: "foo" · unknown command "foo" for "kubectl"
    _c("unknown_command", "token", r"""\bunknown\ (?:sub)?command[:\ ]+['"`‘]?(?P<word>[^\s'"`’]{1,100})"""),
    # yum/dnf: No such command: foo. · cargo: no such subcommand: `foo`
    _c(
        "no_such_command", "token", r"""\bno\ such\ (?:sub)?command[:\ ]+['"`‘]?(?P<word>[^\s'"`’.]{1,100})"""
    ),
    # apt-get: E: Invalid operation foo
    _c("invalid_operation", "token", r"\bInvalid\ operation\ (?P<word>\S{1,100})"),
    # systemctl: Unknown operation 'foo'. · Unknown command verb foo.
    _c(
        "unknown_verb",
        "token",
        r"""\bUnknown\ (?:operation|command\ verb)[:\ ]+['"]?(?P<word>[^\s'".]{1,100})""",
    ),
    _c("unrecognized_command", "token", r"""\bUnrecognized\ command\ ['"]?(?P<word>[^\s'"]{1,100})"""),
    _c("no_command_named", "token", r"""\bhas\ no\ command\ named\ "(?P<word>[^"\n]{1,100})\""""),
    _c(
        "command_not_defined",
        "token",
        r"""\bCommand\ "(?P<word>[^"\n]{1,100})"\ (?:is\ not\ defined|not\ found)""",
    ),
    # gulp: Task 'srve' is not in your gulpfile · grunt: Task "defualt" not found.
    _c(
        "task_not_found", "token", r"""\bTask\ ['"](?P<word>[^'"\n]{1,100})['"]\ (?:is\ not\ in|not\ found)"""
    ),
    # lein: 'rpl' is not a task.
    _c("not_a_task", "token", r"""['"](?P<word>[^'"\n]{1,100})['"]\ is\ not\ a\ task\b"""),
    # maven: Unknown lifecycle phase "cle".
    _c("unknown_phase", "token", r"""\bUnknown\ lifecycle\ phase\ "(?P<word>[^"\n]{1,100})\""""),
    # tmux: ambiguous command: list, could be: …
    _c("ambiguous_command", "token", r"\bambiguous\ command:\ (?P<word>[^\s,]{1,100})"),
    # hadoop fs: ls: Unknown command
    _c("word_unknown_command", "token", r"^(?P<word>[^\s:]{1,100}):\ Unknown\ command\b"),
    _c("invalid_choice", "token", r"\binvalid\ choice:\ '(?P<word>[^'\n]{1,100})'"),
    # go: go bulid: unknown command
    _c("prog_word_unknown", "subcommand", r"^(?P<prog>[\w.-]{1,60})\ (?P<word>\S{1,100}):\ unknown\ command"),
    # PowerShell: A parameter cannot be found that matches parameter name 'Parallel'.
    _c(
        "ps_parameter",
        "option",
        r"A\ parameter\ cannot\ be\ found\ that\ matches\ parameter\ name\ '(?P<word>[^'\n]{1,100})'",
    ),
    # GNU getopt_long: unrecognized option '--foo' · musl/BusyBox: unrecognized option: P
    _c("unrecognized_option", "option", r"""\bunrecognized\ option[:\ ]+['"`‘]?(?P<word>[^\s'"`’]{1,100})"""),
    # GNU getopt: invalid option -- 'P'
    _c("invalid_option_dashes", "option", r"""\binvalid\ option\ --\ ['"`‘]?(?P<word>[^\s'"`’])"""),
    _c("invalid_option", "option", r"""\binvalid\ option:?\ ['"`‘]?(?P<word>-[^\s'"`’]{1,100})"""),
    # BSD getopt: illegal option -- d
    _c("illegal_option", "option", r"""\billegal\ option\ --\ ['"]?(?P<word>[^\s'"])"""),
    # Unknown option: --foo · unknown option -- x · git: unknown option `foo'
    _c(
        "unknown_option",
        "option",
        r"""\bunknown\ (?:option|switch|argument|parameter)(?:\ --)?[:\ ]+
        ['"`‘]?(?P<word>-{0,2}\w[^\s'"`’,]{0,100})""",
    ),
    # cobra: unknown flag: --foo · unknown shorthand flag: 'x' in -x
    _c(
        "unknown_flag", "option", r"""\bunknown\ (?:shorthand\ )?flag:\ ['"]?(?P<word>-{0,2}[^\s'"]{1,100})"""
    ),
    # iproute2: Option "-br" is unknown, try "ip -help".
    _c("iproute_option", "option", r"""\bOption\ "(?P<word>-[^"\n]{1,100})"\ is\ unknown"""),
    # cmd.exe / COMMAND.COM: Invalid switch - /I · xcopy: Invalid parameter - /Z
    _c("invalid_switch", "option", r"""\bInvalid\ (?:switch|parameter)\ -\ "?(?P<word>[^"\s]{1,100})"""),
    _c("parameter_format", "option", r"""^Parameter\ format\ not\ correct\ -\ "?(?P<word>[^"\s]{1,100})"""),
    # click / argparse / clap / git
    _c("no_such_option", "option", r"""\bNo\ such\ option:?\ (?P<word>-[^\s'"]{1,100})"""),
    _c("unrecognized_arguments", "option", r"""\bunrecognized\ arguments?:\ (?P<word>-[^\s'"]{1,100})"""),
    _c("clap_argument", "option", r"\b(?:Found\ argument|unexpected\ argument)\ '(?P<word>-[^'\n]{1,100})'"),
    _c("bad_flag", "option", r"\bbad\ flag\ '(?P<word>-[^'\n]{1,100})'"),
    # git: did you mean `--patch` (with two dashes ?) — the command has the one-dash spelling
    _c("two_dashes", "option", r"did\ you\ mean\ `-(?P<word>-[\w-]{1,100})`\ \(with\ two\ dashes"),
    # BusyBox find: unrecognized: -printf
    _c("unrecognized_colon", "option", r"\bunrecognized:\ (?P<word>-[^\s'\"]{1,100})"),
    # Windows PowerShell 5.1: The token '&&' is not a valid statement separator in this version.
    _c(
        "ps_separator",
        "operator",
        r"The\ token\ '(?P<word>[^'\n]{1,20})'\ is\ not\ a\ valid\ statement\ separator",
    ),
    # PowerShell: Unexpected token '?' in expression or statement.
    _c(
        "ps_unexpected",
        "token_syntax",
        r"Unexpected\ token\ '(?P<word>[^'\n]{1,40})'\ in\ expression\ or\ statement",
    ),
    # bash: syntax error near unexpected token `('
    _c(
        "bash_unexpected",
        "token_syntax",
        r"syntax\ error\ near\ unexpected\ token\ [`'](?P<word>[^'`\n]{1,40})'",
    ),
    # dash/ash: Syntax error: "(" unexpected
    _c("dash_unexpected", "token_syntax", r"""Syntax\ error:\ "?(?P<word>[^"\s]{1,40})"?\ unexpected"""),
    # zsh: parse error near `)'
    _c("zsh_parse", "token_syntax", r"parse\ error\ near\ [`'](?P<word>[^'`\n]{1,40})'"),
    # dash/ash: Bad substitution (a bash-only ${…} expansion)
    _c("bad_substitution", "substitution", r"\bBad\ substitution\b"),
    # MySQL/MariaDB: … for the right syntax to use near 'IF NOT EXISTS x INT' at line 1
    _c("mysql_near", "sql", r"\bnear\ '(?P<word>[^\n]{0,200}?)'\ at\ line\ \d{1,6}"),
    # PostgreSQL: syntax error at or near "IF"
    _c("pg_near", "sql", r"""\bsyntax\ error\ at\ or\ near\ "(?P<word>[^"\n]{1,200})\""""),
    # SQLite: near "RETURNING": syntax error
    _c("sqlite_near", "sql", r"""\bnear\ "(?P<word>[^"\n]{1,200})":\ syntax\ error"""),
    # SQL Server: Incorrect syntax near the keyword 'IF'. · 'STRING_AGG' is not a recognized built-in …
    _c("mssql_near", "sql", r"\bIncorrect\ syntax\ near\ (?:the\ keyword\ )?'(?P<word>[^'\n]{1,200})'"),
    _c("mssql_builtin", "sql_word", r"'(?P<word>\w{1,100})'\ is\ not\ a\ recognized\ built-in\ function"),
)

_PREFIX = lazy(r"^\s*-?(?P<prog>[\w./\\-]{1,100}?)(?:\.exe)?\s?:\ ", re.MULTILINE)
_PS_CATEGORY = lazy(r"CategoryInfo\s*:[^\[\n]{0,200}\[(?P<prog>[\w-]{1,100})\]")
_SQL_KINDS = (WORD, PUNCT, OPEN, CLOSE)


def contains_culprit(culprit: Culprit, keys: frozenset[str], script: Script) -> bool:
    """Whether a command with these keys contains the culprit (syntax runs checked in order)."""
    if culprit.key not in keys:
        return False
    if culprit.kind != SYNTAX or len(culprit.sequence) < 2:
        return True
    seq = list(culprit.sequence)
    for sub in scripts_of(script):
        words = [t.value.lower() for t in sub.tokens if t.kind in _SQL_KINDS]
        for i in range(len(words) - len(seq) + 1):
            if words[i : i + len(seq)] == seq:
                return True
    return False


# --------------------------------------------------------------------------------------------
# Finding the culprit of a failure


def find_culprit(classification: Classification, output: str, script: Script) -> Culprit | None:
    """The culprit of a failure of ``script`` that printed ``output``, or None if the error
    names nothing we can tie to the command (then only an exact repeat is recognised)."""
    if classification.failure_class not in CAPABILITY_CLASSES or classification.failure_class == USAGE_ERROR:
        return None
    text = output[:20_000] if isinstance(output, str) else ""
    for rule in CULPRIT_RULES:
        m = rule.regex.search(text)
        if not m:
            continue
        groups = m.groupdict()
        word = (groups.get("word") or "").strip()
        prog_hint = (groups.get("prog") or "").strip() or None
        found = _resolve(rule, word, prog_hint, text, script)
        if found is not None:
            return found
    if classification.rule == "exit:127" or classification.rule == "exit:9009":
        programs = [s.program for s in script.segments if s.program]
        if len(programs) == 1:
            return Culprit(COMMAND, programs[0], "cmd:" + programs[0], programs[0], rule=classification.rule)
    return None


def _resolve(
    rule: CulpritRule, word: str, prog_hint: str | None, text: str, script: Script
) -> Culprit | None:
    hint = rule.hint
    if hint == "command":
        return _as_command(word, rule.name, script)
    if hint == "first_program":
        for seg in script.segments:
            if seg.program:
                return Culprit(
                    COMMAND,
                    seg.words[seg.program_at].value,
                    "cmd:" + seg.program,
                    seg.program,
                    rule=rule.name,
                )
        return None
    if hint == "option":
        return _as_option(word, prog_hint, text, script, rule.name)
    if hint == "subcommand":
        return _as_subcommand(word, prog_hint, script, rule.name)
    if hint == "operator":
        return Culprit(OPERATOR, word, "op:" + word, rule=rule.name) if word else None
    if hint == "token":
        return _as_token(word, text, script, rule.name)
    if hint == "token_syntax":
        return _as_syntax_token(word, script, rule.name)
    if hint == "substitution":
        return _as_substitution(script, rule.name)
    if hint == "sql":
        return _as_sql_fragment(word, script, rule.name)
    if hint == "sql_word" and word:
        return Culprit(SYNTAX, word, "syn:" + word.lower(), sequence=(word.lower(),), rule=rule.name)
    return None


def _as_command(word: str, rule: str, script: Script) -> Culprit | None:
    if not word or len(word) > 200 or any(ch.isspace() for ch in word.strip()):
        return None
    prog = normalize_program(word)
    if not prog:
        return None
    text = word
    for seg in script.segments:
        if seg.program == prog:
            text = seg.words[seg.program_at].value
            break
        for name, words in seg.wrapper_words:
            if name == prog:
                text = words[0].value
    return Culprit(COMMAND, text, "cmd:" + prog, prog, rule=rule)


def _program_hints(text: str, prog_hint: str | None) -> list[str]:
    hints = [normalize_program(prog_hint)] if prog_hint else []
    first_lines = text[:2000]
    hints.extend(normalize_program(m.group("prog")) for m in _PREFIX.finditer(first_lines))
    hints.extend(normalize_program(m.group("prog")) for m in _PS_CATEGORY.finditer(first_lines))
    return [h for h in hints if h]


def _as_option(word: str, prog_hint: str | None, text: str, script: Script, rule: str) -> Culprit | None:
    word = word.strip().rstrip(".,;:").split("=", 1)[0]
    if not word or word in ("-", "--"):
        return None
    candidates = [word] if word[0] in "-/" else ["-" + word, "--" + word, "/" + word]
    hints = _program_hints(text, prog_hint)
    segments = [s for s in script.segments if s.program]
    ordered = sorted(segments, key=lambda s: 0 if s.program in hints else 1)
    for seg in ordered:
        owners: list[tuple[str, tuple[Token, ...]]] = [(seg.program or "", seg.args)]
        owners.extend((name, words[1:]) for name, words in seg.wrapper_words)
        for owner, words in owners:
            for w in words:
                if not is_option(w, seg.dialect):
                    continue
                spelled = option_keys(w, seg.dialect)
                for cand in candidates:
                    c = cand.lower().split(":", 1)[0] if lower_dialect(seg.dialect) else cand
                    if c in spelled or (lower_dialect(seg.dialect) and c == w.text.lower()):
                        return Culprit(
                            OPTION, cand if cand in w.text else w.text, f"opt:{owner}:{c}", owner, rule=rule
                        )
    # The option is not spelled in the command (an alias, a long form): trust the named program.
    for seg in segments:
        if seg.program in hints:
            c = candidates[0].lower() if lower_dialect(seg.dialect) else candidates[0]
            return Culprit(OPTION, candidates[0], f"opt:{seg.program}:{c}", seg.program, rule=rule)
    return None


def _as_subcommand(word: str, prog_hint: str | None, script: Script, rule: str) -> Culprit | None:
    low = word.lower().strip("'\"`")
    if not low:
        return None
    hint = normalize_program(prog_hint) if prog_hint else None
    for seg in script.segments:
        if seg.program is None or (hint and seg.program != hint and not seg.program.startswith(hint)):
            continue
        for ordinal, w in enumerate(positionals(seg)[: MAX_SUBCOMMAND_ORDINAL + 1]):
            if w.value.lower() == low:
                return Culprit(
                    SUBCOMMAND, w.value, f"sub:{seg.program}:{ordinal}:{low}", seg.program, rule=rule
                )
    if hint and any(seg.program == hint for seg in script.segments):
        return Culprit(SUBCOMMAND, word, f"sub:{hint}:0:{low}", hint, rule=rule)
    return None


def _as_token(word: str, text: str, script: Script, rule: str) -> Culprit | None:
    """A word named by a generic message: whichever part of the command it is."""
    word = word.strip().strip("'\"`").rstrip(".,;:")
    if not word:
        return None
    prog = normalize_program(word)
    for seg in script.segments:
        if seg.program == prog and seg.program_at >= 0 and seg.words[seg.program_at].value == word:
            return _as_command(word, rule, script)
    if word[0] in "-/":
        found = _as_option(word, None, text, script, rule)
        if found is not None:
            return found
    hints = _program_hints(text, None)
    for seg in sorted(script.segments, key=lambda s: 0 if s.program in hints else 1):
        if seg.program is None:
            continue
        for ordinal, w in enumerate(positionals(seg)[: MAX_SUBCOMMAND_ORDINAL + 1]):
            if w.value.lower() == word.lower():
                return Culprit(
                    SUBCOMMAND, w.value, f"sub:{seg.program}:{ordinal}:{word.lower()}", seg.program, rule=rule
                )
    return None


def _as_syntax_token(word: str, script: Script, rule: str) -> Culprit | None:
    """A parser's "unexpected token": an operator if it is punctuation we can find, else nothing
    general (a stray ``fi`` or ``done`` is a one-off typo, not a capability of the host)."""
    if not punctuation_only(word):
        return None
    for sub in scripts_of(script):
        for tok in sub.tokens:
            operator_like = tok.kind in (OP, REDIR, OPEN) or (tok.kind == WORD and punctuation_only(tok.text))
            if not operator_like or tok.text in ("(", "{", ";", "\n"):
                continue
            if tok.text == word or (word in tok.text and len(tok.text) <= 3):
                return Culprit(OPERATOR, tok.text, "op:" + tok.text, rule=rule)
    return None


def _as_substitution(script: Script, rule: str) -> Culprit | None:
    for sub in scripts_of(script):
        for tok in sub.tokens:
            if tok.kind == WORD and "${" in tok.text:
                for shape in expansion_shapes(tok.text):
                    return Culprit(SYNTAX, shape, "syn:" + shape, rule=rule)
    return None


def _as_sql_fragment(fragment: str, script: Script, rule: str) -> Culprit | None:
    frag = [t.value.lower() for t in tokenize(fragment, SQL) if t.kind in _SQL_KINDS][:3]
    if not frag:
        return None
    for sub in scripts_of(script):
        toks = [t for t in sub.tokens if t.kind in _SQL_KINDS]
        low = [t.value.lower() for t in toks]
        for i in range(len(low)):
            if low[i : i + len(frag)] == frag or (low[i] == frag[0] and len(frag) == 1):
                seq = _keyword_run(toks, i)
                return Culprit(
                    SYNTAX,
                    " ".join(t.value for t in seq),
                    "syn:" + seq[0].value.lower(),
                    sequence=tuple(t.value.lower() for t in seq),
                    rule=rule,
                )
    return None


def _keyword_run(toks: list[Token], i: int) -> list[Token]:
    """The syntax fragment around the token a SQL parser choked on: the run of upper-case
    keywords it belongs to when the statement is written that way (``ADD COLUMN IF NOT
    EXISTS``), else that token with its neighbours."""

    def keyword(t: Token) -> bool:
        bare = t.text.replace("_", "")
        return t.kind == WORD and not t.quoted and bare.isalpha() and t.text.isupper()

    if not keyword(toks[i]) and i > 0 and keyword(toks[i - 1]):
        i -= 1  # the parser stopped just after the construct it does not know (WITH cte …)
    if keyword(toks[i]):
        lo = i
        while lo > 0 and keyword(toks[lo - 1]) and i - lo < 4:
            lo -= 1
        hi = i
        while hi + 1 < len(toks) and keyword(toks[hi + 1]) and hi - i < 4:
            hi += 1
        return toks[lo : hi + 1]
    lo = max(0, i - 1)
    return toks[lo : i + 2]
