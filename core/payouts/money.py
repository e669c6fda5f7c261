"""Money rules for payouts: exact arithmetic, one rounding per line, exact splits.

Every amount Podium pays is an integer number of minor units (cents) of the plan's one
currency. Intermediate math is done in :class:`fractions.Fraction` — exact rationals, so
``1500 × 0.30 × 83.33…%`` carries no binary-float error — and each payout line is
rounded **once**, at the end, to the nearest minor unit with halves rounded away from
zero (:func:`round_minor`). Lines are never re-rounded after that, so the sum a
statement shows is the sum payroll pays.

A pool that is split between people is split by the largest-remainder method
(:func:`split_largest_remainder`): everyone gets the floor of their exact share, and the
minor units left over go one each to the largest remainders, so the lines add up to the
pool exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from podium.vendor_mapping import MINOR_EXPONENTS

Number = int | float | str | Decimal | Fraction


class MoneyError(ValueError):
    """An amount that cannot be paid in the given currency (too many decimals, not a number)."""


def exponent(currency: str) -> int:
    """Decimal places of ``currency`` (USD 2, JPY 0, KWD 3)."""
    return MINOR_EXPONENTS.get(currency.upper(), 2)


def exact(value: Number) -> Fraction:
    """``value`` as an exact rational; floats are read as their shortest decimal form
    (``0.1`` is one tenth, not the binary float nearest to it)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MoneyError(f"{value!r} is not a finite number")
        return Fraction(repr(value))
    if isinstance(value, (int, Decimal)):
        return Fraction(value)
    try:
        return Fraction(Decimal(str(value).replace(",", "").strip()))
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{value!r} is not a number") from None


def to_minor(amount: Number, currency: str) -> int:
    """A plan-file amount in major units (``1500``, ``"1500.50"``) as minor units; refuses
    more decimals than the currency has, so a plan never asks to pay a fraction of a cent."""
    value = exact(amount) * 10 ** exponent(currency)
    if value.denominator != 1:
        raise MoneyError(f"{amount} has more decimal places than {currency} ({exponent(currency)})")
    return int(value)


def round_minor(amount_minor: Fraction) -> int:
    """Round an exact amount of minor units to a whole one: half away from zero.

    This is the one rounding of a payout line (see the module docstring)."""
    sign = -1 if amount_minor < 0 else 1
    magnitude = abs(amount_minor)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return sign * whole


def format_money(minor: int, currency: str, *, sign: bool = False) -> str:
    """``123456`` USD → ``"1,234.56 USD"``; ``sign`` writes ``+`` on positive amounts."""
    places = exponent(currency)
    text = f"{Decimal(abs(minor)).scaleb(-places):,.{places}f}"
    prefix = "-" if minor < 0 else ("+" if sign and minor > 0 else "")
    return f"{prefix}{text} {currency}"


def format_plain(minor: int, currency: str) -> str:
    """``-123456`` USD → ``"-1234.56"``: the machine-readable form for CSV files."""
    places = exponent(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


def format_number(value: Fraction | float | None, places: int = 2) -> str:
    """A figure for an explanation: at most ``places`` decimals, trailing zeros dropped."""
    if value is None:
        return "no data"
    rounded = Decimal(round_minor(exact(value) * 10**places)).scaleb(-places)
    text = f"{rounded:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def split_largest_remainder(total_minor: int, weights: Sequence[Fraction]) -> list[int]:
    """Split ``total_minor`` in proportion to ``weights`` so the parts sum to it exactly.

    Each part is the floor of its exact share; the units left over go, one each, to the
    largest remainders, ties to the earlier weight (callers order people by id, so the
    outcome is deterministic). All-zero weights get nothing (the caller explains why).
    """
    if total_minor < 0:
        return [-part for part in split_largest_remainder(-total_minor, weights)]
    if any(weight < 0 for weight in weights):
        raise MoneyError("split weights must not be negative")
    whole = sum(weights, Fraction(0))
    if whole == 0:
        return [0 for _ in weights]
    shares = [Fraction(total_minor) * weight / whole for weight in weights]
    parts = [math.floor(share) for share in shares]
    left = total_minor - sum(parts)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for index in order[:left]:
        parts[index] += 1
    return parts
