"""Durations as each PSA wants them, converted in this one place.

The work is measured in whole minutes. ITFlow takes ``HH:MM:SS``; Syncro takes minutes (and
reports a timer's length in seconds); Autotask, ConnectWise and HaloPSA take decimal hours.
Minutes convert to ``HH:MM:SS``, seconds and minutes exactly. Decimal hours do not: 1 minute is
0.0166… h, so rounding each entry on its own would drift by up to a third of a minute per
entry and lose or add minutes over a week. ``hours_for`` rounds the *running total* instead:
an entry's hours are the rounded total after it minus the rounded total before it, so the
hours posted over any run of entries always add up to their exact total, rounded once.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

_HMS = re.compile(r"^(\d{1,4}):([0-5]\d):([0-5]\d)$")


def hms(minutes: int) -> str:
    """``95`` → ``"01:35:00"`` (ITFlow's ``ticket_reply_time_worked``)."""
    _check(minutes)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def from_hms(text: str) -> int:
    """``"01:35:00"`` → ``95``; seconds round to the nearest minute (half up)."""
    match = _HMS.match(text.strip())
    if match is None:
        raise ValueError(f"not a HH:MM:SS duration: {text!r}")
    h, m, s = (int(g) for g in match.groups())
    return h * 60 + m + (1 if s >= 30 else 0)


def seconds(minutes: int) -> int:
    _check(minutes)
    return minutes * 60


def from_seconds(value: int | float) -> int:
    """A duration in seconds (Syncro's ``active_duration``) in whole minutes, half up."""
    return int((Decimal(str(value)) / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _round_hours(minutes: int, places: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def hours_for(minutes: int, before: int = 0, *, places: int = 2) -> Decimal:
    """Decimal hours for an entry of ``minutes`` that follows ``before`` minutes already posted
    in the same ledger (the same integration and week): the total stays exact."""
    _check(minutes)
    _check(before)
    return _round_hours(before + minutes, places) - _round_hours(before, places)


def from_hours(value: Decimal | float | str) -> int:
    """Decimal hours in whole minutes, half up."""
    return int((Decimal(str(value)) * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _check(minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise ValueError(f"a duration is a whole, non-negative number of minutes, not {minutes!r}")
