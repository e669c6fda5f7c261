"""Geometry for the pods' inline SVG charts (no chart library, no front-end build).

Pods draw bars and trend lines as inline SVG in their templates
(``ui/templates/pods/_charts.html``); the arithmetic lives here so it is tested once and
the templates only place shapes. Every chart also carries its numbers as text for screen
readers (an ``aria-label`` and the figures next to it), so nothing is only a picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TREND_WIDTH = 120
TREND_HEIGHT = 32
TREND_PAD = 3


def bar_fill(percent: float | None, full: float = 100.0) -> float:
    """How much of a bar (0–100 of its width) ``percent`` fills, ``full`` being a full bar."""
    if percent is None or full <= 0:
        return 0.0
    return round(max(0.0, min(percent / full, 1.0)) * 100, 2)


@dataclass(frozen=True)
class TrendPoint:
    label: str
    value: float | None
    x: float
    y: float | None


@dataclass(frozen=True)
class Trend:
    """A trend line over periods: ``points`` in SVG user units, gaps where there is no data."""

    points: list[TrendPoint]
    segments: list[str]
    """``polyline`` point lists, one per unbroken run of periods with data."""
    width: int = TREND_WIDTH
    height: int = TREND_HEIGHT
    pad: int = TREND_PAD
    """Space above the top value and below the bottom one (where the guide lines run)."""


def trend(series: Sequence[tuple[str, float | None]], low: float = 0.0, high: float = 100.0) -> Trend:
    """Place ``(label, value)`` pairs on a ``TREND_WIDTH`` × ``TREND_HEIGHT`` box, values
    from ``low`` (bottom) to ``high`` (top); a period without data breaks the line."""
    count = len(series)
    span = TREND_WIDTH - 2 * TREND_PAD
    step = span / (count - 1) if count > 1 else 0.0
    points, segments, run = [], [], []
    for index, (label, value) in enumerate(series):
        x = round(TREND_PAD + (step * index if count > 1 else span / 2), 2)
        y = None
        if value is not None:
            share = (min(max(value, low), high) - low) / (high - low) if high > low else 0.5
            y = round(TREND_HEIGHT - TREND_PAD - share * (TREND_HEIGHT - 2 * TREND_PAD), 2)
            run.append(f"{x},{y}")
        elif run:
            segments.append(" ".join(run))
            run = []
        points.append(TrendPoint(label, value, x, y))
    if run:
        segments.append(" ".join(run))
    return Trend(points, segments)
