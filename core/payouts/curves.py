"""Attainment → payout % curves, the shape shared by scorecards, budget attainment and
accelerators.

* :func:`interpolate` — points joined by straight lines (``linear``) or held flat until
  the next point (``stepped``). Below the first point pays the first point's payout
  (usually 0), above the last pays the last (the cap). Bounds are inclusive: exactly at
  a point pays that point's payout.
* :func:`tiered` — accelerators and decelerators: each band of attainment pays at its
  own rate (marginal, like tax brackets), except that reaching a *retroactive* band
  re-prices every band below it at that band's rate — QuotaPath's "full rate from 50%,
  applied retroactively; 1.5× above 100%, not retroactive".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

Point = tuple[Fraction, Fraction]


def interpolate(points: Sequence[Point], x: Fraction, mode: str = "linear") -> Fraction:
    """The payout % at attainment ``x`` on ``points`` (x strictly increasing)."""
    if x <= points[0][0]:
        return points[0][1]
    if x >= points[-1][0]:
        return points[-1][1]
    for (x0, y0), (x1, y1) in pairwise(points):
        if x0 <= x < x1:
            if mode == "stepped":
                return y0
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise AssertionError("unreachable: x lies between the first and last points")


def next_point(points: Sequence[Point], x: Fraction) -> Point | None:
    """The first point above ``x`` whose payout is higher than at ``x`` (the next tier)."""
    here = interpolate(points, x)
    for point in points:
        if point[0] > x and point[1] > here:
            return point
    return None


@dataclass(frozen=True)
class Band:
    """Attainment from ``start`` % (up to the next band's start) pays ``rate`` × itself."""

    start: Fraction
    rate: Fraction
    retroactive: bool = False


def tiered(bands: Sequence[Band], attainment: Fraction) -> tuple[Fraction, list[str]]:
    """Payout % for ``attainment`` over ``bands`` (sorted by start, the first at 0), and
    the steps in words."""
    reached = [band for band in bands if attainment > band.start or band.start == 0]
    retro = max((i for i, band in enumerate(reached) if band.retroactive), default=None)
    total = Fraction(0)
    steps: list[str] = []
    for index, band in enumerate(reached):
        upper = bands[index + 1].start if index + 1 < len(bands) else None
        top = attainment if upper is None else min(attainment, upper)
        width = max(Fraction(0), top - band.start)
        rate = reached[retro].rate if retro is not None and index < retro else band.rate
        total += width * rate
        if width:
            note = " (retroactive rate)" if retro is not None and index < retro else ""
            steps.append(f"{float(band.start):g}–{float(top):g}% × {float(rate):g}{note}")
    return total, steps
