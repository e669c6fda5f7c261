"""Pay periods: monthly, quarterly, semi-annual and annual, fiscal-year aware.

A pay period is ``[start, end)`` in the tenant's local dates. Quarters and halves count
from the tenant's fiscal-year start month (a year starting in April has Q1 = April–June
and H2 = October–March), and a fiscal year is named after the calendar year it *ends*
in, the usual convention (a year from July 2024 to June 2025 is FY2025).

Labels are what people type and read: ``2025-03`` (monthly), ``FY2025-Q1``,
``FY2025-H2``, ``FY2025``. :func:`parse` reads them back.

Metric values are read for the same ``[start, end)``; :data:`METRIC_KINDS` says which
metric-engine period kind each pay period is (a half year has none, so the engine
computes it as a custom range).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from podium.org import calendars

KINDS = ("monthly", "quarterly", "semi_annual", "annual")
MONTHS = {"monthly": 1, "quarterly": 3, "semi_annual": 6, "annual": 12}
METRIC_KINDS = {"monthly": "month", "quarterly": "quarter", "semi_annual": "custom", "annual": "fiscal_year"}
_LABEL = re.compile(r"^(?:(?P<month>\d{4}-\d{2})|FY(?P<fy>\d{4})(?:-(?P<part>[QH])(?P<n>\d))?)$")


class PeriodError(ValueError):
    """A period label or kind that does not name a pay period."""


@dataclass(frozen=True, order=True)
class PayPeriod:
    """One pay period of a plan: ``[start, end)`` in local dates."""

    start: dt.date
    end: dt.date
    kind: str
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def metric_kind(self) -> str:
        return METRIC_KINDS[self.kind]

    def days_overlapping(self, start: dt.date | None, end: dt.date | None) -> int:
        """Days of this period inside ``[start, end)`` (None = unbounded)."""
        first = max(self.start, start) if start else self.start
        last = min(self.end, end) if end else self.end
        return max(0, (last - first).days)


def _fiscal_year_name(year_start: dt.date) -> int:
    """FY name: the calendar year the fiscal year ends in."""
    return year_start.year if year_start.month == 1 else year_start.year + 1


def containing(kind: str, day: dt.date, fiscal_year_start_month: int = 1) -> PayPeriod:
    """The pay period of ``kind`` that contains ``day``."""
    if kind not in KINDS:
        raise PeriodError(f"unknown period {kind!r}; one of {', '.join(KINDS)}")
    if kind == "monthly":
        start, end = calendars.month_bounds(day)
        return PayPeriod(start, end, kind, f"{start:%Y-%m}")
    year_start, year_end = calendars.fiscal_year_bounds(day, fiscal_year_start_month)
    name = f"FY{_fiscal_year_name(year_start)}"
    if kind == "annual":
        return PayPeriod(year_start, year_end, kind, name)
    months = MONTHS[kind]
    months_in = (day.year - year_start.year) * 12 + day.month - year_start.month
    index = months_in // months
    start = _add_months(year_start, index * months)
    letter = "Q" if kind == "quarterly" else "H"
    return PayPeriod(start, _add_months(start, months), kind, f"{name}-{letter}{index + 1}")


def following(period: PayPeriod, fiscal_year_start_month: int = 1) -> PayPeriod:
    return containing(period.kind, period.end, fiscal_year_start_month)


def preceding(period: PayPeriod, fiscal_year_start_month: int = 1) -> PayPeriod:
    return containing(period.kind, period.start - dt.timedelta(days=1), fiscal_year_start_month)


def parse(label: str, kind: str, fiscal_year_start_month: int = 1) -> PayPeriod:
    """The ``kind`` period a label names (``2025-03``, ``FY2025-Q1``, ``FY2025-H2``,
    ``FY2025``), or an ISO date inside it (``2025-02-14``)."""
    text = label.strip()
    try:
        return containing(kind, dt.date.fromisoformat(text), fiscal_year_start_month)
    except ValueError:
        pass
    match = _LABEL.match(text)
    if match is None:
        raise PeriodError(f"{label!r} is not a period label (2025-03, FY2025-Q1, FY2025-H2, FY2025 or a date)")
    if match["month"]:
        period = containing(kind, dt.date.fromisoformat(match["month"] + "-01"), fiscal_year_start_month)
    else:
        fiscal_year = int(match["fy"])
        first_year = fiscal_year if fiscal_year_start_month == 1 else fiscal_year - 1
        year_start = dt.date(first_year, fiscal_year_start_month, 1)
        part = {"Q": 3, "H": 6}.get(match["part"] or "", 12)
        number = int(match["n"] or 1)
        if number < 1 or number > 12 // part:
            raise PeriodError(f"{label!r}: a fiscal year has {12 // part} of those")
        period = containing(kind, _add_months(year_start, (number - 1) * part), fiscal_year_start_month)
    if period.label != text:
        raise PeriodError(f"{label!r} is not a {kind.replace('_', '-')} period; did you mean {period.label}?")
    return period


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
