"""Log lines pass the redactor too: an access-log line carries the query string, and an error
line may quote what a client sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import unquote_plus

from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import redact

LOGGERS = ("uvicorn.access", "uvicorn.error", "mspmode")


class RedactingFilter(logging.Filter):
    def __init__(self, known: Callable[[], KnownSecrets | None]) -> None:
        super().__init__()
        self._known = known

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; let logging report it
            return True
        try:
            known = self._known()
        except Exception:  # the vault is unreachable (the very thing being logged): rules only
            known = None
        cleaned = redact(_decoded_where_secret(message, known), known)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _decoded_where_secret(message: str, known: KnownSecrets | None) -> str:
    """Access-log lines carry URL-encoded query strings (``PGPASSWORD%3Dx``), which the rules
    cannot read: a percent-encoded token that hides a secret is replaced by its decoded,
    redacted form."""
    if "%" not in message and "+" not in message:
        return message
    out = []
    for token in message.split(" "):
        if "%" in token or "+" in token:
            decoded = unquote_plus(token)
            redacted = redact(decoded, known)
            if redacted != decoded:
                token = redacted.replace(" ", "+")
        out.append(token)
    return " ".join(out)


def install(known: Callable[[], KnownSecrets | None]) -> RedactingFilter:
    """Attach one redacting filter to the server's loggers (idempotent per filter type)."""
    flt = RedactingFilter(known)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(flt)
    return flt
