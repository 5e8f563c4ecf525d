"""Durations in each PSA's unit, property-tested: HH:MM:SS and seconds are exact both ways, and
decimal hours rounded on the running total never lose or add a minute over a week of entries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mspmode.integrations.psa import units

MINUTES = st.integers(min_value=0, max_value=24 * 60)
WEEK = st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=300)


@given(MINUTES)
def test_hms_and_seconds_are_exact(m: int) -> None:
    assert units.from_hms(units.hms(m)) == m
    assert units.from_seconds(units.seconds(m)) == m


@given(WEEK, st.sampled_from([2, 4]))
def test_a_week_of_entries_adds_up_to_its_minutes(week: list[int], places: int) -> None:
    posted: list[Decimal] = []
    before = 0
    for m in week:
        posted.append(units.hours_for(m, before, places=places))
        before += m
    step = Decimal(1).scaleb(-places)
    total = sum(posted, Decimal(0))
    assert total == (Decimal(sum(week)) / 60).quantize(step)  # rounded once, not per entry
    assert units.from_hours(total) == sum(week)  # no minute lost or added
    for m, h in zip(week, posted, strict=True):
        assert h >= 0 and abs(h * 60 - m) <= step * 60  # each entry within one step of its minutes


def test_rounding_each_entry_alone_would_drift() -> None:
    # Why the running total: sixty one-minute entries rounded alone bill 72 minutes.
    assert sum(units.hours_for(1, places=2) for _ in range(60)) == Decimal("1.20")
    assert sum(units.hours_for(1, b, places=2) for b in range(60)) == Decimal("1.00")


def test_known_values() -> None:
    assert units.hms(95) == "01:35:00" and units.from_hms("00:00:31") == 1
    assert [units.hours_for(1, b) for b in range(6)] == [
        Decimal("0.02"),
        Decimal("0.01"),
        Decimal("0.02"),
        Decimal("0.02"),
        Decimal("0.01"),
        Decimal("0.02"),
    ]
    assert units.from_seconds(2820) == 47 and units.from_hours("0.78") == 47
    with pytest.raises(ValueError):
        units.hms(-1)
    with pytest.raises(ValueError):
        units.from_hms("1:2")
