"""The one gate for text that comes from an agent or a person and is about to be stored:
command text, output, error messages, descriptions, contexts. Everything that captures text
calls ``clean_text`` / ``clean_value`` first, so redaction has a single place to improve."""

from __future__ import annotations

from typing import Any

from mspmode.services.runtime import Runtime
from mspmode.vault.redact import redact, redact_value


def clean_text(rt: Runtime, text: str | None) -> str | None:
    """``text`` with every recognisable secret replaced by a same-shaped placeholder
    (``-p[REDACTED:password]``), so learning still works on it."""
    if text is None:
        return None
    return redact(text, rt.known_secrets)


def clean_value(rt: Runtime, value: Any) -> Any:
    """A JSON-like value with strings redacted and secret-named keys masked."""
    return redact_value(value, rt.known_secrets)
