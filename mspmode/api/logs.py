"""Log lines pass the redactor too: an access-log line carries the query string, and an error
line may quote what a client sent.

Every record the server process makes is cleaned where it is made (a log-record factory), so
no logger is missed — uvicorn's, ours, the MCP SDK's, SQLAlchemy's, asyncio's — whatever
handler or formatter later prints it. A record keeps its shape: each argument is redacted on
its own and stays in its place, because formatters read the arguments (uvicorn's access
formatter unpacks exactly five). Only when a secret spans the literal text and an argument
(``"password=%s"``) is every text argument withheld. A traceback attached to the record is
formatted and redacted once, here, and the formatters print that text.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import placeholder, redact

Known = Callable[[], KnownSecrets | None]
RecordFactory = Callable[..., logging.LogRecord]

_WITHHELD = placeholder("log_argument")
# Percent-encoding can be nested (a URL inside a query parameter); decode this many levels.
_DECODE_LEVELS = 3

_lock = threading.Lock()
_providers: list[Known] = []
_base_factory: RecordFactory | None = None
# The vault lookup behind a provider may itself log (a database driver, a warning): those
# records, made while another is being cleaned, get the rules only, never a recursive lookup.
_inside = threading.local()


def install(known: Known) -> Callable[[], None]:
    """Clean every log record this process makes from now on, with the rules and the secrets
    ``known`` returns; returns the function that stops it. Several apps in one process (the
    tests) may install at once; the factory stays until the last one stops."""
    global _base_factory
    with _lock:
        if _base_factory is None:
            _base_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_make_record)
        _providers.append(known)

    def uninstall() -> None:
        global _base_factory
        with _lock:
            if known in _providers:
                _providers.remove(known)
            # Restored only if nobody wrapped ours since; else it stays in their chain and,
            # with no provider left, passes records through.
            if not _providers and _base_factory and logging.getLogRecordFactory() is _make_record:
                logging.setLogRecordFactory(_base_factory)
                _base_factory = None

    return uninstall


def _make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    base = _base_factory or logging.LogRecord
    record = base(*args, **kwargs)
    if not _providers:
        return record
    try:
        if getattr(_inside, "active", False):
            scrub(record, None)
            return record
        _inside.active = True
        try:
            scrub(record, _known_secrets())
        finally:
            _inside.active = False
    except Exception:  # never lose a log line to its cleaning: withhold it instead
        record.msg, record.args = placeholder("unredactable"), ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
    return record


def _known_secrets() -> KnownSecrets | None:
    provider = _providers[-1] if _providers else None
    if provider is None:
        return None
    try:
        return provider()
    except Exception:  # the vault is unreachable (the very thing being logged): rules only
        return None


def scrub(record: logging.LogRecord, known: KnownSecrets | None) -> None:
    """Redact ``record`` in place, keeping its message template and the number and order of
    its arguments."""
    if record.exc_info and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = clean_text(text, known)
    if record.stack_info:
        record.stack_info = clean_text(record.stack_info, known)
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is not ours to fix; logging reports it
        return
    if clean_text(message, known) == message:
        return
    if isinstance(record.msg, str):
        record.msg = clean_text(record.msg, known)
    else:
        record.msg = _clean_arg(record.msg, known)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_clean_arg(a, known) for a in args)
    elif isinstance(args, Mapping):
        record.args = {k: _clean_arg(v, known) for k, v in args.items()}
    if _leaks(record, known):
        # The secret is only a secret in context ("password=" + an argument).
        if isinstance(record.args, tuple):
            record.args = tuple(_WITHHELD if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _WITHHELD if isinstance(v, str) else v for k, v in record.args.items()}
    if _leaks(record, known):
        record.msg, record.args = clean_text(message, known), ()


def _leaks(record: logging.LogRecord, known: KnownSecrets | None) -> bool:
    try:
        message = record.getMessage()
    except Exception:
        return True
    return clean_text(message, known) != message


def _clean_arg(value: Any, known: KnownSecrets | None) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return clean_text(value, known)
    # An object (an exception, a URL, a path) is printed by its str(): keep the object unless
    # that text holds a secret.
    try:
        text = str(value)
    except Exception:
        return _WITHHELD
    cleaned = clean_text(text, known)
    return value if cleaned == text else cleaned


def clean_text(text: str, known: KnownSecrets | None) -> str:
    """``text`` redacted, including what hides behind URL encoding."""
    return redact(_decoded_where_secret(text, known), known)


def _decoded_where_secret(message: str, known: KnownSecrets | None) -> str:
    """Access-log lines carry URL-encoded query strings (``PGPASSWORD%3Dx``, ``-p%27x%27``),
    which the rules cannot read: a percent-encoded word that hides a secret is replaced by its
    decoded, redacted form."""
    if "%" not in message and "+" not in message:
        return message
    out = []
    for token in message.split(" "):
        if "%" in token or "+" in token:
            # Redact at every level of decoding before the next: a second decoding turns the
            # pluses a secret kept through the first (base64) into spaces, splitting it.
            current, found = token, False
            for _ in range(_DECODE_LEVELS):
                step = unquote_plus(current)
                if step == current:
                    break
                current = redact(step, known)
                found = found or current != step
            if found:
                token = current.replace(" ", "+")
        out.append(token)
    return " ".join(out)
