"""Classify a failure from its exit code and output, and say whether it will happen again.

The rules are an ordered table of named regexes in verbose mode (Sentry ``grouping`` style): the
first rule that matches decides. Specific shapes come first (a tool naming an unknown option
may well mention "timeout" in the option's name), the generic fall-backs last.

Three families of class:

* **capability** (deterministic, about what the host *can* do): command_not_found,
  unknown_option, unknown_subcommand, unsupported_syntax, version_mismatch, usage_error. These
  block a culprit-matching repeat and generalise to hosts with the same distinguishing traits.
* **state** (deterministic until someone changes the host): permission_denied,
  authentication_failure, not_found, configuration_error. These block an exact repeat on the
  same host only: another host's files and passwords say nothing about this one.
* **transient**: timeout, network, dns, service_unavailable. Never blocked; retry advice.

``unknown`` is a failure we cannot read (``grep`` finding nothing exits 1 too): recorded, never
blocked.
"""

from __future__ import annotations

import re

from mspmode.engine.lazyre import lazy
from mspmode.engine.struct import struct

__all__ = [
    "CAPABILITY_CLASSES",
    "FAILURE_CLASSES",
    "PATTERN_TYPE",
    "RULES",
    "SEVERITY",
    "STATE_CLASSES",
    "TRANSIENT_CLASSES",
    "Classification",
    "Rule",
    "classify",
]

COMMAND_NOT_FOUND = "command_not_found"
UNKNOWN_OPTION = "unknown_option"
UNKNOWN_SUBCOMMAND = "unknown_subcommand"
UNSUPPORTED_SYNTAX = "unsupported_syntax"
VERSION_MISMATCH = "version_mismatch"
USAGE_ERROR = "usage_error"
PERMISSION_DENIED = "permission_denied"
AUTHENTICATION_FAILURE = "authentication_failure"
NOT_FOUND = "not_found"
CONFIGURATION_ERROR = "configuration_error"
TIMEOUT = "timeout"
NETWORK = "network"
DNS = "dns"
SERVICE_UNAVAILABLE = "service_unavailable"
UNKNOWN = "unknown"

CAPABILITY_CLASSES = frozenset(
    {COMMAND_NOT_FOUND, UNKNOWN_OPTION, UNKNOWN_SUBCOMMAND, UNSUPPORTED_SYNTAX, VERSION_MISMATCH, USAGE_ERROR}
)
STATE_CLASSES = frozenset({PERMISSION_DENIED, AUTHENTICATION_FAILURE, NOT_FOUND, CONFIGURATION_ERROR})
TRANSIENT_CLASSES = frozenset({TIMEOUT, NETWORK, DNS, SERVICE_UNAVAILABLE})
FAILURE_CLASSES = CAPABILITY_CLASSES | STATE_CLASSES | TRANSIENT_CLASSES | {UNKNOWN}

# failure_patterns.pattern_type is the schema's stable, human-facing vocabulary.
PATTERN_TYPE = {
    COMMAND_NOT_FOUND: "command_not_found",
    UNKNOWN_OPTION: "unknown_option",
    UNKNOWN_SUBCOMMAND: "command_compatibility",
    UNSUPPORTED_SYNTAX: "unsupported_syntax",
    VERSION_MISMATCH: "version_mismatch",
    USAGE_ERROR: "syntax_error",
    PERMISSION_DENIED: "permission_denied",
    AUTHENTICATION_FAILURE: "authentication_failure",
    NOT_FOUND: "not_found",
    CONFIGURATION_ERROR: "configuration_error",
    TIMEOUT: "transient",
    NETWORK: "network_connectivity",
    DNS: "network_connectivity",
    SERVICE_UNAVAILABLE: "service_unavailable",
    UNKNOWN: "environmental_limitation",
}
SEVERITY = {c: "blocking" for c in CAPABILITY_CLASSES} | {c: "major" for c in STATE_CLASSES}
SEVERITY |= {c: "minor" for c in TRANSIENT_CLASSES} | {UNKNOWN: "info"}


@struct(frozen=True)
class Rule:
    name: str
    failure_class: str
    regex: re.Pattern[str]
    comment: str


@struct(frozen=True)
class Classification:
    failure_class: str
    is_transient: bool
    rule: str  # name of the rule that decided, or "exit:<code>"
    evidence: str  # the text the rule matched (for explanations)

    @property
    def deterministic(self) -> bool:
        return self.failure_class in CAPABILITY_CLASSES or self.failure_class in STATE_CLASSES

    @property
    def severity(self) -> str:
        return SEVERITY[self.failure_class]

    @property
    def pattern_type(self) -> str:
        return PATTERN_TYPE[self.failure_class]


def wrap_tolerant(pattern: str) -> str:
    """``pattern`` with each escaped blank (``\\ ``) outside a character class made to match a
    line break too: consoles wrap long messages at their width (PowerShell at 80 or 120
    columns, "… the name of a⏎cmdlet"), and a rule must read the message, not the window."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            quantified = pattern[i + 2 : i + 3] in ("{", "*", "+", "?")
            out.append(r"\s+" if pair == "\\ " and not in_class and not quantified else pair)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def _rule(name: str, failure_class: str, pattern: str, comment: str) -> Rule:
    flags = re.VERBOSE | re.IGNORECASE | re.MULTILINE
    return Rule(name, failure_class, lazy(wrap_tolerant(pattern), flags), comment)


RULES: tuple[Rule, ...] = (
    # ---- host policy (before permission: its error id says UnauthorizedAccess) -----------------
    _rule(
        "ps_execution_policy",
        CONFIGURATION_ERROR,
        r"""
        running\ scripts\ is\ disabled\ on\ this\ system | \bis\ not\ digitally\ signed\b
        | \bPSSecurityException\b
        | Ausführung\ von\ Skripts\ auf\ diesem\ System\ deaktiviert      # de
        | l'exécution\ de\ scripts\ est\ désactivée                        # fr
        | la\ ejecución\ de\ scripts\ está\ deshabilitada                 # es
        """,
        "PowerShell's execution policy refuses the script (any language: the error id is not localised)",
    ),
    # ---- command not found ------------------------------------------------------------------
    _rule(
        "ps_not_recognized",
        COMMAND_NOT_FOUND,
        r"""
        is\ not\ recognized\ as\ (?:the|a)\ name\ of\ a\ cmdlet | CommandNotFoundException
        | \bcommand\ was\ found\ in\ the\ module\ '[^'\n]{1,200}',\ but\ the\ module\ could\ not\ be\ loaded
        | wurde\ nicht\ als\ Name\ eines\ Cmdlet                             # de
        | n'est\ pas\ reconnu\ comme\ nom\ d'applet\ de\ commande             # fr
        | no\ se\ reconoce\ como\ nombre\ de\ un\ cmdlet                       # es
        """,
        "PowerShell: The term 'X' is not recognized as the name of a cmdlet, function, …",
    ),
    _rule(
        "ps_current_location",
        COMMAND_NOT_FOUND,
        r"""
        \bwas\ not\ found,\ but\ does\ exist\ in\ the\ current\ location
        | 找不到命令\ ?\S{1,200}?，但它确实存在于当前位置                           # zh
        """,
        "PowerShell's suggestion: The command X was not found, but does exist in the current location",
    ),
    _rule(
        "cmd_not_recognized",
        COMMAND_NOT_FOUND,
        r"""
        is\ not\ recognized\ as\ an\ internal\ or\ external\ command | ^Bad\ command\ or\ file\ name
        | ist\ entweder\ falsch\ geschrieben\ oder                               # de
        | n'est\ pas\ reconnu\ en\ tant\ que\ commande\ interne                 # fr
        | no\ se\ reconoce\ como\ un\ comando\ interno\ o\ externo               # es
        | 不是内部或外部命令                                                    # zh-CN
        """,
        "cmd.exe ('X' is not recognized as an internal or external command) and COMMAND.COM",
    ),
    _rule(
        "posix_not_found",
        COMMAND_NOT_FOUND,
        r"""
        ^\S*:\ (?:line\ \d+:\ |\d+:\ (?:\S{1,80}:\ )?)?[^\s:]+:\ (?:command\ )?not\ found\s*$  # bash/ash/dash
        | command\ not\ found:\ \S                                              # zsh: command not found: X
        | ^fish:\ Unknown\ command                                              # fish
        | ^[^\s:]+:\ command\ not\ found\.?\s*$          # X: command not found (tcsh ends with .)
        | ^Command\ '[^'\n]{1,100}'\ not\ found\b                               # Ubuntu's command-not-found
        """,
        "POSIX shells: bash `X: command not found`, BusyBox/dash `X: not found`, zsh, fish",
    ),
    _rule(
        "executable_missing",
        COMMAND_NOT_FOUND,
        r"""
        (?:exec|execvp?|execve)[^\n]{0,40}No\ such\ file\ or\ directory
        | executable\ file\ not\ found\ in\ \$?PATH
        """,
        "exec failures reported by wrappers and runtimes (env, xargs, docker exec, Go)",
    ),
    # ---- network devices ---------------------------------------------------------------------
    _rule(
        "device_cli",
        UNKNOWN_SUBCOMMAND,
        r"""
        %\ Invalid\ input\ detected\ at                 # Cisco IOS, ASA, NX-OS: … at '^' marker.
        | ^%\ Unknown\ command\b                         # IOS, Arista
        | \bbad\ command\ name\ \S{1,100}\ \(line\ \d   # RouterOS
        | \bexpected\ end\ of\ command\ \(line\ \d     # RouterOS
        | ^syntax\ error,\ expecting\ <                  # Junos
        | ^Invalid\ input:\ \S                           # ArubaOS-Switch / ProCurve
        | ^Unknown\ action\ 0$                            # FortiOS
        """,
        "a network device's CLI does not have the command or keyword on this model or release",
    ),
    _rule(
        "device_cli_usage",
        USAGE_ERROR,
        r"""^%\ (?:Incomplete|Ambiguous)\ command\b | ^Command\ fail\.\ Return\ code\ -\d""",
        "a network device's CLI needs more or other words",
    ),
    # ---- unknown subcommand -----------------------------------------------------------------
    _rule(
        "not_a_command",
        UNKNOWN_SUBCOMMAND,
        r"""
        ['"`‘]?[\w.:+-]+['"`’]?\ is\ not\ a\ [\w.-]+\ command     # 'x' is not a git command
        | is\ not\ in\ the\ '[\w\ -]+'\ command\ group            # az
        | is\ not\ a\ task\b                                      # lein
        | ^\S+:\ Unknown\ command\b                               # hadoop fs
        """,
        "'X' is not a docker command / 'X' is not a git command",
    ),
    _rule(
        "unknown_command",
        UNKNOWN_SUBCOMMAND,
        r"""
        \bunknown\ (?:sub)?command\b(?!\ line)             # npm, brew, kubectl, pip, hg, go
        | \bno\ such\ (?:sub)?command\b                    # yum, dnf, cargo, pyenv
        | \bInvalid\ operation\ \S                         # apt, apt-get
        | \bUnknown\ (?:operation|command\ verb)\b         # systemctl
        | \bUnrecognized\ command\b                        # react-native
        | \bhas\ no\ command\ named\b                      # terraform
        | \bCommand\ "[^"\n]{1,80}"\ (?:is\ not\ defined|not\ found)   # composer, yarn
        | \bTask\ ['"][^'"\n]{1,80}['"]\ (?:is\ not\ in|not\ found)    # gulp, grunt
        | \binvalid\ choice:\ '                            # argparse sub-parsers
        | \bambiguous\ command\b                           # tmux
        | \b(?:command|Task)\ '[^'\n]{1,80}'\ is\ ambiguous\b   # hg, gradle: several start so
        | \bUnknown\ lifecycle\ phase\b                    # maven
        """,
        "tools that name an unknown subcommand or verb",
    ),
    # ---- unknown option ---------------------------------------------------------------------
    _rule(
        "unknown_option",
        UNKNOWN_OPTION,
        r"""
        \bunrecognized\ option\b                           # GNU getopt_long, musl (BusyBox)
        | \bunrecognized:\ -                               # BusyBox find
        | \binvalid\ option\ --\ |\binvalid\ option:?\ ['"`‘]?-    # GNU getopt, bash builtins
        | \billegal\ option\b                              # BSD getopt (macOS)
        | \bunknown\ (?:option|switch|argument|parameter)\b(?:\ --)?[:\ ]+['"`‘]?-?\w   # many CLIs
        | \bunknown\ (?:shorthand\ )?flag\b                # cobra (docker, kubectl)
        | \bOption\ "-[^"\n]+"\ is\ unknown                # iproute2
        | \bA\ parameter\ cannot\ be\ found\ that\ matches\ parameter\ name\b   # PowerShell
        | \bNamedParameterNotFound\b                       # PowerShell error id (any language)
        | Es\ wurde\ kein\ Parameter\ gefunden,\ der\ dem\ Parameternamen   # PowerShell de
        | Impossible\ de\ trouver\ un\ paramètre\ correspondant\ au\ nom   # PowerShell fr
        | No\ se\ encuentra\ ningún\ parámetro\ que\ coincida               # PowerShell es
        | ^Invalid\ switch\ -\ | \bInvalid\ switch\b       # cmd.exe / COMMAND.COM
        | ^Invalid\ parameter\ -\ | ^Parameter\ format\ not\ correct\ -   # xcopy and friends
        | \bInvalid\ Parameter\ \#\d{1,3}\ :\ "/                   # robocopy
        | \bNo\ such\ option:?\ -                          # click
        | \bunrecognized\ arguments?:\ -                   # argparse
        | \bFound\ argument\ '-[^'\n]*'\ which\ wasn't\ expected | \bunexpected\ argument\ '-  # clap
        | \boption\ -[^\s:]{1,100}:\ is\ unknown              # curl
        | \bdid\ you\ mean\ `--                            # git one dash for two
        """,
        "an option or parameter the program does not know",
    ),
    # ---- syntax ------------------------------------------------------------------------------
    _rule(
        "shell_syntax",
        UNSUPPORTED_SYNTAX,
        r"""
        \bsyntax\ error\ near\ unexpected\ token\b         # bash
        | \bSyntax\ error:\ [^\n]{0,60}unexpected\b        # dash, BusyBox ash
        | \bparse\ error\ near\b                           # zsh
        | \bBad\ substitution\b                            # dash/ash on bash-only expansions
        | ^Illegal\ variable\ name\.$                        # tcsh/csh on $( ) and ${x:-y}
        | \bBad\ :\ modifier\ in\ \$                          # tcsh reads $VAR:/… as a modifier
        | \bis\ not\ a\ valid\ statement\ separator\b      # Windows PowerShell 5.1 and && / ||
        | \bUnexpected\ token\ '[^'\n]+'\ in\ expression\ or\ statement   # PowerShell parser
        | \bParserError\b | \bMissing\ closing\ '[)}\]]'   # PowerShell parser
        | \bYou\ must\ provide\ a\ value\ expression\b     # PowerShell 2.0 parser (… '-' operator)
        | \bExpectedValueExpression\b | \bUnexpectedToken\b    # PowerShell parser error ids
        | \bunexpected\ EOF\ while\ looking\ for\ matching\b   # bash
        | \bsyntax\ error:\ unexpected\b | \bsyntax\ error\ in\ expression\b
        """,
        "the shell could not parse the command",
    ),
    _rule(
        "sql_syntax",
        UNSUPPORTED_SYNTAX,
        r"""
        \berror\ in\ your\ SQL\ syntax\b                   # MySQL / MariaDB 1064
        | \bsyntax\ error\ at\ or\ near\b                  # PostgreSQL
        | \bnear\ "[^"\n]{1,80}":\ syntax\ error\b         # SQLite
        | \bIncorrect\ syntax\ near\b                      # SQL Server
        | \bis\ not\ a\ recognized\ (?:built-in\ function\ name|option|table\ hint)\b   # SQL Server
        """,
        "the SQL server could not parse the statement",
    ),
    _rule(
        "invalid_usage",
        USAGE_ERROR,
        r"""
        \boption\ requires\ an\ argument\b | \brequires\ an\ argument\b | \bflag\ needs\ an\ argument\b
        | \bmissing\ (?:operand|argument|required\ (?:argument|parameter|option))\b
        | \bThe\ syntax\ of\ the\ command\ is\ incorrect\b     # cmd.exe
        | \bthe\ input\ device\ is\ not\ a\ TTY\b             # docker / compose exec -t without one
        | \bInput\ redirection\ is\ not\ supported\b         # timeout.exe without a console
        | \bRequired\ parameter\ missing\b | \bToo\ many\ parameters\b   # COMMAND.COM
        | \bCannot\ bind\ parameter\b | \bMissing\ an\ argument\ for\ parameter\b   # PowerShell
        | \bParameterBindingException\b | \bpositional\ parameter\ cannot\ be\ found\b
        | \bCannot\ validate\ argument\ on\ parameter\b | \bdoes\ not\ belong\ to\ the\ set\b   # ValidateSet
        | \bParameterArgumentValidationError\b | \bPositionalParameterNotFound\b   # error ids
        | Es\ wurde\ kein\ Positionsparameter\ gefunden | paramètre\ positionnel   # de, fr
        | \bunterminated\ `s'\ command\b | \binvalid\ command\ code\b | \bunknown\ command:\ `   # sed
        | \btoo\ many\ arguments\b | \bextra\ operand\b
        | \bmay\ not\ be\ used\ with\ stdin\b   # BSD sed -i: the file was taken as its suffix
        | \bmust\ come\ before\ non-option\ arguments\b   # git: an option after the operands
        | \bbad\ flag\ '-[^'\n]{1,100}'\ used\ after\ filename\b  # (older git's wording)
        """,
        "the program was called the wrong way",
    ),
    # ---- version ----------------------------------------------------------------------------
    _rule(
        "index_unreachable",
        SERVICE_UNAVAILABLE,
        r"""
        \bupdating\ and\ opening\ [^\n]{1,300}:\ temporary\ error\b   # apk: the index fetch failed
        """,
        "a package manager that could not fetch its index says the package does not exist: transient",
    ),
    _rule(
        "version",
        VERSION_MISMATCH,
        r"""
        \#requires\ statement | \brequires?\ (?:a\ )?(?:newer|later|at\ least)\b[^\n]{0,40}\bversion\b
        | \bnot\ supported\ (?:in|on|by)\ this\ version\b | \bis\ not\ supported\ in\ this\ version\b
        | \bversion\ `?GLIBC_[\d.]+'?\ not\ found\b | \bminimum\ (?:required\ )?version\b
        | \bunsupported\ (?:protocol\ )?version\b | \bversion\ mismatch\b | \bincompatible\ version\b
        | \bclient\ version\ [\d.]+\ is\ too\ (?:new|old)\b | \bnewer\ version\ of\ \S+\ is\ required\b
        | \brequires\ \S{1,40}\ version\ [\d.]+\ or\ (?:above|later|newer)\b   # libpq 10 for SCRAM
        | \bdoes\ not\ contain\ a\ method\ named\b          # PowerShell on an older .NET
        | \bUnknown\ (?:collation|character\ set):         # MySQL 8 dump into MariaDB / MySQL 5.7
        | \bUnknown\ system\ variable\b
        | Couldn't\ execute\ '[^\n]{0,2000}':\ Unknown\ (?:table|column)   # client newer than the server
        | \bexternally-managed-environment\b              # PEP 668: the distribution's pip is off limits
        | \bhas\ not\ been\ booted\ with\ systemd\b | \bRunning\ in\ chroot,\ ignoring\ request\b
        | \bis\ not\ available,\ but\ is\ referred\ to\ by\ another\ package\b   # apt: dropped
        | \bhas\ no\ installation\ candidate\b | ^No\ package\ \S{1,200}\ available\.   # apt, yum
        | \bNo\ match\ for\ argument:\ | \bunable\ to\ select\ packages:           # dnf, apk
        """,
        "the program or host lacks what was asked: too old, too new, or built or packaged without it",
    ),
    _rule(
        "tls_protocol",
        VERSION_MISMATCH,
        r"""
        \bCould\ not\ create\ SSL/TLS\ secure\ channel\b   # .NET's default protocols (PowerShell 5.1)
        | \bAn\ unexpected\ error\ occurred\ on\ a\ send\b
        | \bunsupported\ protocol\b | \balert\ protocol\ version\b | \bno\ protocols\ available\b
        | \bSSL\ routines[^\n]{0,80}(?:version\ too\ low|unsupported)
        """,
        "the client and the server share no TLS protocol version: the same every time",
    ),
    _rule(
        "tls_certificate",
        CONFIGURATION_ERROR,
        r"""
        \bcertificate\ verify\ failed\b | \bunable\ to\ get\ local\ issuer\ certificate\b
        | \bself[-\ ]signed\ certificate\b | \bcertificate\ has\ expired\b
        | \bx509:\ certificate\b | \bremote\ certificate\ is\ invalid\b | \bSEC_E_UNTRUSTED_ROOT\b
        | \bcould\ not\ establish\ trust\ relationship\b
        """,
        "the server's certificate is not trusted here",
    ),
    _rule(
        "ps_ie_engine",
        CONFIGURATION_ERROR,
        r"""\bInternet\ Explorer\ engine\ is\ not\ available\b""",
        "Windows PowerShell's Invoke-WebRequest parses with Internet Explorer, never started on this host",
    ),
    # ---- authentication and permission (auth first: ssh says "Permission denied (publickey)") --
    _rule(
        "authentication",
        AUTHENTICATION_FAILURE,
        r"""
        \bPermission\ denied\ \((?:publickey|password|keyboard-interactive|gssapi)[^)]*\)
        | \bauthentication\ (?:failed|failure)\b | \bpassword\ authentication\ failed\b
        | \bAccess\ denied\ for\ user\ '[^'\n]*'@       # MySQL
        | \bLogin\ failed\ for\ user\b | \bLogon\ failure\b | \bincorrect\ password\b
        | \buser\ name\ or\ password\ is\ incorrect\b | \binvalid\ (?:credentials|username\ or\ password)\b
        | \b401\ Unauthorized\b | \bBad\ credentials\b | \bnot\ authenticated\b
        | \bincorrect\ password\ attempts\b | \bsession\ has\ expired\b
        """,
        "who you are was refused",
    ),
    _rule(
        "permission",
        PERMISSION_DENIED,
        r"""
        \bPermission\ denied\b | \bAccess\ (?:is\ )?denied\b | \bOperation\ not\ permitted\b
        | \bEACCES\b | \bEPERM\b | \bmust\ be\ (?:run\ as\ )?root\b | \bare\ you\ root\b
        | \brequires?\ (?:elevation|administrator|root|superuser)\b | \bUnauthorizedAccessException\b
        | \bAccess\ to\ the\ [^\n]{0,300}\ is\ denied\b | \binsufficient\ privileges?\b
        | \bAdministrator\ privilege\ required\b | \bRead-only\ file\ system\b
        | \bcommand\ denied\ to\ user\b | \bpermission\ denied\ for\ (?:table|relation|schema|database)\b
        | \bnot\ in\ the\ sudoers\ file\b | \b403\ Forbidden\b
        | \bInteractive\ authentication\ required\b          # polkit: systemctl without sudo
        | \bname\ org\.freedesktop\.PolicyKit1\ was\ not\ provided\b   # the same, with no polkit to ask
        | \bare\ you\ root\b | \bneeds?\ to\ be\ run\ as\ root\b | \bonly\ root\ can\b
        | \bZugriff\ verweigert\b | \bAccès\ refusé\b | \bAcceso\ denegado\b   # de, fr, es
        """,
        "the account may not do this",
    ),
    # ---- transient --------------------------------------------------------------------------
    _rule(
        "dns",
        DNS,
        r"""
        \bCould\ not\ resolve\ (?:host|hostname)\b | \bName\ or\ service\ not\ known\b
        | \bTemporary\ failure\ in\ name\ resolution\b | \bnodename\ nor\ servname\b
        | \bgetaddrinfo\ (?:ENOTFOUND|EAI_AGAIN)\b | \bNo\ such\ host\ is\ known\b
        | \bUnknown\ host\b | \bcould\ not\ find\ host\b | \bNXDOMAIN\b | \bserver\ can't\ find\b
        | \bcould\ not\ resolve\b | \bTemporary\ failure\ resolving\b | \bunable\ to\ resolve\ host\ address\b
        """,
        "a name did not resolve",
    ),
    _rule(
        "timeout",
        TIMEOUT,
        r"""
        \btimed?[\ -]?out\b | \bETIMEDOUT\b | \bdeadline\ exceeded\b
        | \btimeout\ (?:expired|exceeded|occurred|reached|was\ reached)\b | \bOperation\ timeout\b
        | \bLock\ wait\ timeout\b | \bi/o\ timeout\b
        """,
        "something did not answer in time",
    ),
    _rule(
        "service",
        SERVICE_UNAVAILABLE,
        r"""
        \b503\ Service\ (?:Temporarily\ )?Unavailable\b | \bService\ Unavailable\b
        | \bCannot\ connect\ to\ the\ Docker\ daemon\b | \bIs\ the\ docker\ daemon\ running\b
        | \bCould\ not\ get\ lock\b | \bis\ locked\ by\ another\b | \bResource\ temporarily\ unavailable\b
        | \bToo\ many\ requests\b | \b429\b[^\n]{0,20}\brequests?\b | \btry\ again\ later\b
        | \bCan't\ connect\ to\ (?:local\ )?MySQL\ server\b | \bserver\ is\ (?:busy|starting\ up)\b
        | \bdatabase\ system\ is\ starting\ up\b | \bFailed\ to\ connect\ to\ bus\b
        | \bUnable\ to\ contact\ the\ server\b
        | \b50[234]\ (?:Bad\ Gateway|Gateway\ Time-?out|Service)\b | \brate\ limit(?:ed|\ exceeded)?\b
        | \btemporarily\ unavailable\b | \bis\ currently\ unavailable\b | \bMySQL\ server\ has\ gone\ away\b
        | \bDeadlock\ found\b | \bholding\ the\ yum\ lock\b | \bWaiting\ for\ cache\ lock\b
        | \bdpkg\ frontend\ lock\b[^\n]{0,80}\bheld\ by\b | \bis\ not\ ready\b | \bnot\ ready\ yet\b
        """,
        "a service the command needs is down or busy",
    ),
    _rule(
        "network",
        NETWORK,
        r"""
        \bConnection\ refused\b | \bNo\ route\ to\ host\b | \bNetwork\ is\ unreachable\b
        | \bConnection\ reset\b | \bECONNREFUSED\b | \bECONNRESET\b | \bEHOSTUNREACH\b
        | \bFailed\ to\ connect\ to\b | \bCould\ not\ connect\ to\b | \bunable\ to\ connect\b
        | \bkex_exchange_identification\b | \bBroken\ pipe\b | \bSSL_ERROR_SYSCALL\b
        | \bRPC\ server\ is\ unavailable\b | \bHost\ is\ down\b | \bconnection\ (?:closed|lost)\b
        | \bcannot\ connect\ to\b | \bnetwork\ path\ was\ not\ found\b
        | \bconnection\ to\ the\ server\ \S{1,200}\ was\ refused\b | \bNetwork\ is\ down\b
        | \b100%\ packet\ loss\b | \bDestination\ Host\ Unreachable\b | \bunexpected\ EOF\b
        | ^Error\ response\ from\ daemon:\ [^\n]{0,300}:\ EOF\s*$    # a registry dropped the connection
        """,
        "the network between here and there failed",
    ),
    # ---- configuration and not found ---------------------------------------------------------
    _rule(
        "configuration",
        CONFIGURATION_ERROR,
        r"""
        \[emerg\] | \bconfiguration\ file\ [^\n]{0,200}\ test\ failed\b | \binvalid\ configuration\b
        | \bconfig(?:uration)?\ (?:error|is\ invalid|file\ is\ invalid)\b
        | \bJob\ for\ \S+\ failed\ because\b | \bis\ not\ configured\b | \bmissing\ required\ config
        | \bfailed\ to\ (?:parse|load)\ (?:config|configuration)\b | \bMisconfiguration\b
        """,
        "a configuration stops it",
    ),
    _rule(
        "not_found",
        NOT_FOUND,
        r"""
        \bNo\ such\ file\ or\ directory\b | \bcannot\ find\ the\ (?:path|file)\b | \bFile\ not\ found\b
        | \bdoes\ not\ exist\b | \bdoesn't\ exist\b | \bCannot\ find\ path\b | \bItemNotFoundException\b
        | \bcould\ not\ be\ found\b | \bUnit\ \S+\ not\ found\b | \bUnable\ to\ locate\ package\b
        | \b404\ Not\ Found\b | \bno\ such\ (?:container|image|host|user|table|object|device)\b
        | \bNo\ (?:available\ )?(?:formula|package|module)\b[^\n]{0,40}\bfound\b | \bNo\ module\ named\b
        | \bPath\ not\ found\b | \bUnknown\ package\b | \bno\ matches\ found\b | \bCould\ Not\ Find\b
        | \bno\ valid\ module\ file\ was\ found\b | \bnot\ found\b
        """,
        "a file, package, unit or object it names is not there",
    ),
    # ---- generic fall-backs ------------------------------------------------------------------
    _rule(
        "generic_unsupported",
        USAGE_ERROR,
        r"""
        ^usage:\ | \bnot\ supported\b | \bunsupported\b | \binvalid\ (?:argument|syntax|command)\b
        | \billegal\ (?:argument|instruction|command)\b | \bunrecognized\b
        """,
        "the program rejected how it was called (generic wording)",
    ),
)

_MAX_SCAN = 20_000  # rules run over head and tail of long outputs only


def classify(exit_code: int | None, output: str | None) -> Classification | None:
    """The failure class of a command's result, or None when it succeeded.

    ``exit_code`` 0 is success whatever was printed; None means unknown, and then only an output
    that a rule recognises makes it a failure.
    """
    text = output if isinstance(output, str) else ("" if output is None else str(output))
    if len(text) > _MAX_SCAN:
        text = text[: _MAX_SCAN // 2] + "\n" + text[-_MAX_SCAN // 2 :]
    if exit_code == 0:
        return None
    for rule in RULES:
        m = rule.regex.search(text)
        if m:
            cls = rule.failure_class
            return Classification(cls, cls in TRANSIENT_CLASSES, rule.name, m.group(0).strip()[:200])
    if exit_code is None:
        return None
    by_code = {
        127: COMMAND_NOT_FOUND,  # POSIX: the shell could not find the program
        126: PERMISSION_DENIED,  # found but not executable
        124: TIMEOUT,  # GNU timeout(1) killed it
        9009: COMMAND_NOT_FOUND,  # cmd.exe's %ERRORLEVEL% for an unknown program
    }
    cls = by_code.get(exit_code, UNKNOWN)
    return Classification(cls, cls in TRANSIENT_CLASSES, f"exit:{exit_code}", "")
