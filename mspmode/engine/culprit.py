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

from mspmode.engine.classify import (
    CAPABILITY_CLASSES,
    PERMISSION_DENIED,
    USAGE_ERROR,
    Classification,
    wrap_tolerant,
)
from mspmode.engine.keys import (
    MAX_POSITIONAL_COUNT,
    MAX_SUBCOMMAND_ORDINAL,
    dashless_keys,
    effective_user,
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
    POSIX,
    POWERSHELL,
    PUNCT,
    REDIR,
    SQL,
    WORD,
    Script,
    Segment,
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


@struct(frozen=True)
class CulpritRule:
    name: str
    hint: str  # command | option | subcommand | token | operator | sql | substitution | first_program
    regex: re.Pattern[str]


PACKAGE_NAMED = "package_named"  # rule of a culprit that is a package the error says is missing


def _c(name: str, hint: str, pattern: str) -> CulpritRule:
    return CulpritRule(name, hint, lazy(wrap_tolerant(pattern), re.VERBOSE | re.IGNORECASE | re.MULTILINE))


# Ordered: the first rule whose word resolves wins. Each regex is anchored on literal wording and
# uses only bounded or negated classes, so none can backtrack badly on a long output.
CULPRIT_RULES: tuple[CulpritRule, ...] = (
    # PowerShell: The term 'Get-LocalUser' is not recognized as the name of a cmdlet …
    _c("ps_term", "command", r"The\ term\ '(?P<word>[^'\n]{1,200})'\ is\ not\ recognized"),
    # … and localised: de Die Benennung "X" wurde nicht …, fr Le terme « X » n'est pas …, es El término 'X'
    _c(
        "ps_term_localized",
        "command",
        r"""Die\ Benennung\ "(?P<word>[^"\n]{1,200})"\ wurde\ nicht
        | Le\ terme\ «\s?(?P<word2>[^»\n]{1,200}?)\s?»\ n'est\ pas
        | El\ término\ '(?P<word3>[^'\n]{1,200})'\ no\ se\ reconoce""",
    ),
    # PowerShell: The command X was not found, but does exist in the current location (.\X runs it)
    _c(
        "ps_current_location",
        "command",
        r"""The\ command\ (?P<word>\S{1,200})\ was\ not\ found,\ but\ does\ exist
        | 找不到命令\ ?(?P<word2>\S{1,200}?)，但它确实存在于当前位置""",
    ),
    # PowerShell 7: The 'Get-LocalGroup' command was found in the module '…', but the
    # module could not be loaded.
    _c(
        "ps_module_unloadable",
        "command",
        r"The\ '(?P<word>[^'\n]{1,200})'\ command\ was\ found\ in\ the\ module",
    ),
    # PowerShell's CategoryInfo, in every language: ObjectNotFound: (Get-TimeZone:String) [], …
    _c("ps_object_not_found", "command", r"ObjectNotFound:\ \((?P<word>[^:()\n]{1,200}):String\)"),
    # Windows PowerShell's execution policy: .\x.ps1 : File C:\x.ps1 cannot be loaded …
    _c(
        "ps_script_refused",
        "command",
        r"""\bFile\ (?P<word>[^\n]{1,300}?\.ps[dm]?1)\ cannot\ be\ loaded
        | Datei\ "?(?P<word2>[^"\n]{1,300}?\.ps[dm]?1)"?\ kann\ nicht\ geladen""",
    ),
    # Ubuntu's handler: Command 'pip' not found, but there are 18 similar ones. / did you mean:
    _c("ubuntu_not_found", "command", r"^Command\ '(?P<word>[^'\n]{1,100})'\ not\ found"),
    # cmd.exe localised: de Der Befehl "grep" ist entweder …, fr 'grep' n'est pas reconnu en tant …,
    # zh-CN 'grep' 不是内部或外部命令 (a quote inside the word doubles the closing one)
    _c(
        "cmd_term_localized",
        "command",
        r"""Der\ Befehl\ "(?P<word>[^"\n]{1,200})"\ ist\ entweder
        | ^'(?P<word2>[^'\n]{1,200})'\ n'est\ pas\ reconnu\ en\ tant
        | ^'(?P<word3>[^'\n]{1,200})'\ no\ se\ reconoce\ como\ un\ comando
        | ^'(?P<word4>[^'\n]{1,200}?)'{1,2}\ 不是内部或外部命令""",  # zh-CN
    ),
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
        r"""^\S{0,80}:\ (?:line\ \d+:\ |\d+:\ (?:\S{1,80}:\ )?)?   # dash: script: LINE: script:
        (?P<word>[^\s:]{1,200}):\ (?:command\ )?not\ found\.?\s*$""",
    ),
    # a bare "foo: command not found" (no shell prefix; tcsh: "foo: Command not found.")
    _c("bare_not_found", "command", r"^(?P<word>[^\s:]{1,200}):\ command\ not\ found\.?\s*$"),
    # BusyBox timeout/env/xargs: can't execute '15': No such file or directory
    _c("cant_execute", "command", r"can't\ execute\ '(?P<word>[^'\n]{1,200})'"),
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
    # hg: command 're' is ambiguous: · gradle: Task 'assembler' is ambiguous in root project
    _c("ambiguous_word", "token", r"\b(?:command|Task)\ '(?P<word>[^'\n]{1,100})'\ is\ ambiguous\b"),
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
    _c(
        "ps_parameter_localized",
        "option",
        r"""Parameternamen\ "(?P<word>[^"\n]{1,100})"
        | correspondant\ au\ nom\ «\s?(?P<word2>[^»\n]{1,100}?)\s?»
        | nombre\ del\ parámetro\ '(?P<word3>[^'\n]{1,100})'""",
    ),
    # Cannot validate argument on parameter 'Encoding'. The argument "utf8NoBOM" does not belong …
    _c(
        "ps_validate_set",
        "option_value",
        r"""Cannot\ validate\ argument\ on\ parameter\ '(?P<word>[^'\n]{1,100})'\.\ The\ argument
        \ "(?P<value>[^"\n]{1,200})"\ does\ not\ belong""",
    ),
    # A positional parameter cannot be found that accepts argument 'c'. (one argument too many)
    _c(
        "ps_positional",
        "positional",
        r"""positional\ parameter\ cannot\ be\ found\ that\ accepts\ argument\ '(?P<word>[^'\n]{1,200})'
        | Positionsparameter\ gefunden,\ der\ das\ Argument\ "(?P<word2>[^"\n]{1,200})\"""",
    ),
    # curl: option --retry-all-errors: is unknown
    _c("curl_option", "option", r"\boption\ (?P<word>-[^\s:]{1,100}):\ is\ unknown"),
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
    # Windows' own tools (taskkill, schtasks, tasklist): ERROR: Invalid argument/option - 'eq'.
    # A bare word (a filter's words left unquoted) is an argument where none belongs; a switch
    # is left to the exact repeat (schtasks /RU is valid for /Create, not for /Delete).
    _c(
        "windows_invalid_argument",
        "bare_argument",
        r"^ERROR:\ Invalid\ argument/option\ -\ '(?P<word>[^'\n]{1,100})'",
    ),
    # cmd.exe / COMMAND.COM: Invalid switch - /I · xcopy: Invalid parameter - /Z
    _c("invalid_switch", "option", r"""\bInvalid\ (?:switch|parameter)\ -\ "?(?P<word>[^"\s]{1,100})"""),
    _c("robocopy_parameter", "option", r"""\bInvalid\ Parameter\ \#\d{1,3}\ :\ "(?P<word>/[^"\s:]{1,100})"""),
    _c("parameter_format", "option", r"""^Parameter\ format\ not\ correct\ -\ "?(?P<word>[^"\s]{1,100})"""),
    # click / argparse / clap / git
    _c("no_such_option", "option", r"""\bNo\ such\ option:?\ (?P<word>-[^\s'"]{1,100})"""),
    _c("unrecognized_arguments", "option", r"""\bunrecognized\ arguments?:\ (?P<word>-[^\s'"]{1,100})"""),
    _c("clap_argument", "option", r"\b(?:Found\ argument|unexpected\ argument)\ '(?P<word>-[^'\n]{1,100})'"),
    # git: an option after the operands (two wordings across versions)
    _c("bad_flag", "option", r"\bbad\ flag\ '(?P<word>-[^'\n]{1,100})'"),
    # BSD sed: -I or -i may not be used with stdin (-i took the file operand as its suffix)
    _c(
        "option_ate_operand",
        "option_last",
        r"""(?P<word>-\w)\ or\ (?P<word2>-\w)\ may\ not\ be\ used\ with\ stdin
        | (?P<word3>-\w)\ may\ not\ be\ used\ with\ stdin""",
    ),
    _c(
        "option_order",
        "option",
        r"\boption\ '(?P<word>-[^'\n]{1,100})'\ must\ come\ before\ non-option\ arguments",
    ),
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
    # a device CLI echoes the line and puts a caret under the word it refused:
    # switch#show ip device tracking all ⏎ ␣␣␣␣␣␣␣␣␣␣␣␣␣␣␣␣^ ⏎ % Invalid input detected at '^' marker.
    _c(
        "device_caret",
        "caret",
        r"^(?P<echo>[^\n]{1,400})\n(?P<pad>\ {0,400})\^[\ \t]*\n[^\n]{0,20}%\ Invalid\ input",
    ),
    # PowerShell 2.0 marks where it stopped: + If ($Action - <<<< in 'a', 'b')
    _c("ps_marker", "position", r"^\+\ (?P<before>[^\n]{1,300}?)\ ?<<<<\ (?P<after>[^\n]{0,300})"),
    # PowerShell 3+ underlines it: + $x = $a ?? $b ⏎ +         ~~
    _c("ps_underline", "underline", r"^\+\ (?P<echo>[^\n]{1,400})\n\+(?P<pad>\ {0,400})(?P<tilde>~{1,200})"),
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
    # a package the repositories do not have: the thing acted on, wherever a command names it
    _c(
        PACKAGE_NAMED,
        "object",
        r"""\bNo\ match\ for\ argument:\ (?P<word>[^\s'"]{1,100})
        | ^No\ package\ (?P<word2>\S{1,100})\ available
        | \bPackage\ '?(?P<word3>[^'\s]{1,100})'?\ (?:has\ no\ installation\ candidate|is\ not\ available)""",
    ),
    # a name the program says it does not know, which the command may only feed it (a dump, a script)
    _c(
        "unknown_name",
        "token",
        r"\bUnknown\ (?:collation|character\ set|system\ variable):?\ '(?P<word>[^'\n]{1,100})'",
    ),
)

_REFUSED_OBJECT = lazy(
    r"""permission\ denied\ for\ (?:table|relation|schema|database|sequence|view|function)
    \ "?(?P<name>[\w.$]{1,200})""",
    re.IGNORECASE | re.VERBOSE,
)
_PREFIX = lazy(r"^\s*-?(?P<prog>[\w./\\-]{1,100}?)(?:\.exe)?\s?:\ ", re.MULTILINE)
_PS_CATEGORY = lazy(r"CategoryInfo\s*:[^\[\n]{0,200}\[(?P<prog>[\w-]{1,100})\]")
_SQL_KINDS = (WORD, PUNCT, OPEN, CLOSE)


GAP = "…"  # in a syntax sequence: any tokens of the same statement
OPERAND_EATEN = "<last operand>"  # an option's sequence: it is followed by the last word alone
NAME = "<name>"  # in a syntax sequence: one name or value (not a keyword, bracket or comma)
_NOT_NAMES = frozenset("()[]{},")
WRAPPER_ARGUMENT = "wrapper_argument"  # rule of a culprit that is a wrapper which ran its own argument
# Verbs that read without privileges: a permission failure of another verb says nothing of them
# (``systemctl stop`` refused, ``systemctl status`` works). The failing verb itself always counts.
READ_ONLY_VERBS = frozenset(
    {"status", "show", "list", "ls", "get", "cat", "describe", "info", "help", "version", "logs",
     "log", "is-active", "is-enabled", "is-failed", "list-units", "list-unit-files", "list-timers",
     "query", "search", "inspect", "view", "check", "diff", "history", "whoami", "freeze"}
)  # fmt: skip


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
        return _eats_last(script, culprit.program, culprit.sequence[0])
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
        elif t.kind in _SQL_KINDS:
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


# --------------------------------------------------------------------------------------------
# Finding the culprit of a failure


def find_culprit(classification: Classification, output: str, script: Script) -> Culprit | None:
    """The culprit of a failure of ``script`` that printed ``output``, or None if the error
    names nothing we can tie to the command (then only an exact repeat is recognised)."""
    cls = classification.failure_class
    text = output[:20_000] if isinstance(output, str) else ""
    if '\\"' in text:
        # A message quoted inside another one escapes its quotes (runc's exec: \"bash\": … inside
        # containerd's, kubectl's or a JSON body): the rules read the inner message as printed.
        text = text.replace('\\"', '"')
    if cls == PERMISSION_DENIED:
        return _as_permission(text, script)
    usage = cls == USAGE_ERROR
    if cls not in CAPABILITY_CLASSES and classification.rule not in _NAMING_STATE_RULES:
        return None
    unresolved = False
    for rule in CULPRIT_RULES:
        if usage and rule.hint not in _USAGE_HINTS and rule.name not in _USAGE_RULES:
            continue
        m = rule.regex.search(text)
        if not m:
            continue
        groups = m.groupdict()
        word = next((v for k, v in groups.items() if k.startswith("word") and v), "").strip()
        prog_hint = (groups.get("prog") or "").strip() or None
        found = _resolve(rule, word, prog_hint, text, script, groups)
        if found is not None:
            return found
        unresolved = unresolved or bool(word)
    if unresolved and not usage:
        # The error names what the command does not: it failed inside what the command ran
        # (a script, a dump fed to a client) — that is what a repeat would run again.
        found = _as_script(script, classification.rule)
        if found is not None:
            return found
    if classification.rule == "exit:127" or classification.rule == "exit:9009":
        programs = [s for s in script.segments if s.program]
        if len(programs) == 1:
            seg = programs[0]
            return Culprit(
                COMMAND, seg.program or "", _k("cmd:" + (seg.program or ""), seg), seg.program,
                rule=classification.rule, where=seg.where,
            )  # fmt: skip
    return None


# State classes whose error names what failed (the script a policy refuses): culprit kept.
_NAMING_STATE_RULES = frozenset({"ps_execution_policy"})
# Usage errors whose error names what was wrong with the call.
_USAGE_HINTS = frozenset({"positional", "option_value", "option_last"})
# an option in the wrong place; a word where no argument belongs
_USAGE_RULES = frozenset({"bad_flag", "option_order", "windows_invalid_argument"})
_SCRIPT_EXTENSIONS = (".ps1", ".psm1", ".sh", ".bash", ".py", ".pl", ".rb", ".bat", ".cmd", ".php", ".js")
_INTERPRETERS = frozenset(
    {"bash", "sh", "zsh", "ash", "dash", "ksh", "python", "python2", "python3", "perl", "ruby", "php",
     "node", "powershell", "pwsh", "cscript", "wscript"}
)  # fmt: skip


def _k(key: str, seg: Segment | None) -> str:
    return f"{key}@{seg.where}" if seg is not None and seg.where else key


def _as_script(script: Script, rule: str) -> Culprit | None:
    """The script the command runs (``./x.sh``, ``.\\x.ps1``, ``bash x.sh``, ``pwsh -File
    x.ps1``) or the file it feeds a program (``mysql db < dump.sql``)."""
    for seg in script.segments:
        if not seg.program:
            continue
        if seg.program.endswith(_SCRIPT_EXTENSIONS):
            text = seg.words[seg.program_at].value
            return Culprit(
                COMMAND, text, _k("cmd:" + seg.program, seg), seg.program, rule=rule, where=seg.where
            )
        if seg.program in _INTERPRETERS:
            for ordinal, w in enumerate(positionals(seg)[: MAX_SUBCOMMAND_ORDINAL + 1]):
                if w.value.lower().endswith(_SCRIPT_EXTENSIONS):
                    key = _k(f"sub:{seg.program}:{ordinal}:{w.value.lower()}", seg)
                    return Culprit(SUBCOMMAND, w.value, key, seg.program, rule=rule, where=seg.where)
    for sub in scripts_of(script):
        toks = sub.tokens
        for i, tok in enumerate(toks[:-1]):
            if tok.kind == REDIR and tok.text.endswith("<") and toks[i + 1].kind == WORD:
                value = toks[i + 1].value
                if _has_letter(value):
                    return Culprit(SYNTAX, value, "syn:" + value.lower(), rule=rule)
    return None


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


_SUDO_REFUSED = lazy(
    r"""is\ not\ in\ the\ sudoers\ file | no\ valid\ sudoers\ sources
    | is\ not\ allowed\ to\ (?:run\ sudo|execute)""",
    re.IGNORECASE | re.VERBOSE,
)


def _as_permission(text: str, script: Script) -> Culprit | None:
    """A refusal of this account: the program (with the verb it was asked) as run by the same
    account — another account (``sudo``) or a read of another verb is not it. When sudo itself
    refused (not in the sudoers file), the culprit is sudo, whatever it was to run."""
    if _SUDO_REFUSED.search(text):
        for seg in script.segments:
            for name, words in seg.wrapper_words:
                if name in ("sudo", "doas"):
                    return Culprit(
                        COMMAND,
                        words[0].value,
                        _k("cmd:" + name, seg),
                        name,
                        rule="sudo_refused",
                        where=seg.where,
                    )
    hints = _program_hints(text, None)
    segments = [s for s in script.segments if s.program]
    if not segments:
        return None
    chosen = next((s for s in segments if s.program in hints), None)
    if chosen is None:
        if len({s.program for s in segments}) != 1:
            return None
        chosen = segments[0]
    named = {m.group("name").lower() for m in _REFUSED_OBJECT.finditer(text)}
    for w in chosen.words:
        value = w.value
        pathlike = len(value) >= 3 and any(c in value for c in "/\\") and value in text
        if w.kind == WORD and (pathlike or value.lower() in named):
            return None  # a file, folder or table it named was refused: that object, not the program
    prog = chosen.program or ""
    user = effective_user(chosen)
    found = positionals(chosen)
    args = [w for w in chosen.args if w.kind == WORD]
    verb = found[0].value.lower() if found and args and found[0] is args[0] else ""
    key = _k(f"perm:{prog}{'@' + user if user else ''}", chosen)
    return Culprit(
        COMMAND, prog, key, prog, sequence=(verb,) if verb else (), rule="permission", where=chosen.where
    )


def _resolve(
    rule: CulpritRule, word: str, prog_hint: str | None, text: str, script: Script, groups: dict[str, str]
) -> Culprit | None:
    hint = rule.hint
    if hint == "position":
        return _at_marker(groups.get("before") or "", script, rule.name)
    if hint == "underline":
        return _underlined(groups, script, rule.name)
    if hint == "caret":
        return _under_caret(groups, script, rule.name)
    if hint == "positional":
        return _as_positional(word, text, script, rule.name)
    if hint == "option_value":
        return _as_option_value(word, groups.get("value") or "", text, script, rule.name)
    if hint == "command":
        return _as_command(word, rule.name, script, text)
    if hint == "first_program":
        for seg in script.segments:
            if seg.program:
                return Culprit(
                    COMMAND,
                    seg.words[seg.program_at].value,
                    _k("cmd:" + seg.program, seg),
                    seg.program,
                    rule=rule.name,
                    where=seg.where,
                )
        return None
    if hint == "option":
        return _as_option(word, prog_hint, text, script, rule.name)
    if hint == "option_last":
        return _as_option_eating(groups, prog_hint, text, script, rule.name)
    if hint == "subcommand":
        return _as_subcommand(word, prog_hint, script, rule.name)
    if hint == "operator":
        return Culprit(OPERATOR, word, "op:" + word, rule=rule.name) if word else None
    if hint == "token":
        return _as_token(word, text, script, rule.name)
    if hint == "bare_argument":
        return _as_token(word, text, script, rule.name) if word and word[0] not in "-/" else None
    if hint == "token_syntax":
        return _as_syntax_token(word, script, rule.name)
    if hint == "substitution":
        return _as_substitution(script, rule.name)
    if hint == "sql":
        return _as_sql_fragment(word, script, rule.name)
    if hint == "object":
        return _as_object(word, script, rule.name)
    if hint == "sql_word" and word:
        return Culprit(SYNTAX, word, "syn:" + word.lower(), sequence=(word.lower(),), rule=rule.name)
    return None


def _as_object(word: str, script: Script, rule: str) -> Culprit | None:
    """A name the error says is missing (a package), as the command has it."""
    low = word.strip("'\".,").lower()
    for sub in scripts_of(script):
        if any(t.kind == WORD and t.value.lower() == low for t in sub.tokens):
            return Culprit(SYNTAX, word, "syn:" + low, sequence=(low,), rule=rule)
    return None


def _token_at(script: Script, pos: int) -> Token | None:
    for tok in script.tokens:
        if tok.start <= pos < tok.end:
            return tok
    return None


def _as_word_token(tok: Token, script: Script, rule: str) -> Culprit | None:
    """A token a parser pointed at: an operator, an option, a program — as the command has it."""
    if tok.kind in (OP, REDIR) or punctuation_only(tok.text):
        return Culprit(OPERATOR, tok.text, "op:" + tok.text, rule=rule)
    if tok.kind != WORD:
        return None
    for seg in script.segments:
        if tok not in seg.words:
            continue
        if seg.program is None and script.dialect == POWERSHELL and tok.text.startswith("-"):
            return Culprit(OPERATOR, tok.text, "op:" + tok.text.lower(), rule=rule)
        if seg.program and seg.program_at >= 0 and seg.words[seg.program_at] is tok:
            return Culprit(COMMAND, tok.value, _k("cmd:" + seg.program, seg), seg.program, rule=rule)
        if seg.program and is_option(tok, seg.dialect):
            c = option_keys(tok, seg.dialect)[0]
            return Culprit(OPTION, tok.text, _k(f"opt:{seg.program}:{c}", seg), seg.program, rule=rule)
    return None


def _at_marker(before: str, script: Script, rule: str) -> Culprit | None:
    """PowerShell 2.0's ``<<<<``: the parser stopped after ``before``, inside or after a token."""
    before = before.strip()
    if before.startswith("..."):
        before = before[3:].lstrip()
    if not before:
        return None
    at = script.text.find(before)
    if at < 0:
        return None
    pos = at + len(before)
    tok = _token_at(script, pos - 1) if not before[-1].isspace() else None
    if tok is None or (tok.end == pos and tok.text[-1:].isalnum()):
        tok = _token_at(script, pos) or tok
    return _as_word_token(tok, script, rule) if tok is not None else None


def _underlined(groups: dict[str, str], script: Script, rule: str) -> Culprit | None:
    echo, pad, tilde = groups.get("echo") or "", groups.get("pad") or "", groups.get("tilde") or ""
    column = len(pad) - 1  # "+ " before the echo, "+" before the padding
    if column < 0 or column >= len(echo):
        return None
    marked = echo[column : column + len(tilde)].strip()
    if not marked or len(marked) > 40:
        return None
    for tok in script.tokens:
        if tok.text == marked:
            return _as_word_token(tok, script, rule)
    return None


def _under_caret(groups: dict[str, str], script: Script, rule: str) -> Culprit | None:
    """The keyword path up to the word a device put its caret under (``show ip device``): the
    echoed line holds the command after the prompt, which says where the command starts."""
    echo, pad = groups.get("echo") or "", groups.get("pad") or ""
    command = " ".join(script.text.split())
    at = echo.find(command) if command else -1
    if at < 0:
        return None
    pos = len(pad) - at
    words = [t for t in script.tokens if t.kind == WORD]
    for i, tok in enumerate(words):
        if tok.end > pos:
            seq = tuple(t.value.lower() for t in words[: i + 1])
            return Culprit(
                SYNTAX, " ".join(t.value for t in words[: i + 1]), "syn:" + seq[0], sequence=seq, rule=rule
            )
    return None


def _as_positional(word: str, text: str, script: Script, rule: str) -> Culprit | None:
    """One argument too many: the program called with an argument at that position."""
    hints = _program_hints(text, None)
    for seg in sorted(script.segments, key=lambda s: 0 if s.program in hints else 1):
        if not seg.program:
            continue
        for ordinal, w in enumerate(positionals(seg)[:MAX_POSITIONAL_COUNT]):
            if w.value == word or w.text == word:
                shown = f"{seg.words[seg.program_at].value} with {ordinal + 1} positional arguments"
                key = _k(f"pos:{seg.program}:{ordinal}", seg)
                return Culprit(SYNTAX, shown, key, seg.program, rule=rule, where=seg.where)
    return None


def _as_option_value(word: str, value: str, text: str, script: Script, rule: str) -> Culprit | None:
    """A value the parameter does not take here (an older version's ValidateSet)."""
    option = _as_option(word, None, text, script, rule)
    if option is None or not value:
        return option
    base, at, where = option.key.partition("@")
    key = f"{base}={value.lower()}" + (at + where if at else "")
    return Culprit(OPTION, f"{option.text} {value}", key, option.program, rule=rule, where=option.where)


def _as_command(word: str, rule: str, script: Script, text: str = "") -> Culprit | None:
    if not word or len(word) > 200 or any(ch.isspace() for ch in word.strip()):
        return None
    if word == "--":
        # a client passed its end-of-options marker on as the command (docker-compose v1)
        for seg in script.segments:
            if seg.program and any(w.text == "--" for w in seg.args):
                return Culprit(OPTION, "--", _k(f"opt:{seg.program}:--", seg), seg.program, rule=rule)
        return None
    if word.startswith("-") and text:
        return _as_option(word, None, text, script, rule)
    prog = normalize_program(word)
    if not prog:
        return None
    shown = word
    # PowerShell runs a bare name through its shim script (yarn → …\npm\yarn.ps1)
    stem = prog[: -len(".ps1")] if prog.endswith(".ps1") else prog
    for seg in script.segments:
        if seg.program in (prog, stem):
            name = seg.program or prog
            shown = seg.words[seg.program_at].value
            return Culprit(COMMAND, shown, _k("cmd:" + name, seg), name, rule=rule, where=seg.where)
        for name, words in seg.wrapper_words:
            if name == prog:
                return Culprit(
                    COMMAND, words[0].value, _k("cmd:" + prog, seg), prog, rule=rule, where=seg.where
                )
    for seg in script.segments:
        # a wrapper's own argument run as the command (BusyBox 1.24 timeout takes "15" for one)
        for name, words in seg.wrapper_words:
            if any(w.value == word for w in words[1:]):
                key = _k("cmd:" + name, seg)
                return Culprit(COMMAND, words[0].value, key, name, rule=WRAPPER_ARGUMENT, where=seg.where)
    # Named by what the command ran (a script): missing where that ran — in a container, the
    # container's, not the host's.
    inside = next((seg for seg in script.segments if seg.where), None)
    return Culprit(
        COMMAND, shown, _k("cmd:" + prog, inside), prog, rule=rule, where=inside.where if inside else ""
    )


def _program_hints(text: str, prog_hint: str | None) -> list[str]:
    hints = [normalize_program(prog_hint)] if prog_hint else []
    first_lines = text[:2000]
    hints.extend(normalize_program(m.group("prog")) for m in _PREFIX.finditer(first_lines))
    hints.extend(normalize_program(m.group("prog")) for m in _PS_CATEGORY.finditer(first_lines))
    return [h for h in hints if h]


def _as_option(word: str, prog_hint: str | None, text: str, script: Script, rule: str) -> Culprit | None:
    word = word.strip().rstrip(".,;:").split("=", 1)[0]
    if word == "-":
        return _first_long_option(prog_hint, text, script, rule)
    if not word or word == "--":
        return None
    if word[0] in "-/":
        candidates = [word]
    elif len(word) > 1:
        candidates = ["--" + word, "-" + word, "/" + word]  # a long option's name
    else:
        candidates = ["-" + word, "--" + word, "/" + word]
    hints = _program_hints(text, prog_hint)
    segments = [s for s in script.segments if s.program]
    ordered = sorted(segments, key=lambda s: 0 if s.program in hints else 1)
    for seg in ordered:
        owners: list[tuple[str, tuple[Token, ...]]] = [(seg.program or "", seg.args)]
        owners.extend((name, words[1:]) for name, words in seg.wrapper_words)
        # the program the error names first (xargs: illegal option -- r, in xargs -r rm -r)
        owners.sort(key=lambda owner: 0 if owner[0] in hints else 1)
        for owner, words in owners:
            for w in words:
                if is_option(w, seg.dialect):
                    spelled = option_keys(w, seg.dialect)
                elif not (spelled := dashless_keys(seg, w)):
                    continue
                for cand in candidates:
                    c = cand.lower().split(":", 1)[0] if lower_dialect(seg.dialect) else cand
                    if c in spelled or (lower_dialect(seg.dialect) and c == w.text.lower()):
                        shown = cand if cand in w.text else w.text
                        key = _k(f"opt:{owner}:{c}", seg)
                        return Culprit(OPTION, shown, key, owner, rule=rule, where=seg.where)
    # The option is not spelled in the command (an alias, a long form): trust the named program.
    for seg in segments:
        if seg.program in hints:
            c = candidates[0].lower() if lower_dialect(seg.dialect) else candidates[0]
            key = _k(f"opt:{seg.program}:{c}", seg)
            return Culprit(OPTION, candidates[0], key, seg.program, rule=rule, where=seg.where)
    return None


def _as_option_eating(
    groups: dict[str, str], prog_hint: str | None, text: str, script: Script, rule: str
) -> Culprit | None:
    """An option named by the error that took the command's last operand as its value: the
    culprit is that option *followed by the last word alone*, so the same call with the option
    moved (sed -i -e … file) or its value attached (sed -i.bak … file) is not the failure."""
    for name in ("word", "word2", "word3"):
        found = (
            _as_option(groups.get(name) or "", prog_hint, text, script, rule) if groups.get(name) else None
        )
        if found is None or found.program is None:
            continue
        option = found.key.rsplit(":", 1)[1]
        if _eats_last(script, found.program, option):
            return Culprit(
                OPTION, found.text, found.key, found.program, (option, OPERAND_EATEN), rule, where=found.where
            )
    return None


def _eats_last(script: Script, program: str, option: str) -> bool:
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


def _first_long_option(prog_hint: str | None, text: str, script: Script, rule: str) -> Culprit | None:
    """BSD getopt reads ``--max-depth`` as ``-`` then ``-``: "illegal option -- -" names the
    first long option of the program it prefixes."""
    hints = _program_hints(text, prog_hint)
    owners: list[tuple[str, tuple[Token, ...], Segment]] = []
    for seg in script.segments:
        owners.extend((name, words[1:], seg) for name, words in seg.wrapper_words)  # xargs --null
        if seg.program:
            owners.append((seg.program, seg.args, seg))
    for owner, words, seg in sorted(owners, key=lambda o: 0 if o[0] in hints else 1):
        for w in words:
            if w.text.startswith("--") and len(w.text) > 2:
                key = _k(f"opt:{owner}:--*", seg)  # every long option, not this one only
                return Culprit(OPTION, "--…", key, owner, rule=rule, where=seg.where)
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
                key = _k(f"sub:{seg.program}:{ordinal}:{low}", seg)
                return Culprit(SUBCOMMAND, w.value, key, seg.program, rule=rule, where=seg.where)
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
                key = _k(f"sub:{seg.program}:{ordinal}:{word.lower()}", seg)
                return Culprit(SUBCOMMAND, w.value, key, seg.program, rule=rule, where=seg.where)
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


def _as_sql_fragment(fragment: str, script: Script, rule: str) -> Culprit | None:
    """The construct a SQL parser choked on: the run of keywords from the word it names (or the
    keyword just before it), after the statement's verb — ``DROP … IF EXISTS``, ``SHOW … MASTER
    STATUS``, ``GRANT … IDENTIFIED BY`` — with names and values left out."""
    frag = [t.value.lower() for t in tokenize(fragment, SQL) if t.kind in _SQL_KINDS][:3]
    if not frag:
        return None
    for sub in scripts_of(script):
        statement: list[Token] = []
        statements = [statement]
        for t in sub.tokens:
            if t.kind == OP and t.text == ";":
                statement = []
                statements.append(statement)
            elif t.kind in _SQL_KINDS:
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
