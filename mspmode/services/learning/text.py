"""Captured text made fit to learn from and to store: redacted first (``capture.clean_text``),
then cleaned and cut to size by the engine's own rules, then made storable on every backend
(no NUL or other control characters, no lone surrogates, a byte size MariaDB's TEXT holds) —
and redacted again when that removed characters, which may have hidden a secret."""

from __future__ import annotations

import functools
import re
from typing import Any

from mspmode.engine import clean_output, truncate
from mspmode.engine.normalize import looks_binary, summarize_binary
from mspmode.services.capture import clean_text, clean_value
from mspmode.services.runtime import Runtime
from mspmode.vault.redact import redact

COMMAND_LIMIT = 16_384  # characters of a command kept (head and tail): pasted scripts can be huge
MAX_BYTES = 60_000  # MariaDB's TEXT holds 65,535 bytes; four-byte characters make 16K characters more
# Beyond this, only the head and tail are redacted and kept: what is between would be cut anyway.
PRE_CUT = 2_000_000
ERROR_LINE_LIMIT = 1_000
CLEANED_KEPT = 20_000  # cleaned texts a cache remembers for their repeats

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Capture:
    """The runtime as ``capture.clean_text`` sees it for one recording: the vault's known
    secrets are looked up once (a file check, at times a query) instead of twice per command —
    an import is one transaction, and what is secret is taken as it stood when it began."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.known_secrets = rt.known_secrets

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rt, name)


def storable(text: str) -> str:
    """``text`` without what some backend refuses: NUL and control characters (PostgreSQL
    rejects NUL), lone surrogates (not UTF-8)."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def fit(text: str, max_bytes: int = MAX_BYTES) -> str:
    while len(text) * 4 > max_bytes and len(text.encode("utf-8")) > max_bytes:
        text = truncate(text, max(1, int(len(text) * 0.8)))
    return text


def _clean(rt: Runtime | Capture, text: str, cache: dict[str, str] | None) -> str:
    """``capture.clean_text``, remembered for the repeats of one recording (``uptime`` comes
    back all day, and what is secret does not change within one import)."""
    if cache is None or len(text) > 2_000:
        return clean_text(rt, text) or ""  # type: ignore[arg-type]
    done = cache.get(text)
    if done is None:
        if len(cache) >= CLEANED_KEPT:
            cache.clear()
        done = cache[text] = clean_text(rt, text) or ""  # type: ignore[arg-type]
    return done


def _storable_clean(rt: Runtime | Capture, cleaned: str) -> str:
    """``storable(cleaned)``, redacted again if removing control characters changed it: a
    secret with a NUL beside it (``pass\x00word``, ``secret\x00\n``) is not one to the rules
    before they go, and would be stored whole after."""
    stored = storable(cleaned)
    return cleaned if stored == cleaned else clean_text(rt, stored) or ""  # type: ignore[arg-type]


def _cut_clean(rt: Runtime | Capture, text: str, cleaned: str) -> str:
    """``text``, made from the redacted ``cleaned``: ``cleaned`` itself if it is the same
    text, else — cut, or its line breaks changed — redacted again: a cut may make a secret's
    shape out of what was around one, and the write path would redact it anyway."""
    return cleaned if text == cleaned else clean_text(rt, text) or ""  # type: ignore[arg-type]


def prepare_command(rt: Runtime | Capture, command: str, cache: dict[str, str] | None = None) -> str:
    """A command as it is learnt from and stored: redacted, storable, cut (head and tail)."""
    cleaned = _storable_clean(rt, _clean(rt, command, cache))
    text = truncate(cleaned, COMMAND_LIMIT) if len(cleaned) > COMMAND_LIMIT else cleaned
    return _cut_clean(rt, fit(text), cleaned)


def prepare_output(
    rt: Runtime | Capture, raw: str | bytes | None, cache: dict[str, str] | None = None
) -> str:
    """Output as stored: redacted, binary summarised, head and tail kept."""
    if not raw:
        return ""
    if isinstance(raw, bytes | bytearray):
        size, text = len(raw), bytes(raw).decode("utf-8", "replace")
    else:
        text = str(raw)
        size = len(text)
    if looks_binary(text):
        # Summarised before the cut below, so the size said is the size that was captured.
        text = summarize_binary(text, size)
    if len(text) > 2 * PRE_CUT:
        text = text[:PRE_CUT] + f"\n…[{len(text) - 2 * PRE_CUT} characters omitted]…\n" + text[-PRE_CUT:]
    # Storable before the engine's cleaning, so the control characters are gone (redacted
    # again if that changed it) before it could take them out unseen; the engine's cleaning
    # then only cuts it, or makes its carriage returns line breaks (redacted again, as any cut:
    # a key at the start of a line is read as one).
    cleaned = _storable_clean(rt, _clean(rt, text, cache))
    return _cut_clean(rt, fit(clean_output(cleaned)), cleaned)


def prepare_label(text: str | None, limit: int) -> str | None:
    """A short name given with a command or in a history file (a host, a session label, a
    host's fact): redacted by the rules, storable and cut. It is what is looked up, too (an
    import finds its earlier session by its label), so it is redacted the way the write path
    stores it; the vault's known secrets are added there."""
    if text is None:
        return None
    text = str(text)
    return _repeated_label(text, limit) if len(text) <= 1_000 else _label(text, limit)


def _label(text: str, limit: int) -> str | None:
    cleaned = redact(storable(text)).strip()
    return cleaned[:limit] or None


# Labels repeat (every command of a session carries its label), and the rules never change.
_repeated_label = functools.lru_cache(maxsize=4096)(_label)


def prepare_event(rt: Runtime | Capture, event: dict[str, Any]) -> dict[str, Any]:
    """A history file's line other than a command (a host, a client), every text in it
    redacted — its keys too, and a fact under a secret's name (``password``, ``api_key``)
    replaced whole — before any of it is learnt or stored."""
    cleaned = clean_value(rt, event)  # type: ignore[arg-type]
    return cleaned if isinstance(cleaned, dict) else {"kind": event.get("kind")}


def first_error_line(output: str) -> str | None:
    """The line of the output that says what went wrong (PowerShell's echo of the code and its
    ``At line:`` position are not it)."""
    for line in output.splitlines():
        s = line.strip()
        if s and not s.startswith("+ ") and not s.startswith("At line:"):
            return s[:ERROR_LINE_LIMIT]
    return output.strip()[:ERROR_LINE_LIMIT] or None
