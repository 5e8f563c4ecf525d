"""Redaction of secrets from text before it is stored: commands, their output, error messages,
contexts, file change descriptions, audit diffs, log lines.

Two layers:

* ``RULES``, an ordered table of named rules (like Sentry's message parameterisation), each
  one or more verbose regexes with a comment per guard. Specific shapes come first (private
  keys, URLs with a password, vendors' token formats, URL-encoded forms, programs' password
  options — mysql, sqlcmd, snmpwalk, ssh-keygen, az, aws, kubectl, rabbitmqctl, installers —,
  SQL, XML, network devices' configurations), generic ``NAME=value`` assignments and prose
  last, so the most telling label wins. ``tests/corpora/secrets.jsonl`` holds realistic
  shapes for every rule, by family, and ``not_secrets.jsonl`` what must stay as it is.
* ``KnownSecrets`` (``vault/known.py``): every secret stored in the vault, as keyed hashes
  (HMAC-SHA256 under a key derived from the vault keyring) and lengths, never in plain text,
  so a stored password is removed wherever it appears verbatim, even with no rule around it.

Redacted text keeps its shape so the learning engine still sees the command:
``mysql -u root -p[REDACTED:password] app``, ``https://bob:[REDACTED:password]@host/``,
``Authorization: Bearer [REDACTED:token]``, ``[REDACTED:private_key]``.

``redact`` never raises (if something inside it fails, the whole text is withheld rather than
stored unredacted), is idempotent (a placeholder is never a value to redact again), and runs in
linear time: every repetition is bounded or cannot overlap with what follows it.

What ``redact`` returns is a :class:`Redacted`: text that is redacted already, and that the
write path (``db/redaction.py``) therefore stores as it is instead of redacting it again. Only
this module makes one, and anything done to one (a slice, a concatenation, ``strip``) is a
plain ``str`` again: text is taken as clean because of where it came from, never because a
caller says so. Between this process and a fork of it (an import's reading process) the mark
crosses with ``seal`` / ``unseal``, under a key only the two hold.

Speed: it runs on every captured command and output. Case-insensitive rules match the
lower-cased text (compiled without IGNORECASE, which would stop the regex engine from scanning
for a literal prefix), and every pattern starts with a literal or a small character set, with
its "not inside a longer word" guard written as a lookbehind *after* that literal. Each pattern
also has a gate, strings one of which any match contains: a short text is swept for all gates
at once and only the patterns they open run. About 15-20 us a command and 8-10 MB/s on logs
(bench/redact.py); the gates' substring searches are most of the cost on long text.
"""

from __future__ import annotations

import array
import functools
import hashlib
import hmac
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from mspmode.vault.known import KnownSecrets

__all__ = [
    "PLACEHOLDER",
    "RULES",
    "Redacted",
    "Rule",
    "Sealed",
    "placeholder",
    "redact",
    "redact_value",
    "seal",
    "unseal",
]

PLACEHOLDER = re.compile(r"\[REDACTED:[a-z_]{1,40}\]")
_WITHHELD = "[REDACTED:unredactable]"


def placeholder(label: str) -> str:
    return f"[REDACTED:{label}]"


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _lower(text: str) -> str:
    """``text`` in lower case, character for character, so offsets in it are offsets in text."""
    lowered = text.lower()
    # lower() can only lengthen a string ("İ" becomes two characters); then fold ASCII only.
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


# --------------------------------------------------------------------------------------------
# Building blocks shared by the rules (verbose-mode fragments), used through the macros below.

# A value that is no literal secret, or one already redacted.
_NOT_A_VALUE = r"""
    (?=\S)                               # a value starts at a visible character, never at a space
    (?!['"]?\[(?:REDACTED|redacted):)    # already redacted (lower-cased when the rule reads that)
    (?!"?\$[A-Za-z_{(])                  # a shell/PowerShell variable or $(...): the secret is elsewhere
    (?!['"]?%[A-Za-z_][A-Za-z0-9_]*%)    # a cmd.exe %VARIABLE%
    (?!['"]?<[^<>\s]{1,40}>)             # a <placeholder> in usage text and documentation
"""

# An unquoted value: up to whitespace, a quote or a shell operator, and not ending in the
# punctuation that closes the surrounding text ("(using password: YES)", "key=x, y", "id: x:").
_BARE = r"""[^\s'"`;|&]*[^\s'"`;|&,:)\]}]"""


def _value(bare: str = _BARE) -> str:
    """A secret value: single-quoted (PowerShell doubles '' inside), double-quoted (backslash
    escapes) or bare. Only the part inside the quotes is replaced, so the quotes stay."""
    return (
        r"(?:'(?P<secret_sq>(?:[^'\r\n]|'')+)'"
        r'|"(?P<secret_dq>(?:[^"\\\r\n]|\\.)+)"'
        f"|(?P<secret>{bare}))"
    )


def _words(names: str, before: str) -> str:
    """Any of the ``|``-separated literal ``names``, not preceded by a character of the class
    ``before``. The names' common prefix comes first and the lookbehind after it, so the regex
    engine can scan for that literal instead of trying the pattern at every position."""
    words = [name.strip() for name in names.split("|")]
    prefix = words[0]
    for word in words[1:]:
        while not word.startswith(prefix):
            prefix = prefix[:-1]
    rests = "|".join(re.escape(word[len(prefix) :]) for word in sorted(words, key=len, reverse=True))
    if prefix:
        literal = re.escape(prefix)
        return f"{literal}(?<!{before}{literal})(?:{rests})"
    return "(?:" + "|".join(f"{re.escape(w)}(?<!{before}{re.escape(w)})" for w in words) + ")"


# What may not come right before a header name, or before a program name.
_HEADER_CHAR = r"[\w-]"
_PROGRAM_CHAR = r"[\w.\-]"


def _suffixed(names: str, suffix: str, before: str) -> str:
    """Like ``_words`` for names that all end in ``suffix`` (x-api-key, api-key): the match
    starts at the suffix, and lookbehinds check which name it ends."""
    checks = "|".join(
        f"(?<={re.escape(n.strip())})(?<!{before}{re.escape(n.strip())})" for n in names.split("|")
    )
    return f"{re.escape(suffix)}(?:{checks})"


def _args(stop: str) -> str:
    """The other arguments of the same command before the option ``stop`` (; | & or a line
    break end a command). Each is a whole word, so trying them costs one pass."""
    return rf"(?:[ \t]+(?!{stop})[^\s;|&]+){{0,24}}?"


# The secret of a connection string's key=value pair; the value ends at ";".
_CONNECTION_VALUE = r"""
    =                                    # no spaces around it: "password = x" is code
    <<NOT_A_VALUE>>
    (?:
      \{(?P<secret_br>(?:[^}\r\n]|\}\})+)\}                                 # ODBC {braced}; }} is a brace
    | "(?P<secret_dq>(?:[^"\r\n]|"")+)"                                     # quoted; "" is a quote
    | '(?P<secret_sq>(?:[^'\r\n]|'')+)'
    | (?P<secret_sp>[^;\s"'{][^;\s"']*(?:[ \t]+[^;\s"'=]+){1,20}?)(?=[ \t]*;)  # spaces, when ; ends it
    | (?P<secret>[^;\s"'{][^;\s"']*)
    )
"""

# Patterns are written with these macros, expanded before compiling:
#   <<NOT_A_VALUE>>        the guards above           <<VALUE>>, <<VALUE:bare>>  a secret value
#   <<QUOTED>>             a quoted secret value      <<CONNECTION_VALUE>>       "=value" up to ;
#   <<PROGRAM:a|b>>        a program's name, not inside a longer name ("/usr/bin/mysql" is one)
#   <<WORD:a|b>>           a word, not inside a longer word
#   <<ARGS:stop>>          the other arguments of a command, up to the option ``stop``
_MACRO = re.compile(r"<<(?P<name>[A-Z_]+)(?::(?P<arg>.*?))?>>", re.DOTALL)


def _expand(pattern: str) -> str:
    def one(m: re.Match[str]) -> str:
        name, arg = m.group("name"), m.group("arg") or ""
        if name == "NOT_A_VALUE":
            return _NOT_A_VALUE
        if name == "VALUE":
            return _value(arg) if arg else _value()
        if name == "QUOTED":
            return _value("(?!)")  # never matches: only the quoted forms remain
        if name == "CONNECTION_VALUE":
            return _expand(_CONNECTION_VALUE)
        if name == "PROGRAM" and arg:
            return _words(arg, _PROGRAM_CHAR)
        if name == "WORD" and arg:
            return _words(arg, r"\w")
        if name == "ARGS" and arg:
            return _args(arg)
        raise ValueError(f"unknown macro {m.group(0)}")

    return _MACRO.sub(one, pattern)


# --------------------------------------------------------------------------------------------
# Value checks the regexes cannot express cheaply. Each gets the match (over the text the
# pattern read, maybe lower-cased), the value as it stands in the original text, and the name
# of the group that captured it ("secret" for an unquoted value).

Accept = Callable[[re.Match[str], str, str], bool]

_NOT_SECRET_WORDS = frozenset(
    """yes no true false none null nil on off n/a na empty unset not required optional hidden
    redacted masked set changed expired incorrect invalid wrong missing disabled enabled never
    unknown default blank prompt ask same files compat systemd sss winbind ldap nis""".split()
)
_PATHLIKE = re.compile(r"(?:[/~]|\.\.?[/\\]|[A-Za-z]:\\|\\\\|https?://)")
# A file the secret is read from, not the secret: ./db.pw, ~/.pgpass, /run/secrets/db, C:\x.
_FILE_PATH = re.compile(r"(?:\.\.?[/\\]|~[/\\]|/[\w.\-]+/|[A-Za-z]:\\|\\\\)")


def _is_word(value: str) -> bool:
    return value.lower().strip(".") in _NOT_SECRET_WORDS


# Keys and tokens are base64, hex or URL-safe text: braces, commas or parentheses mean an
# object's repr or a sentence (AppWindowToken{9f4ef63, SIMPLE),E23), and three dotted labels
# a name (com.apple.xpc.activity).
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_\-.+/=~:%$!@#*^]+")
_DOTTED_NAME = re.compile(r"[a-z0-9\-]+(?:\.[a-z0-9\-]+){2,}")


def _looks_random(value: str) -> bool:
    """A key or token, not a name: long enough, not a path, with a digit or mixed case."""
    if len(value) < 8 or _PATHLIKE.match(value) or _is_word(value):
        return False
    if not _TOKEN_TEXT.fullmatch(value) or _DOTTED_NAME.match(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return (has_digit and has_alpha) or (mixed and len(value) >= 16) or (has_digit and len(value) >= 16)


def _looks_like_password(value: str) -> bool:
    """A password in prose ("the password is Winter2024!"), not an ordinary word ("incorrect")."""
    if len(value) < 4 or _is_word(value):
        return False
    if any(c.isdigit() for c in value) or any(not c.isalnum() for c in value):
        return True
    return any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)


def _label_for_name(name: str) -> str:
    lowered = name.lower()
    if "token" in lowered or lowered.endswith(("auth", "bearer")) or lowered == "pat":
        return "token"
    if lowered.endswith("key"):
        return "api_key"
    if "secret" in lowered:
        return "secret"
    return "password"


# An unquoted value that computes the secret rather than being it: a cmdlet, a call, an index.
_EXPRESSION = re.compile(
    r"""(?:Get|Read|ConvertTo|ConvertFrom|New|Import|Invoke|Unprotect|Select)-[A-Z]\w*
      | [A-Za-z_][\w.]*[(\[].*""",
    re.VERBOSE,
)


def _accept_named_value(match: re.Match[str], value: str, group: str) -> bool:
    name = (match.group("name") or "").lower()
    if group == "secret" and _EXPRESSION.fullmatch(value):
        return False
    if _label_for_name(name) in ("token", "api_key"):
        return _looks_random(value)
    if _is_word(value) or _is_word(value.split()[0]) or _FILE_PATH.match(value):
        return False
    # $PWD / OLDPWD in `env` output is the working directory, not a password.
    return not (name.endswith("pwd") and value[:1] in "/~")


_OPTIONAL_VALUE_PROGRAM = re.compile(
    r"""(?:^|[\s;|&('"/\\])
        (?:mysql\w*|mariadb[\w-]*|psql|pg_\w+|createdb|dropdb|createuser|dropuser|vacuumdb|reindexdb|
           clusterdb)
        (?:\.exe)?[ \t][^;|&\n]*$""",
    re.VERBOSE,
)


def _accept_cli_option(match: re.Match[str], value: str, group: str) -> bool:
    name = match.group("name").lower()
    # `mysql --password db` and `psql --password db` prompt for the password: for them a
    # separate word after --password is the database, never the password.
    if match.groupdict().get("spaced") and name in ("password", "pass", "passwd"):
        start = match.start()
        line_start = match.string.rfind("\n", max(0, start - 400), start) + 1
        if _OPTIONAL_VALUE_PROGRAM.search(match.string, max(line_start, start - 400), start):
            return False
    if name.endswith("secret") and re.match(r"(?:id|src|type|env)=", value):
        return False  # docker build --secret id=x,src=file names a secret, it is not one
    return _accept_named_value(match, value, group)


_CONFIG_KEY = re.compile(r"""[ \t]*(?:-[ \t]+)?["']?[\w.\-]{0,60}""")


def _accept_config_line(match: re.Match[str], value: str, group: str) -> bool:
    # Only a key at the start of its line ("  db_password: x", "- secret = y"): elsewhere a
    # "password: ..." is prose or a log message, which the assignment and prose rules judge.
    text, start = match.string, match.start()
    newline = text.rfind("\n", max(0, start - 80), start)
    if newline < 0 and start > 80:
        return False
    if not _CONFIG_KEY.fullmatch(text, newline + 1, start):
        return False
    return _accept_named_value(match, value, group)


_SEMICOLON_AHEAD = re.compile(r"[ \t]*;")


def _accept_connection(match: re.Match[str], value: str, group: str) -> bool:
    # A later key of a connection string (after ";") is one whatever its value; the first key
    # only when a ";" follows its value, else "password=x" is an assignment for the later rules.
    text, start = match.string, match.start()
    i = start
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    if i > 0 and text[i - 1] == ";":
        return True
    if i > 0 and i == start and text[i - 1] not in "\r\n\"'{(":
        return False  # inside a longer word: PGPASSWORD=, db_password=
    return _SEMICOLON_AHEAD.match(text, match.end()) is not None


def _accept_prose(match: re.Match[str], value: str, group: str) -> bool:
    return _looks_like_password(value) and not _EXPRESSION.fullmatch(value)


def _accept_bearer(match: re.Match[str], value: str, group: str) -> bool:
    return any(c.isdigit() for c in value) or (len(value) >= 20 and _looks_random(value))


_MASKED_VALUE = re.compile(r"\**|\[(?:REDACTED|redacted):[a-z_]{1,40}\]")


def _accept_literal(match: re.Match[str], value: str, group: str) -> bool:
    """A quoted literal unless it is a word (None, true); an unquoted one only when it looks
    like a password ("IDENTIFIED BY Welcome1", not "identified by Windows Defender")."""
    if _is_word(value) or _MASKED_VALUE.fullmatch(value):
        return False
    return group != "secret" or _looks_like_password(value)


def _accept_config_value(match: re.Match[str], value: str, group: str) -> bool:
    """A device's configured secret, whatever it looks like, but a word or a mask."""
    return not _is_word(value) and not _MASKED_VALUE.fullmatch(value)


def _accept_markup_value(match: re.Match[str], value: str, group: str) -> bool:
    stripped = value.strip()
    return bool(stripped) and _accept_config_value(match, stripped, group)


# The rules that take the n-th of several values of one command, by the patterns' order.
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


# --------------------------------------------------------------------------------------------
# The rule table.


@dataclass(frozen=True)
class Pattern:
    """One regex of a rule. ``exact_case`` patterns read the text as it is (AKIA..., mysql -p
    against -P); the others read it lower-cased. ``gate``: lower-case strings one of which
    every match contains, checked with ``in`` before the regex is tried (a test checks that
    gating never changes a result)."""

    regex: re.Pattern[str]
    exact_case: bool
    gate: tuple[str, ...]
    groups: tuple[str, ...]


def _p(source: str, *, gate: tuple[str, ...], exact_case: bool = False, flags: int = 0) -> Pattern:
    regex = re.compile(_expand(source), re.VERBOSE | flags)
    groups = tuple(name for name in regex.groupindex if name.startswith("secret"))
    return Pattern(regex, exact_case, gate, groups)


# On a text up to this long, every gate string is looked for in one sweep and only the
# patterns they open are run; on a longer one each gate is checked when its pattern's turn
# comes (a found string stops the search early, and the answer is kept for other patterns).
_SHORT = 4096


class _Scan:
    """A text being redacted, its lower-cased form, and which gate strings occur in it."""

    __slots__ = ("_present", "gated", "lowered", "short", "text")

    def __init__(self, text: str, *, gated: bool = True) -> None:
        self.short = len(text) <= _SHORT
        self.gated = gated
        self.set(text)

    def set(self, text: str) -> None:
        self.text = text
        self.lowered = _lower(text)
        self._present: dict[str, bool] = {}

    def may_match(self, gate: tuple[str, ...]) -> bool:
        if not self.gated:
            return True
        for needle in gate:
            found = self._present.get(needle)
            if found is None:
                found = self._present[needle] = needle in self.lowered
            if found:
                return True
        return False


@dataclass(frozen=True)
class Rule:
    """One kind of secret: its name (for tests and explanations), the placeholder label, its
    patterns, an optional check of each captured value, and whether the label comes from the
    name the match found (``--api-key`` gives api_key, ``--token`` token)."""

    name: str
    label: str
    patterns: tuple[Pattern, ...]
    accept: Accept | None = None
    label_from_name: bool = False

    def apply(self, text: str) -> str:
        """``text`` with this rule's secrets replaced."""
        scan = _Scan(text)
        self._apply(scan)
        return scan.text

    def _apply(self, scan: _Scan) -> None:
        for pattern in self.patterns:
            if scan.may_match(pattern.gate):
                self._run(pattern, scan)

    def _run(self, pattern: Pattern, scan: _Scan) -> bool:
        """Apply one pattern; True if it changed the text."""
        text = scan.text
        cuts: list[tuple[int, int, str]] = []
        for match in pattern.regex.finditer(text if pattern.exact_case else scan.lowered):
            cuts.extend(self._cuts(match, pattern.groups, text))
        if not cuts:
            return False
        pieces, pos = [], 0
        for start, end, mark in sorted(cuts):
            pieces.append(text[pos:start])
            pieces.append(mark)
            pos = end
        pieces.append(text[pos:])
        scan.set("".join(pieces))
        return True

    def _cuts(self, match: re.Match[str], groups: tuple[str, ...], text: str) -> list[tuple[int, int, str]]:
        cuts = []
        for group in groups:
            start, end = match.span(group)
            if start >= end:
                continue
            value = text[start:end]
            # A value touching a placeholder was redacted already, at least in part: taking
            # it again would only coarsen the text, and would make redact() not idempotent.
            if _touches_placeholder(text, start, end):
                continue
            if self.accept is not None and not self.accept(match, value, group):
                continue
            label = _label_for_name(match.group("name")) if self.label_from_name else self.label
            cuts.append((start, end, placeholder(label)))
        return cuts


def _touches_placeholder(text: str, start: int, end: int) -> bool:
    return any(
        m.start() < end and m.end() > start for m in PLACEHOLDER.finditer(text, max(0, start - 52), end + 52)
    )


def _rule(
    name: str,
    label: str,
    *patterns: Pattern,
    accept: Accept | None = None,
    label_from_name: bool = False,
) -> Rule:
    return Rule(name, label, patterns, accept, label_from_name)


RULES: tuple[Rule, ...] = (
    _rule(
        "private_key",
        "private_key",
        _p(
            r"""
            (?P<secret>
              -----BEGIN[ ](?:[A-Z0-9]{1,20}[ ]){0,3}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----
              [A-Za-z0-9+/=\s\\:,.\-]*?          # base64 lines, Proc-Type/DEK-Info, JSON-escaped \n
              (?:-----END[ ](?:[A-Z0-9]{1,20}[ ]){0,3}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----
                | (?=[^A-Za-z0-9+/=\s\\:,.\-])   # a truncated block ends where the armour's alphabet does
                | \Z)
            )
            """,
            exact_case=True,
            gate=("private",),
        ),
        _p(
            r"""
            (?P<secret>LS0tLS1CRUdJTi(?<![A-Za-z0-9+/]LS0tLS1CRUdJTi)  # "-----BEGIN" in base64: a PEM
              [A-Za-z0-9+/]{0,40}?                  # block encoded whole (Kubernetes secrets, kubeconfig
              (?:UFJJVkFURSBLRV|BSSVZBVEUgS0VZ|QUklWQVRFIEtFW)  # client-key-data), when its header says
              [A-Za-z0-9+/=]*)                      # "PRIVATE KEY" (at any of base64's three alignments)
            """,
            exact_case=True,
            gate=("ls0tls1crudjti",),
        ),
        _p(
            r"""
            Private-Lines:[ \t]*\d+[ \t]*\r?\n      # a PuTTY .ppk key: the lines after this header
            (?P<secret>(?:[A-Za-z0-9+/=]{1,200}(?:\r?\n|\Z))+)
            """,
            exact_case=True,
            gate=("private",),
        ),
    ),
    _rule(
        "url_credentials",
        "password",
        _p(
            r"""
            ://(?<=[a-z0-9]://)                  # after any scheme: https, postgres, mongodb+srv, jdbc:mysql
            [^\s:/?#@'"<>\[\]\\]{0,256}          # the user; empty in redis://:password@host
            :
            (?!\d{1,5}(?:[/?\#\s'"]|$))          # host:port, not user:password
            (?!\[redacted:)                      # already redacted; a $VAR here is taken too (fail closed)
            (?P<secret>[^\s/?#'"<>\\]+)          # the password, up to the last @ before the host
            @
            """,
            gate=("://",),
        ),
    ),
    _rule(
        "authorization_header",
        "token",
        _p(
            r"""
            <<WORD:authorization>>                # the HTTP header (also Proxy-), a JSON or hashtable key
            ["']?[ \t]*[:=][ \t]*["']?
            (?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|sso-key|ssws|otp|hmac|
                   aws4-hmac-sha256|splunk)[ \t]+)?+ # the scheme stays: it says what kind of login
                                                  # it was (possessive: never part of the secret)
            <<NOT_A_VALUE>>
            (?P<secret>[^\s"'][^\r\n"']*)        # the credentials, to the end of the header
            """,
            gate=("authorization",),
        ),
        *(
            _p(
                rf"""
                {_suffixed(names, gate, _HEADER_CHAR)}
                ["']?[ \t]*:[ \t]*["']?           # a header, never key=value (that is an assignment)
                <<NOT_A_VALUE>>
                (?P<secret>[^\s"'][^\r\n"']*)
                """,
                gate=(gate,),
            )
            for gate, names in (
                (
                    "key",
                    "x-api-key|api-key|x-apikey|apikey|ocp-apim-subscription-key|x-functions-key|x-goog-api-key",
                ),
                ("token", "x-auth-token|x-access-token|private-token|x-vault-token"),
                ("cookie", "cookie|set-cookie"),
            )
        ),
    ),
    _rule(
        "custom_auth_header",
        "token",
        _p(
            r"""
            x-(?<![\w-]x-)[a-z0-9\-]{0,40}?       # X-…-Token, X-…-Secret, X-…-Api-Key headers
            (?:token|secret|api-?key|access-key|auth-key|password)   # (X-Consul-Token, X-Auth-Key)
            [ \t]*:[ \t]*["']?
            <<NOT_A_VALUE>>
            (?P<secret>[^\s"'][^\r\n"']*)
            """,
            gate=("x-",),
        ),
        accept=_accept_bearer,
    ),
    _rule(
        "bearer_token",
        "token",
        _p(
            r"""
            <<WORD:bearer>>[ \t]+                # a bearer token outside an Authorization header
            <<NOT_A_VALUE>>
            (?P<secret>[a-z0-9\-._~+/]{8,}=*)
            """,
            gate=("bearer",),
        ),
        accept=_accept_bearer,
    ),
    _rule(
        "jwt",
        "jwt",
        _p(
            r"""
            (?P<secret>eyJ(?<![A-Za-z0-9_\-]eyJ)   # header.payload.signature, each base64url
              [A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)
            """,
            exact_case=True,
            gate=("eyj",),
        ),
    ),
    _rule(
        "aws_secret_key",
        "aws_secret_key",
        _p(
            r"""
            (?:aws_?secret_?(?:access_?)?key|secret_?access_?key)
            ["']?(?:[ \t]*[:=][ \t]*|[ \t]+)["']?  # env, ini, JSON, or `aws configure set NAME VALUE`
            (?P<secret>[a-z0-9/+]{40})(?![a-z0-9/+=])
            """,
            gate=("secret",),
        ),
        _p(
            r"""
            A[KS]IA(?<![A-Z0-9]A[KS]IA)[A-Z0-9]{16}  # right after its access key id, as in
            [\s,;:|"']{1,5}                        # credentials.csv or a pasted pair
            (?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])
            """,
            exact_case=True,
            gate=("akia", "asia"),
        ),
    ),
    _rule(
        "aws_access_key_id",
        "aws_access_key",
        _p(
            r"""
            (?P<secret>A[KS]IA[A-Z0-9]{16})        # long-term and temporary key ids
            (?<![A-Z0-9][A-Z0-9]{20})(?![A-Z0-9])  # not part of a longer run
            """,
            exact_case=True,
            gate=("akia", "asia"),
        ),
        _p(
            r"""
            (?P<secret>A(?:BIA|CCA)[A-Z0-9]{16})   # bearer-token and context-key ids
            (?<![A-Z0-9][A-Z0-9]{20})(?![A-Z0-9])
            """,
            exact_case=True,
            gate=("abia", "acca"),
        ),
    ),
    _rule(
        "github_token",
        "token",
        _p(
            r"""
            (?P<secret>gh[pousr]_(?<![A-Za-z0-9_]gh[pousr]_)   # classic personal, OAuth, app, refresh
              [A-Za-z0-9]{36,255})(?![A-Za-z0-9_])
            """,
            exact_case=True,
            gate=("gh",),
        ),
        _p(
            r"""
            (?P<secret>github_pat_(?<![A-Za-z0-9_]github_pat_)  # fine-grained personal access tokens
              [A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])
            """,
            exact_case=True,
            gate=("github_pat_",),
        ),
    ),
    _rule(
        "gitlab_token",
        "token",
        _p(
            r"""
            (?P<secret>gl(?<![A-Za-z0-9_\-]gl)   # personal, deploy, trigger, runner, job, SCIM, feed,
              (?:pat|dt|ptt|rt|rtr|cbt|soat|ft|imt|agent|oas|ffct|wt)-   # mail, agent, OAuth app, flags
              [A-Za-z0-9_\-]{20,}
              (?:\.[0-9a-z]{2}[0-9a-z]{7})?)       # a routable token's ".<length><crc32>" tail
            """,
            exact_case=True,
            gate=("gl",),
        ),
        _p(
            r"""
            (?P<secret>GR1348941(?<![A-Za-z0-9_\-]GR1348941)[A-Za-z0-9_\-]{20,})  # runner registration
            """,
            exact_case=True,
            gate=("gr1348941",),
        ),
    ),
    _rule(
        "slack_token",
        "token",
        _p(
            r"""
            (?P<secret>xox(?<![A-Za-z0-9_\-]xox)[abposre]-[A-Za-z0-9\-]{10,})  # bot, user, config tokens
            """,
            exact_case=True,
            gate=("xox",),
        ),
        _p(
            r"""
            (?P<secret>xapp-(?<![A-Za-z0-9_\-]xapp-)\d-[A-Za-z0-9\-]{10,})     # app-level tokens
            """,
            exact_case=True,
            gate=("xapp-",),
        ),
    ),
    _rule(
        "webhook_url",
        "token",
        _p(
            r"""hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[a-z0-9/_\-]{20,})""",
            gate=("hooks.slack.com",),
        ),
        _p(
            r"""discord(?:app)?\.com/api/webhooks/\d+/(?P<secret>[a-z0-9_\-]{30,})""",
            gate=("/api/webhooks/",),
        ),
        _p(r"""webhook\.office\.com/webhookb2/(?P<secret>[^\s'"<>]{20,})""", gate=("webhook.office.com",)),
    ),
    _rule(
        "stripe_key",
        "token",
        _p(
            r"""
            (?P<secret>[sr]k_(?<![A-Za-z0-9_][sr]k_)(?:live|test|prod)_[A-Za-z0-9]{10,})  # secret, restricted
            """,
            exact_case=True,
            gate=("k_live_", "k_test_", "k_prod_"),
        ),
        _p(
            r"""
            (?P<secret>whsec_(?<![A-Za-z0-9_]whsec_)[A-Za-z0-9]{20,})   # webhook signing secrets
            """,
            exact_case=True,
            gate=("whsec_",),
        ),
    ),
    _rule(
        "google_api_key",
        "token",
        _p(
            r"""
            (?P<secret>AIza(?<![A-Za-z0-9_\-]AIza)[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])
            """,
            exact_case=True,
            gate=("aiza",),
        ),
        _p(
            r"""
            (?P<secret>GOCSPX-(?<![A-Za-z0-9_\-]GOCSPX-)   # OAuth client secret
              [0-9A-Za-z_\-]{28})(?![0-9A-Za-z_\-])
            """,
            exact_case=True,
            gate=("gocspx-",),
        ),
        _p(
            r"""
            (?P<secret>ya29\.(?<![A-Za-z0-9_\-]ya29\.)[0-9A-Za-z_\-.]{20,})   # OAuth access token
            """,
            exact_case=True,
            gate=("ya29.",),
        ),
        _p(
            r"""
            (?P<secret>1//0(?<![A-Za-z0-9_\-/]1//0)[0-9A-Za-z_\-]{40,})        # OAuth refresh token
            """,
            exact_case=True,
            gate=("1//0",),
        ),
    ),
    _rule(
        "azure_client_secret",
        "client_secret",
        _p(
            r"""
            (?<![A-Za-z0-9_~.\-])
            (?P<secret>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})   # Entra app secret: xxx8Q~...
            (?![A-Za-z0-9_~.\-])
            """,
            exact_case=True,
            gate=("q~",),
        ),
    ),
    _rule(
        "service_token",
        "token",
        *(
            _p(
                rf"(?P<secret>{prefix}(?<![A-Za-z0-9_\-]{prefix}){body})(?![A-Za-z0-9_\-])",
                exact_case=True,
                gate=(prefix.lower().replace("\\", ""),),
            )
            for prefix, body in (
                ("npm_", "[A-Za-z0-9]{36}"),  # npm access token
                ("pypi-AgE", "[A-Za-z0-9_\\-]{50,}"),  # PyPI API token (a macaroon)
                ("SG\\.", "[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43}"),  # SendGrid
                ("dop_v1_", "[a-f0-9]{64}"),  # DigitalOcean personal access token
                ("doo_v1_", "[a-f0-9]{64}"),  # DigitalOcean OAuth token
                ("dor_v1_", "[a-f0-9]{64}"),  # DigitalOcean refresh token
                ("hf_", "[A-Za-z0-9]{34}"),  # Hugging Face
                ("api_org_", "[A-Za-z0-9]{34}"),  # Hugging Face organisation
                ("shp", "(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),  # Shopify access tokens, shared secret
                ("ATATT3", "[A-Za-z0-9_\\-=]{150,}"),  # Atlassian API token
                ("ATBB", "[A-Za-z0-9_=.\\-]{28,}"),  # Bitbucket app password
                ("glc_", "[A-Za-z0-9+/]{32,400}={0,3}"),  # Grafana Cloud
                ("glsa_", "[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),  # Grafana service account
                ("eyJrIjoi", "[A-Za-z0-9]{70,400}={0,3}"),  # Grafana API key
                ("dapi", "[a-f0-9]{32}(?:-\\d)?"),  # Databricks
                ("dp\\.", "(?:pt|st|ct|sa|scim|audit)\\.[A-Za-z0-9]{40,}"),  # Doppler
                ("PMAK-", "[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),  # Postman
                ("HRKU-", "[A-Za-z0-9_\\-]{60}"),  # Heroku
                ("lin_api_", "[A-Za-z0-9]{40}"),  # Linear
                ("ntn_", "[0-9]{11}[A-Za-z0-9]{35}"),  # Notion
                ("sntry", "[su]_[A-Za-z0-9+/=_]{40,}"),  # Sentry org and user tokens
                ("NRAK-", "[A-Za-z0-9]{27}"),  # New Relic user key
                ("NRII-", "[A-Za-z0-9_\\-]{32}"),  # New Relic insert key
                ("pul-", "[a-f0-9]{40}"),  # Pulumi
                ("pscale_", "(?:tkn|pw|oauth)_[A-Za-z0-9_=.\\-]{32,64}"),  # PlanetScale
                ("fo1_", "[A-Za-z0-9_\\-]{43}"),  # Fly.io
                ("AGE-SECRET-KEY-1", "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),  # age
                ("ops_", "eyJ[A-Za-z0-9+/]{200,}={0,3}"),  # 1Password service account
                ("sha256~", "[A-Za-z0-9_\\-]{43}"),  # OpenShift
                ("tskey-", "[a-z]{3,8}-[A-Za-z0-9]{8,}-[A-Za-z0-9]{16,}"),  # Tailscale
                ("sq0", "(?:atp|csp)-[A-Za-z0-9_\\-]{22,60}"),  # Square
                ("dt0c01\\.", "[A-Za-z0-9]{24}\\.[A-Za-z0-9]{64}"),  # Dynatrace
                ("dckr_", "(?:pat|oat)_[A-Za-z0-9_\\-]{27,}"),  # Docker Hub
                ("nfp_", "[A-Za-z0-9]{36}"),  # Netlify
                ("sbp_", "[a-f0-9]{40}"),  # Supabase
                ("pnu_", "[A-Za-z0-9]{36}"),  # Prefect
                ("rubygems_", "[a-f0-9]{48}"),  # RubyGems
                ("oy2", "[a-z0-9]{43}"),  # NuGet
                ("AKCp", "[A-Za-z0-9]{69}"),  # JFrog Artifactory API key
                ("LTAI", "[A-Za-z0-9]{20}"),  # Alibaba Cloud access key id
                ("SK", "[0-9a-f]{32}"),  # Twilio API key
                ("key-", "[a-f0-9]{32}"),  # Mailgun
                ("xkeysib-", "[a-f0-9]{64}-[A-Za-z0-9]{16}"),  # Brevo (Sendinblue)
                ("EAA", "[MC][A-Za-z0-9]{100,}"),  # Facebook / Meta access token
                (
                    "sk-",
                    "(?:ant-[a-z0-9]{2,8}-|proj-|svcacct-|admin-)?[A-Za-z0-9_\\-]{32,}",
                ),  # Anthropic, OpenAI
            )
        ),
    ),
    _rule(
        "telegram_bot_token",
        "token",
        _p(
            r"""
            (?<![0-9])(?P<secret>[0-9]{5,16}:A[A-Za-z0-9_\-]{34})(?![A-Za-z0-9_\-])   # bot id:secret
            """,
            exact_case=True,
            gate=(":a",),
        ),
    ),
    _rule(
        "vault_token",
        "token",
        _p(
            r"""
            (?P<secret>hv[sbr]\.(?<![A-Za-z0-9_\-]hv[sbr]\.)   # HashiCorp Vault service, batch and
              [A-Za-z0-9_\-]{24,})(?![A-Za-z0-9_\-])           # recovery tokens
            """,
            exact_case=True,
            gate=("hvs.", "hvb.", "hvr."),
        ),
        _p(
            r"""
            <<PROGRAM:vault|bao>>[ \t]+login      # vault login TOKEN (a legacy s.… too); never the
            (?:[ \t]+-[\w\-]+(?:=\S+)?){0,6}      # key=value pairs of -method=userpass
            [ \t]+
            <<NOT_A_VALUE>>(?!-)
            (?P<secret>[a-z0-9_.\-]{16,})(?![=\w])
            """,
            gate=("login",),
        ),
        _p(
            r"""
            (?<![A-Za-z0-9])(?P<secret>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70})   # Terraform Cloud
            """,
            exact_case=True,
            gate=("atlasv1",),
        ),
    ),
    _rule(
        "connection_string",
        "password",
        _p(
            r"""
            (?P<name>pwd|password)               # a key of an ADO/ODBC/JDBC connection string
            <<CONNECTION_VALUE>>
            """,
            gate=("pw", "pass"),
        ),
        _p(
            r"""
            (?P<name>accountkey|sharedaccesskey|sharedsecret|user[ ]password)   # Azure storage, Service Bus
            <<CONNECTION_VALUE>>
            """,
            gate=("key", "secret", "pass"),
        ),
        accept=_accept_connection,
    ),
    _rule(
        "url_query_secret",
        "token",
        _p(
            r"""
            [?&]                                 # a query parameter (a SAS token's sig= among them)
            (?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|
               x-goog-credential|access_token|refresh_token|id_token|client_secret|api_key|apikey|key|
               token|password|passwd|pwd|secret|code)
            =
            <<NOT_A_VALUE>>
            (?P<secret>[^&\#\s'"<>]+)
            """,
            gate=("?", "&"),
        ),
    ),
    _rule(
        "url_encoded_secret",
        "password",
        _p(
            r"""
            (?:password|passwd|pwd|pass|passphrase|secret|token|api_key|apikey)
            %3d                                   # "name=value" URL-encoded inside a parameter
            <<NOT_A_VALUE>>
            (?P<secret>(?:[^&%\s'"<>\#]|%(?!26|20|22|27|23)[0-9a-f]{2})+)   # to an encoded & " ' # or space
            """,
            gate=("%3d",),
        ),
        _p(
            r"""
            %22(?:password|passwd|pwd|passphrase|secret|client_secret|token|access_token|api_key|apikey)%22
            (?:%20|\+)*%3a(?:%20|\+)*%22          # '"password": "value"' URL-encoded
            (?P<secret>(?:[^%\s'"<>&]|%(?!22)[0-9a-f]{2})+)
            %22
            """,
            gate=("%22",),
        ),
        _p(
            r"""
            %3a%2f%2f                             # "://" encoded: an encoded URL's user:password@
            [^%\s/@&'"<>]{0,256}
            %3a
            (?P<secret>(?:[^%\s/@&'"<>]|%(?!40|2f|3a)[0-9a-f]{2}){1,256})
            (?:%40|@)
            """,
            gate=("%3a%2f%2f",),
        ),
    ),
    _rule(
        "powershell_securestring",
        "password",
        _p(
            r"""
            convertto-securestring
            (?:[ \t]+-(?:asplaintext|force)\b)*    # the switches may come before the string
            [ \t]+(?:-string[ \t]+)?
            <<NOT_A_VALUE>>
            (?![-(])                              # another parameter, or an expression that computes it
            <<VALUE:[^\s'"`;|&)]+>>
            """,
            gate=("convertto-securestring",),
        ),
        _p(
            r"""
            <<QUOTED>>                            # a literal piped in: 'P@ss' | ConvertTo-SecureString
            [ \t]*\|[ \t]*convertto-securestring\b
            """,
            gate=("convertto-securestring",),
        ),
    ),
    _rule(
        "powershell_credential",
        "password",
        _p(
            r"""
            (?:new-object[ \t]+(?:-typename[ \t]+)?(?:system\.management\.automation\.)?pscredential
              | new-object[ \t]+(?:-typename[ \t]+)?(?:system\.net\.)?networkcredential
              | \[(?:system\.management\.automation\.)?pscredential\]::new
              | \[(?:system\.net\.)?networkcredential\]::new)
            [ \t]*(?:-argumentlist[ \t]*)?(?:@?\([ \t]*)?    # ('u', 'p'), -ArgumentList 'u','p', @(...)
            (?:'[^'\r\n]*'|"[^"\r\n]*"|\$[\w:]+|[^\s,()'"]+)  # the user name
            [ \t]*,[ \t]*
            <<NOT_A_VALUE>>
            <<QUOTED>>                            # a literal password; a SecureString expression is
                                                  # ConvertTo-SecureString's rule
            """,
            gate=("credential",),
        ),
    ),
    _rule(
        "net_user",
        "password",
        _p(
            r"""
            <<PROGRAM:net|net.exe>>[ \t]+user[ \t]+
            (?:"[^"\r\n]*"|[^\s/"*][^\s]*)        # the account
            [ \t]+
            <<NOT_A_VALUE>>
            (?![/*])                              # /switches are not passwords; * prompts for one
            <<VALUE:[^\s/*'"][^\s]*>>
            """,
            gate=("net",),
        ),
    ),
    _rule(
        "net_use",
        "password",
        _p(
            r"""
            <<PROGRAM:net|net.exe>>[ \t]+use
            (?:[ \t]+(?:[a-z0-9]{1,4}:(?=\s|$)   # a device (Z:, LPT1:)
                  | \*                             # the next free drive
                  | \\\\[^\s"]+ | "\\\\[^"\r\n]*"  # the UNC path
                  | /[^\s"]+(?:"[^"\r\n]*")?))*?   # /user:DOM\name, /persistent:no, /savecred
            [ \t]+
            <<NOT_A_VALUE>>
            (?![/*\\])(?!https?://)(?![a-z0-9]{1,4}:(?:\s|$))
            <<VALUE:[^\s/*'"\\][^\s]*>>
            """,
            gate=("net",),
        ),
    ),
    _rule(
        "mysql_password",
        "password",
        _p(
            r"""
            <<PROGRAM:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlpump|mysqlbinlog|
                      mysqlslap|mysqlsh|mariadb|mariadb-dump|mariadb-admin|mariadb-import|mariadb-check|
                      mariadb-show|mariadb-binlog|mariadb-slap|mariabackup>>(?:\.exe)?
            <<ARGS:-p>>
            [ \t]+-p                              # -p with the value attached: `-p value` prompts and
            <<NOT_A_VALUE>>                       # takes value as the database
            <<VALUE:[^\s;|&'"][^\s;|&]*>>
            """,
            exact_case=True,
            gate=("mysql", "maria"),
        ),
        _p(
            r"""
            <<PROGRAM:mysqladmin|mariadb-admin>>(?:\.exe)?   # mysqladmin … password NEW: the new one
            <<ARGS:password\b>>[ \t]+password[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("mysqladmin", "mariadb-admin"),
        ),
    ),
    _rule(
        "sshpass_password",
        "password",
        _p(
            r"""
            <<PROGRAM:sshpass>>
            (?:[ \t]+(?:-[fdP][ \t]*\S+|-[evhV]\b|--\S+))*   # its own options, which come before -p
            [ \t]+-p[ \t]*
            <<NOT_A_VALUE>>
            (?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("sshpass",),
        ),
    ),
    _rule(
        "windows_tool_password",
        "password",
        _p(
            r"""
            <<PROGRAM:psexec|psexec64|paexec>>(?:\.exe)?   # PsExec \\host -u user -p password
            <<ARGS:-p[ \t]>>[ \t]+-p[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            gate=("psexec", "paexec"),
        ),
        _p(
            r"""
            <<PROGRAM:plink|pscp|psftp|putty|kitty>>(?:\.exe)?   # PuTTY tools: -pw password
            <<ARGS:-pw[ \t]>>[ \t]+-pw[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("-p",),
        ),
        _p(
            r"""
            <<PROGRAM:xfreerdp|xfreerdp3|wlfreerdp|sdl-freerdp>>(?:\.exe)?  # FreeRDP: /p:password
            <<ARGS:[/+-]p:>>[ \t]+[/-]p:
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("freerdp",),
        ),
        _p(
            r"""
            <<PROGRAM:schtasks>>(?:\.exe)?        # /P is the password of /U, /RP of /RU
            <<ARGS:/r?p[ \t]>>[ \t]+/r?p[ \t]+
            <<NOT_A_VALUE>>(?![/*])
            <<VALUE>>
            """,
            gate=("schtasks",),
        ),
        _p(
            r"""
            <<PROGRAM:schtasks>>(?:\.exe)?        # and the second of them, when both are given
            <<ARGS:/r?p[ \t]>>[ \t]+/r?p[ \t]+\S+
            <<ARGS:/r?p[ \t]>>[ \t]+/r?p[ \t]+
            <<NOT_A_VALUE>>(?![/*])
            <<VALUE>>
            """,
            gate=("schtasks",),
        ),
        _p(
            r"""
            <<PROGRAM:winrs>>(?:\.exe)?           # WinRS -p:password / -password:password
            <<ARGS:[-/]p(?:assword)?:>>[ \t]+[-/]p(?:assword)?:
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("winrs",),
        ),
        _p(
            r"""
            <<PROGRAM:sc|sc.exe>>[ \t]+(?:\\\\\S+[ \t]+)?(?:config|create)\b   # sc's "password= value"
            <<ARGS:password=>>[ \t]+password=[ \t]*
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("pass",),
        ),
        _p(
            r"""
            <<PROGRAM:certutil>>(?:\.exe)?        # certutil -p password: a PFX's (-importpfx, -exportpfx)
            <<ARGS:-p[ \t]>>[ \t]+-p[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            gate=("certutil",),
        ),
        _p(
            r"""
            <<PROGRAM:vmrun>>(?:\.exe)?           # vmrun -gp guest password, -vp the VM's encryption password
            <<ARGS:-[gv]p[ \t]>>[ \t]+-[gv]p[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("vmrun",),
        ),
        _p(
            r"""
            <<PROGRAM:ldifde|csvde>>(?:\.exe)?    # -b user domain password
            <<ARGS:-b[ \t]>>[ \t]+-b[ \t]+\S+[ \t]+\S+[ \t]+
            <<NOT_A_VALUE>>(?![-*])
            <<VALUE>>
            """,
            gate=("ldifde", "csvde"),
        ),
        _p(
            r"""
            <<WORD:runas|runaswait>>[ \t]*\(       # AutoIt RunAs("user", "domain", "password", …)
            [ \t]*(?:"[^"\r\n]*"|'[^'\r\n]*')[ \t]*,
            [ \t]*(?:"[^"\r\n]*"|'[^'\r\n]*'|@\w+)[ \t]*,[ \t]*
            <<NOT_A_VALUE>>
            <<QUOTED>>
            """,
            gate=("runas",),
        ),
        _p(
            r"""
            <<PROGRAM:rdesktop|evil-winrm>>      # -p password (rdesktop's -P is a cache switch)
            <<ARGS:-p[ \t]>>[ \t]+-p[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("rdesktop", "evil-winrm"),
        ),
    ),
    _rule(
        "database_tool_password",
        "password",
        _p(
            r"""
            <<PROGRAM:sqlcmd|bcp|osql|isql|mssql-cli|sqlcmd.exe|bcp.exe|osql.exe>>   # SQL Server: -P password
            <<ARGS:-P>>[ \t]+-P[ \t]*                                      # (-p prints statistics)
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("-p",),
        ),
        _p(
            r"""
            <<PROGRAM:redis-cli|redis-cli.exe>>   # -a password
            <<ARGS:-a[ \t]>>[ \t]+-a[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("redis-cli",),
        ),
        _p(
            r"""
            <<PROGRAM:mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport|mongostat|mongotop|
                      mongofiles>>(?:\.exe)?      # -p password
            <<ARGS:-p\b>>[ \t]+-p[ \t]*
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("mongo",),
        ),
        _p(
            r"""
            <<PROGRAM:ldapsearch|ldapmodify|ldapadd|ldapdelete|ldappasswd|ldapwhoami|ldapcompare|
                      ldapmodrdn|ldapexop|ldapurl>>
            <<ARGS:-w>>[ \t]+-w[ \t]*             # -w password (-W prompts)
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("ldap",),
        ),
        _p(
            r"""
            <<PROGRAM:ldappasswd>>                # -s new password
            <<ARGS:-s>>[ \t]+-s[ \t]*
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("ldap",),
        ),
        _p(
            r"""
            <<PROGRAM:ipmitool>>                  # -P password
            <<ARGS:-P>>[ \t]+-P[ \t]*
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("ipmitool",),
        ),
        *(
            _p(
                rf"""
                <<PROGRAM:{programs}>>(?:\.exe)?
                (?:[ \t]+-\w+)*[ \t]+
                (?:(?:target|catalog|auxiliary)[ \t]+|userid=)?
                (?:"[^"\r\n]*"|[^\s/@"'=]+)       # Oracle user/password@service
                /
                <<NOT_A_VALUE>>
                (?P<secret>[^\s@"']+)
                """,
                gate=gate,
            )
            for gate, programs in (
                (("sql",), "sqlplus|sqlldr"),
                (("exp", "imp"), "expdp|impdp|exp|imp"),
                (("rman", "dgmgrl"), "rman|dgmgrl"),
            )
        ),
    ),
    _rule(
        "redis_password",
        "password",
        _p(
            r"""
            <<WORD:requirepass|masterauth>>        # redis.conf, or CONFIG SET requirepass VALUE
            ["']?[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("requirepass", "masterauth"),
        ),
        _p(
            r"""
            <<PROGRAM:redis-cli>>(?:\.exe)?        # redis-cli … AUTH [user] password
            <<ARGS:auth\b>>
            [ \t]+auth(?:[ \t]+[^\s;|&'"]+)?[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            (?=[ \t]*(?:[;|&\r\n]|\Z))             # the last word: after a user name, the second
            """,
            gate=("redis-cli",),
        ),
        _p(
            r"""
            <<WORD:acl>>[ \t]+setuser[ \t]+\S+     # ACL SETUSER name on >password
            (?:[ \t]+[^\s>'"]\S*){0,20}?
            [ \t]+['"]?>
            <<NOT_A_VALUE>>
            (?P<secret>[^\s'"]+)
            """,
            gate=("setuser",),
        ),
    ),
    _rule(
        "sql_password",
        "password",
        _p(
            r"""
            <<WORD:identified>>[ \t]+             # MySQL, MariaDB, Oracle: IDENTIFIED [WITH plugin] BY 'x'
            (?:with[ \t]+["'`]?\w+["'`]?[ \t]+)?
            by[ \t]+(?:password[ \t]+|values[ \t]+)?+   # (BY PASSWORD / BY VALUES: a hash, secret too)
            <<NOT_A_VALUE>>
            <<VALUE:[^\s;'"`,)]+>>
            """,
            gate=("identified",),
        ),
        _p(
            r"""
            <<WORD:password>>                     # PostgreSQL [ENCRYPTED] PASSWORD 'x', T-SQL PASSWORD = 'x',
            (?:[ \t]*=[ \t]*|[ \t]*\([ \t]*|[ \t]+)   # MySQL PASSWORD('x'): a string literal only, since
            <<NOT_A_VALUE>>                       # "password is" and "password: x" are prose's
            <<QUOTED>>
            """,
            gate=("pass",),
        ),
        _p(
            r"""
            <<WORD:set>>[ \t]+password            # SET PASSWORD [FOR 'u'@'h'] = [PASSWORD(]'x'
            (?:[ \t]+for[ \t]+[^\s=]+)?[ \t]*=[ \t]*
            (?:(?:old_)?password[ \t]*\([ \t]*)?
            <<NOT_A_VALUE>>
            <<QUOTED>>
            """,
            gate=("pass",),
        ),
        accept=_accept_literal,
    ),
    _rule(
        "archive_password",
        "password",
        _p(
            r"""
            <<PROGRAM:7z|7za|7zz|7zr>>(?:\.exe)?
            <<ARGS:-p>>[ \t]+-p                   # -pPASSWORD, attached; a bare -p prompts
            <<NOT_A_VALUE>>(?![\s-])
            <<VALUE>>
            """,
            exact_case=True,
            gate=("7z",),
        ),
        _p(
            rf"""
            {_suffixed("rar|unrar|winrar", "rar", _PROGRAM_CHAR)}(?:\.exe)?   # RAR, the same way
            <<ARGS:-p>>[ \t]+-p
            <<NOT_A_VALUE>>(?![\s-])
            <<VALUE>>
            """,
            exact_case=True,
            gate=("rar",),
        ),
        _p(
            r"""
            <<PROGRAM:zip|unzip|zipcloak|funzip>>(?:\.exe)?
            <<ARGS:-P[ \t]>>[ \t]+-P[ \t]+        # -P password
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("zip",),
        ),
    ),
    _rule(
        "openssl_password",
        "password",
        _p(
            r"""
            -pass(?:in|out|word)?[ \t]+pass:      # openssl's pass:PASSWORD argument source
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("pass",),
        ),
    ),
    _rule(
        "login_password",
        "password",
        _p(
            r"""
            <<PROGRAM:docker|podman|buildah|nerdctl|skopeo|oras|crane|helm|az|cf|oc>>
            (?:[ \t]+(?:registry|acr))?[ \t]+login   # registry and cloud logins: -p password
            <<ARGS:-p\b>>[ \t]+-p[ \t]*
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("login",),
        ),
    ),
    _rule(
        "secret_store_option",
        "secret",
        _p(
            r"""
            <<PROGRAM:az>>(?:\.cmd)?[ \t]+keyvault[ \t]+secret[ \t]+set\b   # az keyvault secret set --value X
            <<ARGS:--value\b>>[ \t]+--value(?:=|[ \t]+)
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            gate=("keyvault",),
        ),
        _p(
            r"""
            <<PROGRAM:aws>>(?:\.exe)?[ \t]+secretsmanager[ \t]+       # --secret-string X of create-secret,
            (?:create-secret|put-secret-value|update-secret)\b        # put-secret-value, update-secret
            <<ARGS:--secret-string\b>>[ \t]+--secret-string(?:=|[ \t]+)
            <<NOT_A_VALUE>>(?!-)(?!file://)       # (file:// names the file it is read from)
            <<VALUE>>
            """,
            gate=("secretsmanager",),
        ),
        _p(
            r"""
            <<PROGRAM:aws>>(?:\.exe)?[ \t]+ssm[ \t]+put-parameter\b   # a SecureString parameter's --value
            (?=[^\r\n;|&]{0,2000}?securestring)
            <<ARGS:--value\b>>[ \t]+--value(?:=|[ \t]+)
            <<NOT_A_VALUE>>(?!-)(?!file://)
            <<VALUE>>
            """,
            gate=("put-parameter",),
        ),
        _p(
            r"""
            <<PROGRAM:security>>[ \t]+add-(?:generic|internet)-password\b   # macOS keychain: -w password
            <<ARGS:-w\b>>[ \t]+-w[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            gate=("-password",),
        ),
    ),
    _rule(
        "secret_store_value",
        "secret",
        *(
            _p(
                rf"""
                <<PROGRAM:kubectl|oc>>[^\r\n;|&]{{0,300}}?[ \t]create[ \t]+secret\b   # kubectl create
                (?:<<ARGS:--from-literal>>[ \t]+--from-literal[= ]\S+){{{n}}}     # secret …: the {ordinal}
                <<ARGS:--from-literal>>[ \t]+--from-literal[= ]['"]?[^\s='"]{{1,253}}=   # KEY=VALUE
                <<NOT_A_VALUE>>
                <<VALUE>>
                """,
                gate=("--from-literal",),
            )
            for n, ordinal in enumerate(_ORDINALS)
        ),
        *(
            _p(
                rf"""
                <<PROGRAM:vault|bao>>[ \t]+kv[ \t]+(?:put|patch)\b   # vault kv put [options] PATH KEY=VALUE …
                (?:[ \t]+-[\w\-]+(?:=\S+)?){{0,6}}
                [ \t]+[^\s=\-]\S*
                (?:[ \t]+[\w.\-]+=\S*){{{n}}}
                [ \t]+[\w.\-]{{1,100}}=                 # the {ordinal} value
                <<NOT_A_VALUE>>(?!@)                  # (KEY=@file reads it from a file)
                <<VALUE>>
                """,
                gate=("kv",),
            )
            for n, ordinal in enumerate(_ORDINALS)
        ),
    ),
    _rule(
        "account_password",
        "password",
        _p(
            r"""
            <<PROGRAM:useradd|usermod>>           # -p: the password (a crypt hash, crackable) on the line
            <<ARGS:-p\b>>[ \t]+-p[ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("useradd", "usermod"),
        ),
        _p(
            r"""
            <<PROGRAM:openssl>>[ \t]+passwd       # openssl passwd [-6] [-salt S] PASSWORD: what is hashed
            (?:[ \t]+-(?:salt|in)[ \t]+\S+|[ \t]+-(?!salt\b|in\b)[\w\-]+)*+
            [ \t]+
            <<NOT_A_VALUE>>(?![-<])
            <<VALUE>>
            """,
            exact_case=True,
            gate=("openssl",),
        ),
        _p(
            r"""
            <<PROGRAM:mkpasswd>>                  # mkpasswd [-m sha-512] [-S salt] PASSWORD
            (?:[ \t]+-[mSR][ \t]*\S+|[ \t]+-[a-zA-Z]\b|[ \t]+--[\w\-]+(?:=\S+)?)*+
            [ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("mkpasswd",),
        ),
        _p(
            r"""
            <<PROGRAM:rabbitmqctl|rabbitmqctl.bat>>   # add_user, change_password, authenticate_user U PW
            (?:[ \t]+-\S+(?:[ \t]+[^\s\-]\S*)?){0,6}?
            [ \t]+(?:add_user|change_password|authenticate_user)
            [ \t]+(?:'[^'\r\n]*'|"[^"\r\n]*"|[^\s'"]+)   # the user
            [ \t]+
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            gate=("rabbitmqctl",),
        ),
        _p(
            r"""
            <<PROGRAM:ssh-keygen>>                # -N new passphrase, -P old passphrase ('' is none)
            <<ARGS:-[NP]>>[ \t]+-[NP][ \t]*
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("ssh-keygen",),
        ),
        _p(
            r"""
            <<PROGRAM:ssh-keygen>>                # ... and the second of them, when both are given
            <<ARGS:-[NP]>>[ \t]+-[NP][ \t]*\S+
            <<ARGS:-[NP]>>[ \t]+-[NP][ \t]*
            <<NOT_A_VALUE>>(?!-)
            <<VALUE>>
            """,
            exact_case=True,
            gate=("ssh-keygen",),
        ),
    ),
    _rule(
        "snmp_secret",
        "password",
        *(
            _p(
                rf"""
                <<PROGRAM:snmpwalk|snmpbulkwalk|snmpget|snmpgetnext|snmpbulkget|snmpset|snmptrap|snmpinform|
                          snmptable|snmpdelta|snmpdf|snmpstatus|snmptest|snmpusm|snmpvacm|snmpnetstat|
                          snmp-check|onesixtyone|braa>>(?:\.exe)?
                <<ARGS:-{option}>>[ \t]+-{option}[ \t]*   # {what}
                <<NOT_A_VALUE>>(?!-){guard}
                <<VALUE>>
                """,
                exact_case=True,
                gate=("snmp", "onesixtyone", "braa"),
            )
            for option, what, guard in (
                ("A", "-A: the v3 authentication passphrase", ""),
                ("X", "-X: the v3 privacy passphrase", ""),
                ("c", "-c: the v1/v2c community, but the default", r"(?!public(?:[\s'\"]|\Z))"),
            )
        ),
        _p(
            r"""
            (?:^|[\s;])(?:ro|rw)community6?[ \t]+   # snmpd.conf: rocommunity SECRET [source]
            <<NOT_A_VALUE>>(?!public\b)
            <<VALUE>>
            """,
            flags=re.MULTILINE,
            gate=("community",),
        ),
        _p(
            r"""
            <<WORD:snmp-server>>[ \t]+community[ \t]+   # Cisco IOS: snmp-server community SECRET RO
            <<NOT_A_VALUE>>(?!public\b)
            <<VALUE>>
            """,
            gate=("snmp-server",),
        ),
        _p(
            r"""
            <<WORD:createuser>>[ \t]+(?:-e[ \t]+\S+[ \t]+)?\S+   # snmpd.conf, net-snmp-create-v3-user:
            [ \t]+(?:md5|sha\S*)[ \t]+              # createUser NAME SHA AUTHPASS [AES PRIVPASS]
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("createuser",),
        ),
        _p(
            r"""
            <<WORD:createuser>>[ \t]+(?:-e[ \t]+\S+[ \t]+)?\S+
            [ \t]+(?:md5|sha\S*)[ \t]+\S+           # ... and the privacy passphrase after it
            [ \t]+(?:des|aes\S*)[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("createuser",),
        ),
    ),
    _rule(
        "wifi_secret",
        "password",
        _p(
            r"""
            <<PROGRAM:netsh|netsh.exe>>[ \t]+wlan\b   # netsh wlan set hostednetwork … key=PASSPHRASE
            <<ARGS:key=>>[ \t]+key=
            <<NOT_A_VALUE>>(?!clear\b)            # (show profile … key=clear displays the key: no value)
            <<VALUE>>
            """,
            gate=("wlan",),
        ),
        _p(
            r"""
            <<PROGRAM:wpa_passphrase>>[ \t]+      # wpa_passphrase SSID PASSPHRASE
            (?:'[^'\r\n]*'|"[^"\r\n]*"|[^\s'"]+)[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("wpa_passphrase",),
        ),
        _p(
            r"""
            <<PROGRAM:nmcli>>                     # nmcli … wifi connect SSID password X, … wifi-sec.psk X
            <<ARGS:(?:password|(?:wifi-sec|802-11-wireless-security)\.psk)\b>>
            [ \t]+(?:password|(?:wifi-sec|802-11-wireless-security)\.psk)[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("nmcli",),
        ),
    ),
    _rule(
        "user_password_pair",
        "password",
        _p(
            r"""
            <<PROGRAM:lftp>>                      # lftp -u 'user,password' (also open -u inside -e "…")
            <<ARGS:-u\b>>[ \t]+-u[ \t]+
            (?:'[^',\r\n]*,(?P<secret_sq>[^'\r\n]+)'
              | "[^",\r\n]*,(?P<secret_dq>[^"\r\n]+)")
            """,
            gate=("lftp",),
        ),
        _p(
            r"""
            <<PROGRAM:lftp>>                      # lftp -u user,password, the password quoted or not
            <<ARGS:-u\b>>[ \t]+-u[ \t]+
            [^\s,'"]*,
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("lftp",),
        ),
        _p(
            r"""
            --(?<![\w-]--)(?:src-|dest-)?creds(?:=|[ \t]+)   # skopeo, podman: --creds 'user:password'
            (?:'[^':\r\n]*:(?P<secret_sq>[^'\r\n]+)'
              | "[^":\r\n]*:(?P<secret_dq>[^"\r\n]+)")
            """,
            gate=("creds",),
        ),
        _p(
            r"""
            --(?<![\w-]--)(?:src-|dest-)?creds(?:=|[ \t]+)   # --creds user:password
            [^\s:'"]*:
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("creds",),
        ),
    ),
    _rule(
        "curl_user",
        "password",
        _p(
            r"""
            <<PROGRAM:curl|curl.exe>>
            <<ARGS:(?:-[uU]|--user\b|--proxy-user\b)>>
            [ \t]+(?:-[uU]|--user|--proxy-user)(?:[ \t]+|=)?   # -u user:password
            <<NOT_A_VALUE>>
            (?:'[^':\r\n]*:(?P<secret_sq>[^'\r\n]+)'
              | "[^":\r\n]*:(?P<secret_dq>[^"\r\n]+)"
              | [^\s:'"]*:(?P<secret>[^\s'"]+))
            """,
            exact_case=True,
            gate=("curl",),
        ),
    ),
    _rule(
        "smb_user_password",
        "password",
        _p(
            r"""
            (?:<<PROGRAM:smbclient|rpcclient|smbcacls|smbget|smbtree|winexe>>
              | <<PROGRAM:net>>[ \t]+(?:rpc|ads))
            <<ARGS:(?:-U|--user)>>
            [ \t]+(?:-U[ \t]*|--user[= ])          # -U 'DOMAIN\user%password'
            (?:'[^'%\r\n]*%(?P<secret_sq>[^'\r\n]+)'
              | "[^"%\r\n]*%(?P<secret_dq>[^"\r\n]+)"
              | [^\s%'"]*%(?P<secret>[^\s'"]+))
            """,
            exact_case=True,
            gate=("%",),
        ),
    ),
    _rule(
        "mount_password",
        "password",
        _p(
            r"""
            ,(?:password|pass|password2)=         # a mount option list: -o user=x,password=y,vers=3.0
            <<NOT_A_VALUE>>
            (?P<secret>(?:[^,\s'"]|,,)+)          # ",," is a literal comma inside the value
            """,
            gate=("pass",),
        ),
        _p(
            r"""
            -o[ \t]*(?:password|pass|password2)=  # ... or first in it
            <<NOT_A_VALUE>>
            (?P<secret>(?:[^,\s'"]|,,)+)
            """,
            gate=("-o",),
        ),
    ),
    _rule(
        "stdin_password",
        "password",
        _p(
            r"""
            (?:<<PROGRAM:echo>>(?:[ \t]+-[neE]+)?
              | <<PROGRAM:printf>>(?:[ \t]+(?:'%s[^']{0,4}'|"%s[^"]{0,4}"))?
              | <<PROGRAM:Write-Output|write-output>>)[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE:[^\s|;&'"][^|;&\r\n'"]*?>>
            [ \t]*\|[ \t]*                        # piped into something that reads a password from stdin
            (?:sudo(?:[ \t]+\S+){0,6}?[ \t]+-\w*S\b|sudo[ \t]+--stdin|
               (?:sudo(?:[ \t]+-\S+){0,6}[ \t]+)?(?:passwd\b|chpasswd)|
               smbpasswd[ \t]+-s|kinit|cryptsetup|htpasswd[ \t]+-i|sshpass|(?:tiger)?vncpasswd|
               gcloud[ \t]+secrets[ \t]+(?:create|versions[ \t]+add)|
               (?:docker|podman)[ \t]+secret[ \t]+create|
               (?:docker|podman|helm[ \t]+registry|oras|nerdctl)[ \t]+login[^|;&\n]{0,200}--password-stdin)
            """,
            exact_case=True,
            gate=("|",),
        ),
        _p(
            r"""
            (?:<<PROGRAM:passwd|chpasswd|vncpasswd|tigervncpasswd|smbpasswd|kinit|cryptsetup|htpasswd|
                          x11vnc>>|<<PROGRAM:sudo>>[ \t]+-\w*S\b)
            [^\r\n;|&<]{0,200}                      # its arguments, then a here-string feeds it the password
            <<<[ \t]*
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            exact_case=True,
            gate=("<<<",),
        ),
    ),
    _rule(
        "htpasswd_password",
        "password",
        _p(
            r"""
            <<PROGRAM:htpasswd>>
            (?=(?:[ \t]+-[A-Za-z]+){0,6}?[ \t]+-[A-Za-z]*b)   # -b: the password is on the command line
            (?=(?:[ \t]+-[A-Za-z]+){0,6}?[ \t]+-[A-Za-z]*n)   # -n: no file, so user then password
            (?:[ \t]+-[A-Za-z]+){1,6}
            [ \t]+(?!-)\S+[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            exact_case=True,
            gate=("htpasswd",),
        ),
        _p(
            r"""
            <<PROGRAM:htpasswd>>
            (?=(?:[ \t]+-[A-Za-z]+){0,6}?[ \t]+-[A-Za-z]*b)   # -b with a file: file, user, password
            (?!(?:[ \t]+-[A-Za-z]+){0,6}?[ \t]+-[A-Za-z]*n)
            (?:[ \t]+-[A-Za-z]+){1,6}
            [ \t]+(?!-)\S+[ \t]+\S+[ \t]+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            exact_case=True,
            gate=("htpasswd",),
        ),
    ),
    _rule(
        "netrc_password",
        "password",
        *(
            _p(
                rf"""
                {entry}                           # a .netrc entry
                (?:\s+(?:login|account|port)[ \t]+\S+)*
                \s+password[ \t]+
                <<NOT_A_VALUE>>
                <<VALUE>>
                """,
                gate=(gate,),
            )
            for gate, entry in (("machine", r"<<WORD:machine>>[ \t]+\S+"), ("default", "<<WORD:default>>"))
        ),
    ),
    _rule(
        "network_device_secret",
        "password",
        _p(
            r"""
            (?:<<WORD:enable>>|<<WORD:username>>[ \t]+\S+(?:[ \t]+privilege[ \t]+\d+)?)   # Cisco IOS: enable
            [ \t]+(?:secret|password)[ \t]+       # secret 9 $9$…, username u password 7 0822…
            (?:\d{1,2}[ \t]+)?+                   # (the number says how it is encoded: still a secret)
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("enable", "username"),
        ),
        _p(
            r"""
            (?:crypto[ \t]+isakmp[ \t]+key        # IOS/ASA: crypto isakmp key X address …, a TACACS/RADIUS
              | (?:tacacs|radius)-server[ \t]+(?:host[ \t]+\S+[ \t]+)?key   # key, a pre-shared key
              | pre-shared-key(?:[ \t]+(?:local|remote|ascii-text|hexadecimal))?)
            [ \t]+(?:\d[ \t]+)?+
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("key",),
        ),
        _p(
            r"""
            ^[ \t]*set[ \t]+                      # FortiOS: set password ENC …, set psksecret X
            (?:password|passwd|psksecret|secret|passphrase)[ \t]+
            (?:enc[ \t]+)?+
            <<NOT_A_VALUE>>(?!for\b|=)             # (SQL's SET PASSWORD FOR … = … is not this)
            <<VALUE>>
            """,
            flags=re.MULTILINE,
            gate=("set",),
        ),
        _p(
            r"""
            (?:<<WORD:encrypted-password>>|<<WORD:secret>>)[ \t]+   # Junos: secret "$9$…"
            <<NOT_A_VALUE>>
            <<QUOTED>>
            """,
            gate=("secret", "encrypted-password"),
        ),
        _p(
            r"""
            :[ \t]*(?:psk|xauth|eap|ntlm)[ \t]+   # strongSwan / Libreswan ipsec.secrets: … : PSK "x"
            <<NOT_A_VALUE>>
            <<QUOTED>>
            """,
            gate=("psk", "xauth", "eap", "ntlm"),
        ),
        accept=_accept_config_value,
    ),
    _rule(
        "credential_file_line",
        "password",
        _p(
            r"""
            ^(?=[^\s:]{0,253}[a-z.*])             # ~/.pgpass: host:port:database:user:password
            [^\s:\#][^\s:]{0,253}:(?:\d{1,5}|\*):[^\s:]{1,63}:(?=[^\s:]{0,62}[a-z_*])[^\s:]{1,63}:
            <<NOT_A_VALUE>>
            (?P<secret>\S+)(?=[ \t\r]*$)
            """,
            flags=re.MULTILINE,
            gate=(":",),
        ),
        _p(
            r"""
            (?<![\w$])(?P<secret>                  # a password hash wherever it stands (/etc/shadow,
              \$(?:1|2[abxy]|5|6|7|y|gy|apr1|md5|sha1)\$   # .htpasswd, chpasswd -e, useradd -p):
              (?:rounds=\d{1,9}\$)?                # crypt(3)'s $id$[params$]salt$hash
              (?:[./A-Za-z0-9]{1,64}\$){1,2}[./A-Za-z0-9]{16,}
            | \$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,})
            """,
            exact_case=True,
            gate=("$",),
        ),
        _p(
            r"""
            ^[a-z_][\w.\-@$]{0,63}:               # an .htpasswd line's {SHA} hash
            (?P<secret>\{sha\}[A-Za-z0-9+/=]{20,})
            (?=:|\s|\Z)
            """,
            flags=re.MULTILINE,
            gate=("{sha}",),
        ),
    ),
    _rule(
        "source_constant",
        "password",
        _p(
            r"""
            define[ \t]*\([ \t]*                   # PHP define('DB_PASSWORD', 'x'), wp-config.php's keys
            (?P<q>['"])(?P<name>[a-z0-9_]{0,60}?(?:password|pass|pwd|secret|key|salt|token))(?P=q)
            [ \t]*,[ \t]*
            <<NOT_A_VALUE>>
            <<QUOTED>>
            """,
            gate=("define",),
        ),
        accept=_accept_literal,
        label_from_name=True,
    ),
    _rule(
        "xml_secret",
        "password",
        _p(
            r"""
            <(?P<tag>(?:[\w.\-]{1,40}:)?           # <Password>x</Password>, <db:AdminPassword>, <keyMaterial>
              (?P<name>[\w.\-]{0,40}?(?:password|passwd|pwd|passphrase|secret|token|apikey|api_key|api-key|
                 keymaterial|sharedkey|shared-key|psk)))
            (?:[ \t][^<>]{0,200})?>                # attributes (<Password encrypted="false">)
            \s*(?:<value>\s*)?                     # unattend.xml wraps it: <Password><Value>x</Value>…
            (?!<)
            <<NOT_A_VALUE>>
            (?P<secret>[^<]{1,2000}?)
            \s*(?:</value>\s*(?:<plaintext>[^<]{0,10}</plaintext>\s*)?)?
            </(?P=tag)>
            """,
            gate=("<",),
        ),
        _p(
            r"""
            (?:key|name)[ \t]*=[ \t]*(?P<q>["'])  # <add key="DbPassword" value="x"/>, <property
            (?P<name>[^"'<>]{0,80}?                # name="db.password" value="x"/>
              (?:password|passwd|pwd|passphrase|secret|token|apikey|api_key|api-key))
            (?P=q)
            (?:[ \t]+[\w:\-]+[ \t]*=[ \t]*(?:"[^"<>]*"|'[^'<>]*')){0,4}?   # attributes between
            [ \t]+value[ \t]*=[ \t]*
            <<NOT_A_VALUE>>
            <<QUOTED>>
            """,
            gate=("value",),
        ),
        _p(
            r"""
            <(?P<tag>setting|entry)[ \t]+(?:name|key)[ \t]*=[ \t]*["']   # .NET settings, Java properties:
            (?P<name>[^"'<>]{0,80}?(?:password|passwd|pwd|secret|token|apikey|api_key))["']   # <setting
            [^<>]{0,200}>\s*(?:<value>\s*)?         # name="ApiKey"><value>x</value></setting>
            (?!<)
            <<NOT_A_VALUE>>
            (?P<secret>[^<]{1,2000}?)
            \s*(?:</value>\s*)?</(?P=tag)>
            """,
            gate=("<setting", "<entry"),
        ),
        accept=_accept_markup_value,
        label_from_name=True,
    ),
    _rule(
        "cli_secret_option",
        "password",
        _p(
            r"""
            --(?<![\w-]--)(?!no-)   # --password=x, --db-password x, --api-key x (not --no-password)
            (?:[a-z0-9]+-){0,6}?
            (?P<name>password|passwd|pass|pwd|passphrase|secret|token|api-?key|access-?key|
                     secret-?key|account-?key|auth-?key|master-?key|sas-?token|bearer)
            (?:=|(?P<spaced>[ \t]+)(?![-\s]))     # a spaced value is the next word unless it is an option
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("--",),
        ),
        _p(
            r"""
            -(?<![\w-]-)(?!no)                    # -Password 'x', -AccountPassword, -ClientSecret, plink -pw,
            (?P<name>[a-z0-9]{0,30}?(?:password|passwd|pwd|secret|token|apikey|accesskey|secretkey|
                     accountkey|passphrase|storepass|keypass)|pw|pass)   # keytool -storepass, openssl -pass
            (?:[ \t]*:[ \t]*|[ \t]+(?![-\s]))      # PowerShell also takes -Password:value
            <<NOT_A_VALUE>>
            (?![(@])                              # (ConvertTo-SecureString ...), @(...): an expression
            <<VALUE>>
            """,
            gate=("pass", "pw", "secret", "token", "key"),
        ),
        _p(
            r"""
            /(?<![\w/]/)                         # wmic /password:x, cmdkey /pass:x, setup.exe /SAPWD=x,
            (?P<name>[a-z0-9]{0,30}?(?:password[do]?|passwd|pwd|pass))   # netdom /PasswordD:x,
            [:=]                                  # sqlpackage /SourcePassword:x
            <<NOT_A_VALUE>>
            <<VALUE>>
            """,
            gate=("pass", "pw"),
        ),
        accept=_accept_cli_option,
        label_from_name=True,
    ),
    _rule(
        "config_line",
        "password",
        *(
            _p(
                rf"""
                (?P<name>{name})                  # a YAML / INI / properties key (checked to start its line)
                ["']?
                (?:[ \t]*:[ \t]+|[ \t]+=[ \t]*|[ \t]*=[ \t]+)   # "key: value", "key = value"; never
                                                               # the shell's NAME=value, which ends at a space
                <<NOT_A_VALUE>>
                (?!['"|>])                        # quoted values are the next rule's; | and > start a block
                (?P<secret>[^\r\n]*?\S)
                [ \t]*$
                """,
                flags=re.MULTILINE,
                gate=(gate,),
            )
            for gate, name in (("pass", "pass(?:word|wd|phrase)"), ("secret", "secret"))
        ),
        accept=_accept_config_line,
        label_from_name=True,
    ),
    _rule(
        "secret_assignment",
        "password",
        *(
            _p(
                rf"""
                {name}
                (?![a-z0-9])                      # the name ends here: PASSWORD_FILE, tokens are not secrets
                ["']?
                [ \t]*(?:=>|:=|=(?!>)|:)[ \t]*    # env, dotenv, YAML, JSON, PHP/Ruby hashes, PowerShell $env:
                                                  # (=> is one separator, never = and a value ">")
                (?!=)                             # == compares
                <<NOT_A_VALUE>>
                <<VALUE>>
                """,
                gate=(gate,),
            )
            for gate, name in (
                # password, passwd, passphrase anywhere in a name (PGPASSWORD, dbPassword); a bare
                # "pass" only after _ $ . - or a quote (DB_PASS, $pass, "pass":), or as pass=
                (
                    "pass",
                    r"""(?P<name>pass(?P<long>word|wd|phrase)?)
                    (?(long)|(?:(?<=[$_.\-"']pass)|(?<=sshpass)|(?<!\wpass)(?=[ \t]*=)))""",
                ),
                # MYSQL_PWD, Pwd=; $pw, DB_PW
                ("pw", r"""(?P<name>pw(?P<d>d)?)(?(d)(?<![a-z]pwd)|(?<=[$_.\-]pw))"""),
                ("secret", r"""(?P<name>secret)"""),
                ("token", r"""(?P<name>token)"""),
                # API_KEY, app.key, apiKey, AccountKey, but not MONKEY
                (
                    "key",
                    r"""(?P<name>key)(?:(?<=[_.\-]key)|(?<=apikey)|(?<=accesskey)|(?<=secretkey)
                    |(?<=privatekey)
                    |(?<=accountkey)|(?<=storagekey)|(?<=masterkey)|(?<=signingkey)|(?<=licensekey)
                    |(?<=productkey)|(?<=clientkey)|(?<=appkey)|(?<=authkey)|(?<=subscriptionkey)
                    |(?<=encryptionkey)|(?<=servicekey)|(?<=webhookkey)|(?<=functionkey)|(?<=adminkey)
                    |(?<=presharedkey))""",
                ),
                # wpa_supplicant's psk=, WPA_PSK; a personal access token: AZURE_DEVOPS_PAT, GITHUB_PAT
                ("psk", r"""(?P<name>psk)(?<![a-z]psk)"""),
                ("pat", r"""(?P<name>pat)(?<=[_.\-]pat)"""),
                # REDISCLI_AUTH, "auth" in a docker config.json
                ("auth", r"""(?P<name>auth)(?<![a-z]auth)"""),
            )
        ),
        _p(
            r"""
            <<WORD:setx|env>>(?:\.exe)?[ \t]+     # setx NAME VALUE, Dockerfile ENV NAME VALUE
            ["']?[a-z_]\w{0,60}?
            (?P<name>password|passwd|pwd|pass|secret|token|_key|apikey|accesskey)
            ["']?[ \t]+
            <<NOT_A_VALUE>>(?![/=])
            <<VALUE>>
            """,
            gate=("setx", "env"),
        ),
        _p(
            r"""
            setenvironmentvariable[ \t]*\([ \t]*   # [Environment]::SetEnvironmentVariable('NAME', 'VALUE')
            ["'][a-z_]\w{0,60}?
            (?P<name>password|passwd|pwd|pass|secret|token|_key|apikey|accesskey)
            ["'][ \t]*,[ \t]*
            <<NOT_A_VALUE>>
            <<QUOTED>>
            """,
            gate=("setenvironmentvariable",),
        ),
        accept=_accept_named_value,
        label_from_name=True,
    ),
    _rule(
        "prose_password",
        "password",
        *(
            _p(
                rf"""
                (?P<name><<WORD:{names}>>)
                (?:[ \t]+(?:for|of)(?:[ \t]+[^\s:]{{1,64}}){{1,4}}?)?   # "password for DC01\administrator"
                (?:[ \t]*:|[ \t]+(?:is|was|->|now|set[ \t]+to|changed[ \t]+to|reset[ \t]+to)[ \t]*:?)[ \t]+
                <<NOT_A_VALUE>>
                <<VALUE:[^\s'"`;|&]*[^\s'"`;|&,.!?:)\]}}]>>
                """,
                gate=(gate,),
            )
            for gate, names in (
                ("pass", "password|passphrase|passwd|passwort|passcode"),
                ("pw", "pw|pwd"),
                ("pin", "pin"),
                ("kennwort", "kennwort"),
            )
        ),
        accept=_accept_prose,
    ),
)

# --------------------------------------------------------------------------------------------
# The entry points.


_PATTERNS: tuple[tuple[Rule, Pattern], ...] = tuple(
    (rule, pattern) for rule in RULES for pattern in rule.patterns
)
_NEEDLES: tuple[str, ...] = tuple(sorted({needle for _, pattern in _PATTERNS for needle in pattern.gate}))
_BY_NEEDLE: dict[str, tuple[int, ...]] = {
    needle: tuple(i for i, (_, pattern) in enumerate(_PATTERNS) if needle in pattern.gate)
    for needle in _NEEDLES
}


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, longest first at a position, shaped
    as a trie (``a(?:bia|uth(?:orization)?)``) so each position costs a few character tests."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


# Single characters (``:``, ``$``, ``%``…) are looked for one by one, each at the speed of a
# byte search: in the sweep they would match at every colon of a log and end it early.
_CHAR_NEEDLES: tuple[str, ...] = tuple(n for n in _NEEDLES if len(n) == 1)
_LONG_NEEDLES: tuple[str, ...] = tuple(n for n in _NEEDLES if len(n) > 1)
_ANY_NEEDLE = re.compile(_trie_pattern(_LONG_NEEDLES))
# At a position the sweep finds the longest needle there; the shorter ones it starts with are
# there too.
_STARTING: dict[str, tuple[str, ...]] = {
    needle: tuple(n for n in _LONG_NEEDLES if needle.startswith(n)) for needle in _LONG_NEEDLES
}


def _needles_in(lowered: str) -> set[str]:
    """The gate strings ``lowered`` contains: ``{n for n in _NEEDLES if n in lowered}``, the
    longer ones in one sweep of the text instead of one search per needle. After a match the
    sweep goes on from the next character, so needles that overlap are all found; a text dense
    with them (``-----``) is searched needle by needle after ``_SWEEP_MATCHES``."""
    found = {needle for needle in _CHAR_NEEDLES if needle in lowered}
    search = _ANY_NEEDLE.search
    match = search(lowered)
    for _ in range(_SWEEP_MATCHES):
        if match is None:
            return found
        found.update(_STARTING[match.group()])
        match = search(lowered, match.start() + 1)
    return found | {needle for needle in _LONG_NEEDLES if needle in lowered}


_SWEEP_MATCHES = 64


def _apply_rules(text: str, *, gated: bool = True) -> str:
    """Every rule's patterns, in table order, over ``text``. ``gated=False`` tries every
    pattern whatever its gate (for the test that gates never change a result)."""
    scan = _Scan(text, gated=gated)
    if gated and scan.short:
        # A command is short: find every gate string present in one sweep, then run only the
        # patterns they open, in order; after a change, look again from the next pattern on.
        start = 0
        while True:
            lowered = scan.lowered
            present = [_BY_NEEDLE[n] for n in _needles_in(lowered)]
            todo = sorted(set().union(*present))
            if start:
                todo = [i for i in todo if i >= start]
            for i in todo:
                rule, pattern = _PATTERNS[i]
                if rule._run(pattern, scan):
                    start = i + 1
                    break
            else:
                return scan.text
    for rule, pattern in _PATTERNS:
        if scan.may_match(pattern.gate):
            rule._run(pattern, scan)
    return scan.text


# Short texts repeat — host names, labels, trait names, a failure's class — and the rules never
# change: their redaction by the rules is remembered.
_SHORT_CACHED = 120
_short_rules = functools.lru_cache(maxsize=16_384)(_apply_rules)


class Redacted(str):
    """Text as :func:`redact` returned it: every secret the rules recognise replaced, and those
    of the ``known`` it was redacted with, as many as that held then. Redacting it again
    changes nothing, so whoever stores it takes it as it is (``covers``).

    Made only by this module (``_mint``; the constructor refuses). Anything done to one — a
    slice, a concatenation, ``strip``, ``str()`` — gives a plain ``str``, which is redacted
    anew where it is stored: a cut may make a secret's shape out of what was around one.
    Pickled (a snapshot, a message to another process) it is a plain ``str`` too; between
    this process and a fork of it the mark crosses with :func:`seal` and :func:`unseal`.
    """

    __slots__ = ("_count", "_known")

    def __new__(cls, *_args: Any, **_kwargs: Any) -> Redacted:
        raise TypeError("Redacted text is made by redact() only")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("Redacted cannot be subclassed: its mark would be the subclass's to fake")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Redacted text is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Redacted text is immutable")

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return (str, (str(self),))

    def covers(self, known: KnownSecrets | None) -> bool:
        """Whether redacting this text with the rules and ``known`` (as it stands now) would
        change nothing: it was redacted with them, or with the rules where ``known`` is None."""
        mine = _stamp_of(self)
        if mine is None:
            return False  # made around the constructor, not by redact(): no mark
        if known is None:
            return True
        return mine[0] is known and mine[1] == len(known)


_RULES_ONLY = object()  # the stamp's "no known secrets"


def _stamp_of(text: str) -> tuple[object, int] | None:
    try:
        return text._known, text._count  # type: ignore[attr-defined]
    except AttributeError:
        return None


def _mint(text: str, known: KnownSecrets | None) -> Redacted:
    made = str.__new__(Redacted, text)
    object.__setattr__(made, "_known", _RULES_ONLY if known is None else known)
    object.__setattr__(made, "_count", 0 if known is None else len(known))
    return made


def redact(text: str, known: KnownSecrets | None = None) -> Redacted:
    """``text`` with every secret the rules or ``known`` recognise replaced by a placeholder.

    Never raises: if redaction itself fails, the text is withheld (``[REDACTED:unredactable]``)
    rather than returned as it was.
    """
    try:
        if text.__class__ is Redacted:
            stamp = _stamp_of(text)
            if stamp is not None:
                if known is None or (stamp[0] is known and stamp[1] == len(known)):
                    return text
                # The rules ran (their placeholders are fixed points of them): only the vault's
                # secrets are new to it.
                return _mint(known.redact(text), known)
        if not isinstance(text, str):
            text = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else str(text)
        elif text.__class__ is not str:
            text = str.__str__(text)  # a subclass (a Redacted made around the constructor): its text
        if text:
            text = _short_rules(text) if len(text) <= _SHORT_CACHED else _apply_rules(text)
            if known is not None:
                text = known.redact(text)
        return _mint(text, known)
    except Exception:
        return _mint(_WITHHELD, None)


# --------------------------------------------------------------------------------------------
# Redacted text between this process and a fork of it


# This process's key, inherited by the processes it forks and known to no other: a text sealed
# as redacted by one of them is taken as redacted by the other, and by nothing else.
_SEAL_KEY = os.urandom(32)


class Sealed(NamedTuple):
    """Texts on their way to a forked process (or from one): one string and the lengths of its
    pieces, which of them were :class:`Redacted`, and a MAC over all that and over the known
    secrets they were redacted with."""

    text: str
    lengths: bytes
    marked: bytes
    mac: bytes


def _known_stamp(known: KnownSecrets | None) -> bytes:
    # The same object in both processes (a fork copies the address space) with as many secrets.
    return b"-" if known is None else f"{id(known)}:{len(known)}".encode()


def _seal_mac(known: KnownSecrets | None, text: str, lengths: bytes, marked: bytes) -> bytes:
    mac = hashlib.blake2b(key=_SEAL_KEY, digest_size=16)
    for part in (_known_stamp(known), lengths, marked):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    mac.update(text.encode("utf-8", "surrogatepass"))
    return mac.digest()


def seal(texts: Sequence[str], known: KnownSecrets | None) -> Sealed:
    """``texts`` for :func:`unseal` in this process or one forked from it (or that it forked),
    with the same ``known``: each that is :class:`Redacted` with ``known`` comes out as such."""
    joined = "".join(texts)
    lengths = array.array("Q", [len(t) for t in texts]).tobytes()
    marked = bytes([t.__class__ is Redacted and t.covers(known) for t in texts])
    return Sealed(joined, lengths, marked, _seal_mac(known, joined, lengths, marked))


def unseal(sealed: Sealed, known: KnownSecrets | None) -> list[str]:
    """The texts :func:`seal` was given: the ones it marked :class:`Redacted` again if the seal
    is this process's (or its fork's) and ``known`` is what they were sealed with; every
    other one, or all of them if not, a plain ``str`` (redacted where it is stored)."""
    text, lengths, marked = sealed.text, sealed.lengths, sealed.marked
    trusted = hmac.compare_digest(_seal_mac(known, text, lengths, marked), sealed.mac)
    out: list[str] = []
    pos = 0
    for length, mark in zip(array.array("Q", lengths), marked, strict=True):
        piece = text[pos : pos + length]
        pos += length
        out.append(_mint(piece, known) if mark and trusted else piece)
    return out


# Keys whose values are secrets whatever they look like: the value is replaced outright.
_SECRET_KEY = re.compile(
    r"""
    (?:^|[_.\-])
    (?P<word>password|passwd|pwd|passphrase|secret|client_?secret|token|access_?token|refresh_?token|
       id_?token|api_?key|apikey|access_?key|secret_?key|private_?key|signing_?key|encryption_?key|
       account_?key|connection_?string|conn_?str|credentials?|authorization|auth|cookie|session_?key|
       totp_?secret|otp_?seed|otp_?secret|pin|dsn|pass|pw|passcode|psk|pre_?shared_?key|community|
       recovery_?key|private_?token|sas)
    (?:[_.\-](?:encrypted|enc|hash|hashed|value|plain|plaintext|b64|base64))?
    $
    """,
    re.VERBOSE,
)
_MAX_DEPTH = 64
_MASKED = re.compile(r"\**|\[REDACTED:[a-z_]{1,40}\]")


@functools.lru_cache(maxsize=4_096)
def _secret_key_label(key: str) -> str | None:
    normal = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower().replace(" ", "_")
    m = _SECRET_KEY.search(normal)
    if not m:
        return None
    word = m.group("word")
    if "private" in word:
        return "private_key"
    if word in ("connection_string", "connectionstring", "conn_str", "connstr", "dsn"):
        return "connection_string"
    return _label_for_name(word.replace("_", ""))


def redact_value(
    obj: Any, known: KnownSecrets | None = None, text: Callable[[str], str] | None = None
) -> Any:
    """A copy of ``obj`` (a JSON-like value: dicts, lists, strings, numbers) with every string
    redacted and every value under a secret-looking key (password, token, api_key,
    private_key, connection_string, ...) replaced by its placeholder; a key is redacted like
    any text (a dictionary keyed by command lines). None and booleans stay, so "no password
    set" is still visible, and so does a value masked already (``***``, a placeholder).
    ``text``: what redacts a string value, if not ``redact(…, known)`` (one that remembers
    what it redacted before). Never raises."""
    try:
        return _redact_value(obj, known, None, 0, text or functools.partial(_redact_text, known=known))
    except Exception:
        return _WITHHELD


def _redact_text(text: str, known: KnownSecrets | None) -> str:
    return redact(text, known)


def _redact_value(
    obj: Any, known: KnownSecrets | None, mask: str | None, depth: int, text: Callable[[str], str]
) -> Any:
    if depth > _MAX_DEPTH:
        return _WITHHELD
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            label = None
            if isinstance(key, str):
                label = _secret_key_label(key)
                key = redact(key, known)
            out[key] = _redact_value(value, known, placeholder(label) if label else mask, depth + 1, text)
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        items = [_redact_value(item, known, mask, depth + 1, text) for item in obj]
        if isinstance(obj, list):
            return items
        return tuple(items) if isinstance(obj, tuple) else type(obj)(items)
    if mask is not None:
        return obj if obj == "" or (isinstance(obj, str) and _MASKED.fullmatch(obj)) else mask
    if isinstance(obj, str):
        return text(obj)
    if isinstance(obj, bytes | bytearray):
        decoded = bytes(obj).decode("utf-8", "surrogateescape")
        cleaned = redact(decoded, known)
        return obj if cleaned == decoded else cleaned.encode("utf-8", "surrogateescape")
    return obj
