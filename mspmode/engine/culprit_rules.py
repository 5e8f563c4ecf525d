"""The error shapes that name what failed: an ordered table of named regexes in verbose mode
(Sentry ``grouping`` style), each with the *hint* of what its word is (a command, an option, a
subcommand, a SQL construct …). :mod:`culprit_find` runs them and looks the word up in the
command's own tokens; nothing here knows any command by name."""

from __future__ import annotations

import re

from mspmode.engine.classify import wrap_tolerant
from mspmode.engine.culprit import PACKAGE_NAMED
from mspmode.engine.lazyre import lazy
from mspmode.engine.struct import struct

__all__ = ["CULPRIT_RULES", "CulpritRule"]


@struct(frozen=True)
class CulpritRule:
    name: str
    hint: str  # command | option | subcommand | token | operator | sql | substitution | first_program
    regex: re.Pattern[str]


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
