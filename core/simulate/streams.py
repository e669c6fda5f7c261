"""Derived random streams: one ``random.Random`` per entity stream, seeded from the world.

A world is reproducible piece by piece: the tickets of day 40 or the endpoints of client
12 come out the same whether or not anything else was generated first, because each
stream draws from its own generator seeded with ``sha256(seed, stream name, keys…)``
(Python's ``hash()`` of a string changes between processes, so it is never used).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def derive(seed: int, *parts: object) -> random.Random:
    """A generator for the stream named by ``parts`` of the world seeded ``seed``."""
    text = "/".join([str(seed), *(str(part) for part in parts)])
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big"))


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A right-skewed positive value with the given median (durations, delays, sizes)."""
    return rng.lognormvariate(math.log(median), sigma)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def pick(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    """One of ``options`` (value, weight) by weight."""
    return rng.choices([value for value, _ in options], weights=[weight for _, weight in options])[0]


def whole_seconds(instant: dt.datetime) -> dt.datetime:
    """Vendors report times to the second; so does the world."""
    return instant.replace(microsecond=0)
