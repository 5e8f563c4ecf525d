"""Normalise error messages (and commands) so that the same failure looks the same every time.

:data:`MASKS` is an ordered table of named regex rules in the style of Sentry's grouping
enhancers: each masks one kind of variable part (addresses, paths, numbers, quoted values…)
with a placeholder. Order matters — a URL contains a host and a path, a timestamp contains
numbers — so the broad rules run after the specific ones. Placeholders contain nothing any rule
matches, and :func:`normalize` runs the table to a fixed point, so it is idempotent.

Outputs are also cleaned for storage here: binary junk removed, huge outputs cut to head and tail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from mspmode.engine.lazyre import lazy
from mspmode.engine.struct import struct
from mspmode.engine.tokenize import POSIX, Script

__all__ = [
    "MASKS",
    "OUTPUT_LIMIT",
    "Mask",
    "clean_output",
    "looks_binary",
    "normalize",
    "normalize_command",
    "normalize_message",
    "summarize_binary",
    "truncate",
]

OUTPUT_LIMIT = 16_384  # characters of output kept per command (head and tail)
MESSAGE_LIMIT = 4_000  # characters of a message that take part in a fingerprint


@struct(frozen=True)
class Mask:
    name: str
    regex: re.Pattern[str]
    replacement: str
    comment: str
    # What a text must have for the rule to match at all: a test in C that spares running the
    # regex over every position for nothing (most error lines have no address, no hash…).
    gate: Callable[[str], bool] | None = None


def _m(name: str, pattern: str, replacement: str, comment: str, flags: int = 0) -> Mask:
    return Mask(name, lazy(pattern, re.VERBOSE | re.MULTILINE | flags), replacement, comment)


_DIGIT = lazy(r"\d")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _has_digit(t: str) -> bool:
    return _DIGIT.search(t) is not None


# Each rule's gate, read off its pattern: what any match must contain (the separators it
# repeats, its literal parts). Exact, never a guess: a text failing the gate cannot match, so
# gating changes no result, only the time.
_GATES: dict[str, Callable[[str], bool]] = {
    "ansi": lambda t: "\x1b" in t,
    "ps_code_echo": lambda t: "+" in t,
    "uuid": lambda t: t.count("-") >= 4,
    "url": lambda t: "://" in t,
    "email": lambda t: "@" in t,
    "timestamp": lambda t: (
        (t.count("-") >= 2 or t.count(":") >= 2 or any(d in t for d in _DAYS)) and _has_digit(t)
    ),
    "mac": lambda t: t.count(":") + t.count("-") >= 5,
    "ipv6": lambda t: t.count(":") >= 2,
    "ipv4": lambda t: t.count(".") >= 3 and _has_digit(t),
    "hex": lambda t: "0x" in t,
    "hash": _has_digit,
    "windows_path": lambda t: ":\\" in t or "\\\\" in t,
    "posix_path": lambda t: "/" in t,
    "fqdn": lambda t: t.count(".") >= 2,
    "quoted": lambda t: (
        t.count("'") >= 2
        or t.count('"') >= 2
        or ("`" in t and "'" in t)
        or ("‘" in t and "’" in t)
        or ("“" in t and "”" in t)
    ),
    "version": lambda t: "." in t and _has_digit(t),
    "number": _has_digit,
    "spaces": lambda t: "  " in t or "\t" in t,
}

MASKS: tuple[Mask, ...] = (
    _m("ansi", r"\x1b\[[0-9;?]{0,20}[A-Za-z]", "", "terminal colour and cursor codes"),
    _m(
        "ps_code_echo",
        r"""^[ \t]{0,8}\+[ \t]+(?!(?:CategoryInfo|FullyQualifiedErrorId)\b)[^\n]*$""",
        "",
        "PowerShell echoes the failing code and a ~~~~ underline under '+ ': the command, not the error",
    ),
    _m(
        "uuid",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<uuid>",
        "object ids, GUIDs",
    ),
    _m(
        "url",
        r"""\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s'"<>()]{1,2000}""",
        "<url>",
        "whole URLs, before hosts and paths",
    ),
    _m(
        "email",
        r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,10}\b",
        "<email>",
        "user@host and e-mail addresses",
    ),
    _m(
        "timestamp",
        r"""
        # ISO 8601 dates with optional time and zone
        \b\d{4}-\d{2}-\d{2}(?:[T\ ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b
        | \b\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\b                    # clock times
        | \b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\ \w{3}\ {1,2}\d{1,2}\b  # ctime dates
        """,
        "<ts>",
        "dates and times",
    ),
    _m("mac", r"\b(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}\b", "<mac>", "MAC addresses, before IPv6"),
    _m(
        "ipv6",
        r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}(?::|[0-9a-fA-F]{1,4})(?![\w:])|(?<![\w:])::1\b",
        "<ip>",
        "IPv6 addresses",
    ),
    _m(
        "ipv4",
        r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?::\d{1,5})?(?![\w.])",
        "<ip>",
        "IPv4 addresses with optional prefix length and port",
    ),
    _m("hex", r"\b0x[0-9a-fA-F]{1,64}\b", "<hex>", "hexadecimal literals, addresses in dumps"),
    _m(
        "hash",
        r"\b(?=[0-9a-f]{0,127}\d)(?=[0-9a-f]{0,127}[a-f])[0-9a-f]{7,128}\b",
        "<hash>",
        "commit ids, container ids, checksums (lower-case hex with letters and digits)",
    ),
    _m(
        "windows_path",
        r"""(?:\b[A-Za-z]:\\|\\\\[\w.$-]{1,255}\\)[^\s'"<>|*?\n]{0,1000}""",
        "<path>",
        r"C:\… and \\server\share\… paths",
    ),
    _m(
        "posix_path",
        r"(?<![\w.<>/~\\-])(?:~|\.{1,2})?/[\w.@+-]{1,255}(?:/[\w.@+-]{0,255}){0,100}",
        "<path>",
        "absolute and relative POSIX paths (not a/b inside a word)",
    ),
    _m(
        "fqdn",
        r"\b[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?){1,10}\.[a-z]{2,24}\b",
        "<host>",
        "fully qualified host names (two dots or more, lower case, so file.ext is left alone)",
    ),
    _m(
        "quoted",
        r"""(?<!\w)'[^'\n]{1,200}' | "[^"\n]{1,200}" | `[^`'\n]{1,200}'
        | ‘[^’\n]{1,200}’ | “[^”\n]{1,200}”""",
        "'<q>'",
        "quoted values: names of files, users, objects (the culprit is kept apart, not here)",
    ),
    _m("version", r"(?<![\w.<])v?\d+(?:\.\d+){1,3}(?![\w.>])", "<n>", "versions, v-prefixed too (v1.36.1)"),
    _m(
        "number",
        r"(?<![\w<])[-+]?\d+(?:[.,]\d+)*(?![\w>])",
        "<n>",
        "counts, sizes, ports, line numbers, versions",
    ),
    _m("spaces", r"[ \t]{2,}", " ", "runs of blanks (column alignment)"),
)

MASKS = tuple(Mask(m.name, m.regex, m.replacement, m.comment, _GATES.get(m.name)) for m in MASKS)
_FIXPOINT_ROUNDS = 4
_CONTROL = lazy(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_CR = lazy(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\r]")
_JUNK = lazy(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
_UNPRINTABLE = lazy(r"[^\x20-\x7e\n\t]+")


def _mask(text: str) -> str:
    for mask in MASKS:
        if mask.gate is None or mask.gate(text):
            text = mask.regex.sub(mask.replacement, text)
    return text


def normalize(text: str) -> str:
    """The message with its variable parts masked. Idempotent; never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    out: list[str] = []
    # Line by line: no rule matches across a newline, and none removes one, so masking each
    # line alone gives what masking the whole text gives — and a line comes back often (the
    # same PowerShell error for every missing cmdlet, once the culprit is masked), so each is
    # remembered.
    for line in text[:MESSAGE_LIMIT].split("\n"):
        if line:
            out.extend(_line(line, _FIXPOINT_ROUNDS))
    return "\n".join(out)


@lru_cache(maxsize=16_384)
def _line(line: str, rounds: int) -> tuple[str, ...]:
    """One line masked and stripped until nothing changes (at most ``rounds`` times). It may
    vanish, or split where other line breaks (\\r, \\u2028…) were."""
    parts = tuple(p for p in (x.strip() for x in _mask(line).splitlines()) if p)
    if parts == (line,) or rounds <= 1:
        return parts
    return tuple(q for p in parts for q in _line(p, rounds - 1))


def normalize_message(text: str, culprit_text: str | None = None) -> str:
    """Normalise an error message with the culprit (if known) masked as ``<culprit>`` first, so
    "systemctl: not found" and "dnf: not found" share a shape."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if culprit_text and len(culprit_text) >= 2:
        text = _mask_word(text[:MESSAGE_LIMIT], culprit_text)
    return normalize(text)


def _mask_word(text: str, word: str) -> str:
    """``word`` replaced by ``<culprit>`` where it stands alone (not inside a longer name).
    Plain string search: a regex per culprit would fill the regex cache with one-offs."""
    out: list[str] = []
    pos = 0
    while True:
        i = text.find(word, pos)
        if i < 0:
            break
        j = i + len(word)
        before = text[i - 1] if i > 0 else " "
        after = text[j] if j < len(text) else " "
        if not (before.isalnum() or before in "_-") and not (after.isalnum() or after in "_-"):
            out.append(text[pos:i])
            out.append("<culprit>")
        else:
            out.append(text[pos:j])
        pos = j
    out.append(text[pos:])
    return "".join(out)


def looks_binary(text: str) -> bool:
    """Whether ``text`` is mostly bytes that are no text (decoded with replacement)."""
    sample = text[:4096]
    return bool(sample) and len(_JUNK.findall(sample)) / len(sample) > 0.3


def summarize_binary(text: str, size: int) -> str:
    """Binary output as a header with its size and the printable runs it contains."""
    return f"<binary output, {size} bytes>\n" + _UNPRINTABLE.sub(" ", text)


def clean_output(raw: str | bytes | None, limit: int = OUTPUT_LIMIT) -> str:
    """Output fit for storage and matching: text (binary is summarised), no NULs or control
    characters but tab and newline, at most ``limit`` characters with head and tail kept."""
    if raw is None:
        return ""
    if isinstance(raw, bytes | bytearray):
        size = len(raw)
        text = bytes(raw).decode("utf-8", errors="replace")
    else:
        text = raw if isinstance(raw, str) else str(raw)
        size = len(text)
    if text.isascii() and not _CONTROL_OR_CR.search(text):
        return truncate(text, limit)  # the common case: plain text, nothing to clean
    if looks_binary(text):
        return truncate(summarize_binary(text, size), limit)
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return truncate(text, limit)


def truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters, keeping its head and tail (errors are
    usually printed at the start or the end)."""
    if len(text) <= limit:
        return text
    marker = f"\n…[{len(text) - limit} characters omitted]…\n"
    keep = max(0, limit - len(marker))
    head = keep * 2 // 3
    tail = keep - head
    return text[:head] + marker + (text[-tail:] if tail else "")


def normalize_command(script: Script) -> str:
    """The command as the exact-repeat index knows it: tokens joined by one space; case-folded
    where the shell ignores case (PowerShell, cmd, SQL). Raw text when nothing was tokenised."""
    cached = script.memo.get("normalized")
    if isinstance(cached, str):
        return cached
    result = _normalize_command(script)
    script.memo["normalized"] = result
    return result


def _normalize_command(script: Script) -> str:
    if script.tokens:
        joined = " ".join(t.text for t in script.tokens if t.text != "\n")
    else:
        joined = " ".join(script.text.split())
    return joined if script.dialect == POSIX else joined.lower()
