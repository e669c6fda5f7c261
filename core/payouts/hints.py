"""Next-tier hints in plain words: what it takes to reach a level from where one stands.

Rates are pooled from a numerator and a denominator, so the distance to a level can be
said in records, not just points: at 27 positive of 28 surveys (96.4%), 98% needs
``k`` more positive ones, the smallest ``k`` with ``(27 + k) / (28 + k) ≥ 0.98`` — 22.
That assumes each new record counts in both (a survey, a ticket resolved in time); for a
rate over a fixed base (utilisation over available hours) the numerator alone must grow,
and the hint says by how much.
"""

from __future__ import annotations

import math
from fractions import Fraction

from podium.payouts.measures import figure
from podium.payouts.money import exact, format_number
from podium.payouts.readings import MetricReading


def records_needed(reading: MetricReading, level: Fraction) -> int | None:
    """Records that count fully (numerator and denominator) needed to reach ``level``;
    None when no number of them can (the level is the rate's maximum or above it)."""
    factor = reading.exact_factor
    numerator, denominator = exact(reading.numerator), exact(reading.denominator)
    if denominator and factor * numerator / denominator >= level:
        return 0
    if level >= factor:
        return None
    return max(0, math.ceil((level * denominator - factor * numerator) / (factor - level)))


def to_reach(reading: MetricReading, level: Fraction, higher_is_better: bool, label: str) -> str:
    """``"CSAT: 22 more that count (e.g. positive surveys) reach 98%"``-style advice."""
    target = figure(level, reading.unit)
    now = figure(reading.value, reading.unit)
    if not higher_is_better:
        return f"{label} needs to come down to {target} (now {now})"
    if reading.unit in ("percent", "ratio"):
        needed = records_needed(reading, level)
        raise_by = level * exact(reading.denominator) / reading.exact_factor - exact(reading.numerator)
        if needed is None:
            return f"{label} needs {target} (now {now}); {format_number(raise_by)} more counted toward it"
        return (f"{label} needs {target} (now {now}): {needed} more that count and none that do not, "
                f"or {format_number(raise_by)} more toward it on the same base")
    return f"{label} needs {target} (now {now}): {format_number(level - (reading.value or 0))} more"
