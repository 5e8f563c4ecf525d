"""The one gate for text that comes from an agent or a person and is used before it is stored —
learnt from, checked, queued to a file, answered with: command text, output, error messages,
labels, contexts. What is *stored* is redacted by the write path itself (``db/redaction.py``),
whatever the caller did; text cleaned here is ``Redacted``, which the write path stores as it
is, so it is not redacted twice."""

from __future__ import annotations

from typing import Any

from mspmode.services.runtime import Runtime
from mspmode.vault.redact import redact_value


def clean_text(rt: Runtime, text: str | None) -> str | None:
    """``text`` with every recognisable secret replaced by a same-shaped placeholder
    (``-p[REDACTED:password]``), so learning still works on it."""
    if text is None:
        return None
    return rt.db.redactor.text(text, rt.known_secrets)


def clean_value(rt: Runtime, value: Any) -> Any:
    """A JSON-like value with strings redacted and secret-named keys masked."""
    return redact_value(value, rt.known_secrets)
