"""Geometry of a small inline-SVG trend line, computed on the server.

Pods draw charts as inline SVG from the template (no script, no chart library, no build
step): this module turns a few values into coordinates, and a sentence that says the same
for screen readers (the chart's ``<title>``), since a line nobody can read aloud tells a
screen-reader user nothing. A period without data is a gap, never a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

WIDTH = 120
HEIGHT = 32
PAD = 4


@dataclass(frozen=True)
class Sparkline:
    """What the template draws: line segments (runs of periods with data), one dot per
    value, the goal as a dashed line, and a sentence describing it all."""

    width: int
    height: int
    segments: tuple[str, ...]
    """``points`` attributes of ``<polyline>``s: consecutive periods that have data."""
    dots: tuple[tuple[float, float], ...]
    last: tuple[float, float] | None
    """The current period's dot, drawn larger."""
    goal_y: float | None
    description: str


def sparkline(
    values: Sequence[tuple[str, Fraction | None]],
    say: Callable[[Fraction | None], str],
    goal: Fraction | None = None,
    *,
    what: str = "",
) -> Sparkline:
    """A trend of ``values`` (``(period label, value or None)``, oldest first), scaled so the
    lowest and highest of the values and the goal fit; ``say`` writes one value in words."""
    known = [v for _, v in values if v is not None]
    scale = known + ([goal] if goal is not None else [])
    low, high = (min(scale), max(scale)) if scale else (Fraction(0), Fraction(1))
    if low == high:
        low, high = low - 1, high + 1
    step = (WIDTH - 2 * PAD) / max(1, len(values) - 1)

    def y(value: Fraction) -> float:
        return round(PAD + float((high - value) / (high - low)) * (HEIGHT - 2 * PAD), 1)

    segments: list[list[str]] = []
    dots: list[tuple[float, float]] = []
    previous = False
    for i, (_label, value) in enumerate(values):
        if value is None:
            previous = False
            continue
        point = (round(PAD + i * step, 1), y(value))
        dots.append(point)
        if not previous:
            segments.append([])
        segments[-1].append(f"{point[0]},{point[1]}")
        previous = True
    current = values[-1][1] if values else None
    words = ", ".join(f"{label} {say(value)}" for label, value in values)
    description = f"{what} over the last {len(values)} periods: {words}" if values else f"{what}: no periods"
    if goal is not None:
        description += f"; goal {say(goal)}"
    return Sparkline(
        width=WIDTH, height=HEIGHT, segments=tuple(" ".join(s) for s in segments), dots=tuple(dots),
        last=dots[-1] if current is not None and dots else None,
        goal_y=y(goal) if goal is not None else None, description=description + ".",
    )
