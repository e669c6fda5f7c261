"""Periods: local-date ranges in the tenant's calendar settings.

A period is ``[start, end)`` in the tenant's time zone. Weeks start on the tenant's week
start; quarters are *fiscal* quarters (three months from the fiscal-year start month), so
a tenant whose year starts in April has Q1 = April–June. Boundaries come from
:mod:`podium.org.calendars`, the one place that defines them.

Text forms (CLI, API): ``day:2024-03-05``, ``week:2024-03-05`` (the week containing that
date), ``month:2024-03`` or ``month:2024-03-05``, ``quarter:2024-03-05`` and
``fiscal_year:2024-03-05`` (the ones containing that date), ``custom:2024-03-01..2024-04-15``
(end exclusive), or a bare kind (``month``) for the period containing today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from podium.org import calendars

KINDS = ("day", "week", "month", "quarter", "fiscal_year")
"""Period kinds that tile time (``custom`` ranges do not)."""


class PeriodError(ValueError):
    """A period text or range that does not describe a period."""


@dataclass(frozen=True)
class CalendarSettings:
    """The tenant settings periods depend on."""

    time_zone: str
    week_start: int = 0
    fiscal_year_start_month: int = 1


@dataclass(frozen=True, order=True)
class Period:
    """``[start, end)`` in local dates, of a ``kind``."""

    kind: str
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise PeriodError(f"period end {self.end} is not after its start {self.start}")

    def __str__(self) -> str:
        if self.kind == "custom":
            return f"custom:{self.start.isoformat()}..{self.end.isoformat()}"
        return f"{self.kind}:{self.start.isoformat()}"

    def utc_bounds(self, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
        """The period's start and end as UTC instants (local midnights)."""
        return calendars.period_bounds_utc(self.start, self.end, time_zone)


def containing(kind: str, day: dt.date, settings: CalendarSettings) -> Period:
    """The period of ``kind`` that contains ``day``."""
    if kind == "day":
        start, end = day, day + dt.timedelta(days=1)
    elif kind == "week":
        start, end = calendars.week_bounds(day, settings.week_start)
    elif kind == "month":
        start, end = calendars.month_bounds(day)
    elif kind == "quarter":
        start, end = calendars.fiscal_quarter_bounds(day, settings.fiscal_year_start_month)
    elif kind == "fiscal_year":
        start, end = calendars.fiscal_year_bounds(day, settings.fiscal_year_start_month)
    else:
        raise PeriodError(f"unknown period kind {kind!r}; one of {', '.join(KINDS)} or custom:START..END")
    return Period(kind, start, end)


def overlapping(kind: str, start: dt.date, end: dt.date, settings: CalendarSettings) -> list[Period]:
    """Every period of ``kind`` that shares a day with ``[start, end)``, in order."""
    periods: list[Period] = []
    day = start
    while day < end:
        period = containing(kind, day, settings)
        periods.append(period)
        day = period.end
    return periods


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse(text: str, settings: CalendarSettings, today: dt.date) -> Period:
    """A period from its text form (see the module docstring)."""
    kind, _, rest = text.strip().partition(":")
    if kind == "custom":
        first, sep, last = rest.partition("..")
        if not sep:
            raise PeriodError("custom periods are written custom:START..END (END exclusive)")
        return Period("custom", _date(first, "start"), _date(last, "end"))
    if kind not in KINDS:
        raise PeriodError(f"unknown period kind {kind!r}; one of {', '.join(KINDS)} or custom:START..END")
    if not rest:
        return containing(kind, today, settings)
    if kind == "month" and len(rest) == 7:
        rest += "-01"
    return containing(kind, _date(rest, kind), settings)
