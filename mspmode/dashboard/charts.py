"""Bar charts drawn on the server as SVG geometry for a template: no script, no library, and
readable without colour (each bar has its value as text and a title)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT, PAD = 640, 200, 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


def bars(points: list[tuple[str, Decimal | int | float]]) -> list[Bar]:
    """One bar per (label, value), scaled to the tallest."""
    if not points:
        return []
    top = max(float(v) for _, v in points) or 1.0
    step = (WIDTH - 2 * PAD) / len(points)
    out = []
    for i, (label, value) in enumerate(points):
        h = (HEIGHT - 2 * PAD) * float(value) / top
        out.append(Bar(PAD + i * step + 2, HEIGHT - PAD - h, max(step - 4, 1), h, label, str(value)))
    return out
