"""Bar charts drawn on the server as SVG geometry for a template: no script, no library, and
readable without colour (each bar has its value as text and a title naming its series)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT, PAD = 640, 200, 24
Number = Decimal | int | float


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    series: int = 0  # which series (the template's class ``bar-0``, ``bar-1``…)
    name: str = ""  # the series' name, for the bar's title


def bars(points: Sequence[tuple[str, Number]]) -> list[Bar]:
    """One bar per (label, value), scaled to the tallest."""
    return grouped([(label, [value]) for label, value in points], [""])


def grouped(points: Sequence[tuple[str, Sequence[Number]]], names: Sequence[str]) -> list[Bar]:
    """Side by side per label, one bar per series (``names``), all scaled to the tallest."""
    if not points:
        return []
    top = max((float(v) for _, values in points for v in values), default=0.0) or 1.0
    step = (WIDTH - 2 * PAD) / len(points)
    width = max((step - 4) / len(names), 1)
    out = []
    for i, (label, values) in enumerate(points):
        for k, value in enumerate(values):
            h = (HEIGHT - 2 * PAD) * float(value) / top
            x = PAD + i * step + 2 + k * width
            out.append(Bar(x, HEIGHT - PAD - h, width, h, label, str(value), k, names[k]))
    return out
