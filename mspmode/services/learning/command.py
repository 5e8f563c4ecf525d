"""A command as a caller reports it (an API call, a hook, a line of an import file): its
fields, and the checks and cleaning each gets before anything is learned from it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mspmode import engine
from mspmode.errors import ValidationError
from mspmode.services.learning import text

INT32 = 2**31


@dataclass
class CommandIn:
    """One command as a caller reports it."""

    command: str
    exit_code: int | None = None
    output: str | bytes | None = None
    host: str | None = None
    infrastructure_id: uuid.UUID | None = None
    at: datetime | None = None
    session: str | None = None
    session_id: uuid.UUID | None = None
    shell_type: str | None = None
    duration_ms: int | None = None
    work_item_id: uuid.UUID | None = None


# A command line of an import as ``reader.prepare`` makes it: command and output redacted and
# cut, exit code and time checked, host (``host_label``) and session labels cleaned, and what
# ``engine.read_ahead`` found (None where it did not run).
PreparedCommand = tuple[
    str, int | None, str, str | None, datetime | None, str | None, "engine.Reading | None"
]


def host_label(host: str | None) -> str | None:
    """The host named with a command as it is stored: None if none was named, "" if the name
    is blank once cleaned (a blank name stores no host, not the one the command targets)."""
    if not host:
        return None
    return text.prepare_label(str(host), 255) or ""


def exit_code_value(value: Any) -> int | None:
    """An exit code as a signed 32-bit integer (Windows reports HRESULTs unsigned)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"exit_code must be an integer, not {type(value).__name__}")
    try:
        code = int(value)
    except ValueError:
        raise ValidationError(f"exit_code must be an integer, not {value!r}") from None
    if INT32 <= code < 2 * INT32:
        code -= 2 * INT32
    if not -INT32 <= code < INT32:
        raise ValidationError(f"exit_code {code} is outside the 32-bit range")
    return code


def utc_at(at: datetime | None) -> datetime | None:
    """``at`` in UTC (a naive time is taken as UTC), within what every backend stores."""
    if at is None:
        return None
    try:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        raise ValidationError("at is out of range") from None
    if not 1970 <= at.year <= 9000:
        raise ValidationError(f"at must be between 1970 and 9000, not {at.isoformat()}")
    return at
