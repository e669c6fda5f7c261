"""Small conversions every connector needs when it turns vendor JSON into canonical records.

Vendors send money as JSON decimals (``1234.5``), times as ISO 8601 text and dates as
either dates or midnight timestamps; the canonical store wants integer minor units,
aware UTC times and plain dates. Doing these conversions once keeps every vendor's
rounding and time-zone handling identical, so the same world synced through two vendors
gives the same figures (design §6).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MINOR_EXPONENTS: dict[str, int] = {
    "BHD": 3, "CLP": 0, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3, "TND": 3, "UGX": 0, "VND": 0,
}
"""ISO 4217 minor-unit exponents that are not 2 (the rest of the world's currencies use cents)."""


def to_minor(amount: Any, currency: str = "USD") -> int | None:
    """An amount in integer minor units (``12.345`` USD → ``1235``), rounding half up.

    Goes through the amount's text form, so a float such as ``0.1 + 0.2`` rounds the way
    the vendor displayed it, not the way binary floating point stores it. ``None`` stays
    ``None``; text that is not a number raises ValueError naming it (a bool, TypeError).
    """
    if amount is None:
        return None
    if isinstance(amount, bool):
        raise TypeError(f"not an amount: {amount!r}")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    scale = Decimal(10) ** MINOR_EXPONENTS.get(currency.upper(), 2)
    return int((value * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def utc(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time with an offset or ``Z`` as an aware UTC datetime; None stays None.

    A time without an offset raises ValueError: guessing its zone would shift every SLA clock.
    """
    if text is None:
        return None
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset or 'Z'")
    return value.astimezone(dt.UTC)


def day(text: str | None) -> dt.date | None:
    """The calendar date a vendor means by ``2024-05-01`` or ``2024-05-01T00:00:00Z``.

    Vendors send date-only fields (due dates, agreement start dates) as midnight
    timestamps; the date is the one written, not the one the timestamp falls on in
    another zone.
    """
    if text is None:
        return None
    return dt.date.fromisoformat(text[:10])


def iso_z(value: dt.datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (seconds precision, floored)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
