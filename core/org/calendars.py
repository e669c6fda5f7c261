"""Business hours, holidays and period boundaries, correct across DST changes.

Metrics such as MTTR are measured in *business* hours ("Fri 4 pm → Mon 4 pm = 8 h, not
72"), SLA clocks run on the SLA's calendar, and a technician's capacity follows their
own time zone. All of that reduces to one object, :class:`BusinessCalendar`: weekly
opening hours in an IANA time zone plus closed days. Local opening hours are turned into
UTC instants per local day through :mod:`zoneinfo`, so a 08:00–17:00 day is 9 h on both
sides of a DST change and a 24-hour calendar has a 23-hour and a 25-hour day each year.

A wall-clock boundary that does not exist (inside a spring-forward gap) is read with the
offset in force before the change, i.e. it lands just after the gap.

Which calendar applies (:func:`calendar_for_tenant`, :func:`calendar_for_sla`,
:func:`calendar_for_person`):

* tenant — its ``kind="tenant"`` calendar, else Monday–Friday 08:00–17:00 in the tenant's
  time zone;
* SLA — the ``kind="sla"`` calendar named like the SLA, else the tenant's;
* person — their ``kind="person"`` calendar, else the tenant's hours in the person's own
  time zone; company holidays (the tenant calendar's) always apply to people.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models import Calendar, Holiday, Person, Tenant

UTC = dt.timezone.utc
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
MAX_SEARCH_DAYS = 3660
"""How far :meth:`BusinessCalendar.add_business_hours` looks before giving up (10 years)."""

OFFICE_HOURS: dict[str, list[list[str]]] = {
    day: ([["08:00", "17:00"]] if day not in ("sat", "sun") else []) for day in WEEKDAYS
}
"""The default calendar: Monday–Friday 08:00–17:00."""
ALL_HOURS: dict[str, list[list[str]]] = {day: [["00:00", "24:00"]] for day in WEEKDAYS}
"""A 24×7 calendar (e.g. a premium SLA)."""

Interval = tuple[dt.datetime, dt.datetime]


class CalendarError(ValueError):
    """A calendar definition is invalid; the message names the day and the problem."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a :class:`CalendarError` saying it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {name!r}; use an IANA name such as 'America/Chicago'") from None


def _minutes(text: str, day: str) -> int:
    match = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise CalendarError(f"{day}: {text!r} is not a time of day (HH:MM, 00:00–24:00)")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_hours(spec: Mapping[str, Any]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """``{"mon": [["08:00", "17:00"]], ...}`` → per weekday, sorted (start, end) minutes.

    Missing days are closed. Spans must be non-empty and must not overlap.
    """
    unknown = sorted(set(spec) - set(WEEKDAYS))
    if unknown:
        raise CalendarError(f"unknown day(s) {', '.join(unknown)}; days are {', '.join(WEEKDAYS)}")
    week = []
    for day in WEEKDAYS:
        spans = []
        for span in spec.get(day) or []:
            if not isinstance(span, (list, tuple)) or len(span) != 2:
                raise CalendarError(f"{day}: each span is [start, end], got {span!r}")
            start, end = _minutes(span[0], day), _minutes(span[1], day)
            if end <= start:
                raise CalendarError(f"{day}: span {span[0]}–{span[1]} ends before it starts")
            spans.append((start, end))
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise CalendarError(f"{day}: spans overlap")
        week.append(tuple(spans))
    return tuple(week)


def format_hours(week: tuple[tuple[tuple[int, int], ...], ...]) -> dict[str, list[list[str]]]:
    """The inverse of :func:`parse_hours` (what is stored in ``Calendar.business_hours``)."""

    def clock(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return {day: [[clock(a), clock(b)] for a, b in spans] for day, spans in zip(WEEKDAYS, week, strict=True)}


class BusinessCalendar:
    """Weekly opening hours in one time zone, minus closed days.

    Instances cache each local day's opening spans as UTC intervals, so the arithmetic
    below costs a few comparisons per day spanned; build one per calendar and reuse it.
    """

    def __init__(
        self,
        time_zone: str,
        business_hours: Mapping[str, Any] | None = None,
        closed_days: Iterable[dt.date] = (),
    ) -> None:
        self.time_zone = time_zone
        self.zone = zone(time_zone)
        self.week = parse_hours(OFFICE_HOURS if business_hours is None else business_hours)
        self.closed_days = frozenset(closed_days)
        self._days: dict[dt.date, tuple[Interval, ...]] = {}
        if not any(self.week):
            raise CalendarError("a calendar needs opening hours on at least one day of the week")

    def with_closed_days(self, extra: Iterable[dt.date]) -> BusinessCalendar:
        """The same hours with more closed days (a person's PTO on top of holidays)."""
        return BusinessCalendar(self.time_zone, format_hours(self.week), self.closed_days | frozenset(extra))

    def in_zone(self, time_zone: str) -> BusinessCalendar:
        """The same local hours and closed days, kept in another time zone."""
        return BusinessCalendar(time_zone, format_hours(self.week), self.closed_days)

    # -- days --------------------------------------------------------------------------

    def local_day(self, instant: dt.datetime) -> dt.date:
        """The calendar date ``instant`` falls on in this calendar's zone."""
        return instant.astimezone(self.zone).date()

    def local_time(self, day: dt.date, minutes: int) -> dt.datetime:
        """``day`` at ``minutes`` past local midnight, as a UTC instant (24:00 = next day)."""
        if minutes >= 24 * 60:
            day, minutes = day + dt.timedelta(days=1), minutes - 24 * 60
        local = dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=self.zone)
        return local.astimezone(UTC)

    def intervals_on(self, day: dt.date) -> tuple[Interval, ...]:
        """The opening spans of local ``day`` as UTC instants (empty on closed days)."""
        cached = self._days.get(day)
        if cached is None:
            if day in self.closed_days:
                cached = ()
            else:
                spans = self.week[day.weekday()]
                cached = tuple((self.local_time(day, a), self.local_time(day, b)) for a, b in spans)
            self._days[day] = cached
        return cached

    def is_business_day(self, day: dt.date) -> bool:
        return bool(self.intervals_on(day))

    def business_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Days of ``[start, end)`` with any opening hours."""
        return [
            start + dt.timedelta(days=n)
            for n in range((end - start).days)
            if self.intervals_on(start + dt.timedelta(days=n))
        ]

    def hours_on(self, day: dt.date) -> float:
        """Business hours of local ``day`` (8 on a normal weekday; DST-correct)."""
        return sum((b - a).total_seconds() for a, b in self.intervals_on(day)) / 3600

    # -- instants ----------------------------------------------------------------------

    def is_business_time(self, instant: dt.datetime) -> bool:
        _aware(instant)
        return any(a <= instant < b for a, b in self.intervals_on(self.local_day(instant)))

    def business_seconds_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Business seconds in ``[start, end)``; 0 when ``end`` is not after ``start``."""
        _aware(start)
        _aware(end)
        if end <= start:
            return 0.0
        total = 0.0
        day, last = self.local_day(start), self.local_day(end)
        while day <= last:
            for a, b in self.intervals_on(day):
                low, high = max(a, start), min(b, end)
                if high > low:
                    total += (high - low).total_seconds()
            day += dt.timedelta(days=1)
        return total

    def business_hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Business hours in ``[start, end)`` — what MTTR and SLA clocks measure."""
        return self.business_seconds_between(start, end) / 3600

    def add_business_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The instant ``hours`` business hours after ``start`` (an SLA due time).

        Zero hours from outside opening hours gives the next opening instant.
        """
        _aware(start)
        if hours < 0:
            raise ValueError("hours must not be negative")
        remaining = dt.timedelta(hours=hours)
        day = self.local_day(start)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in self.intervals_on(day):
                if b <= start:
                    continue
                begin = max(a, start)
                if begin + remaining <= b:
                    return begin + remaining
                remaining -= b - begin
            day += dt.timedelta(days=1)
        raise CalendarError(f"no {hours} business hours within {MAX_SEARCH_DAYS} days of {start.isoformat()}")

    def next_business_time(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` itself during opening hours, else the next opening."""
        return self.add_business_hours(instant, 0)


def _aware(instant: dt.datetime) -> None:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: business time needs a time zone")


# -- calendars stored in the database --------------------------------------------------


def holidays_of(session: Session, calendar_id: int) -> list[dt.date]:
    return list(session.scalars(select(Holiday.day).where(Holiday.calendar_id == calendar_id)))


def from_row(session: Session, calendar: Calendar, extra_closed: Iterable[dt.date] = ()) -> BusinessCalendar:
    """A :class:`BusinessCalendar` for a stored calendar and its holidays."""
    return BusinessCalendar(
        calendar.time_zone, calendar.business_hours, [*holidays_of(session, calendar.id), *extra_closed]
    )


def _tenant_row(session: Session) -> Calendar | None:
    return session.scalars(select(Calendar).where(Calendar.kind == "tenant").order_by(Calendar.id)).first()


def calendar_for_tenant(session: Session, tenant_id: int) -> BusinessCalendar:
    """The tenant's business calendar (Mon–Fri 08:00–17:00 in its zone if none is stored)."""
    row = _tenant_row(session)
    if row is not None:
        return from_row(session, row)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    return BusinessCalendar(tenant.time_zone, OFFICE_HOURS)


def calendar_for_sla(session: Session, tenant_id: int, sla_name: str) -> BusinessCalendar:
    """The calendar an SLA's clock runs on: the ``sla`` calendar of that name, else the tenant's."""
    row = session.scalars(
        select(Calendar).where(Calendar.kind == "sla", Calendar.name == sla_name).order_by(Calendar.id)
    ).first()
    return from_row(session, row) if row is not None else calendar_for_tenant(session, tenant_id)


def calendar_for_person(session: Session, tenant_id: int, person_id: int) -> BusinessCalendar:
    """A person's working calendar: their own, else the tenant's hours in their time zone;
    company holidays apply either way."""
    tenant_calendar = calendar_for_tenant(session, tenant_id)
    row = session.scalars(
        select(Calendar).where(Calendar.kind == "person", Calendar.person_id == person_id).order_by(Calendar.id)
    ).first()
    if row is not None:
        return from_row(session, row, tenant_calendar.closed_days)
    person = session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person {person_id}")
    return tenant_calendar.in_zone(person.time_zone) if person.time_zone else tenant_calendar


# -- periods ---------------------------------------------------------------------------


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    """``[first of the month, first of the next)``."""
    start = day.replace(day=1)
    return start, _add_months(start, 1)


def fiscal_year_bounds(day: dt.date, start_month: int) -> tuple[dt.date, dt.date]:
    """The fiscal year containing ``day`` as ``[start, end)`` for a year starting in ``start_month``."""
    if not 1 <= start_month <= 12:
        raise ValueError("start_month must be 1–12")
    year = day.year if day.month >= start_month else day.year - 1
    start = dt.date(year, start_month, 1)
    return start, _add_months(start, 12)


def fiscal_quarter_bounds(day: dt.date, start_month: int) -> tuple[dt.date, dt.date]:
    """The fiscal quarter containing ``day`` as ``[start, end)``."""
    year_start, _ = fiscal_year_bounds(day, start_month)
    months_in = (day.year - year_start.year) * 12 + day.month - year_start.month
    start = _add_months(year_start, months_in - months_in % 3)
    return start, _add_months(start, 3)


def week_bounds(day: dt.date, week_start: int) -> tuple[dt.date, dt.date]:
    """The week containing ``day`` as ``[start, end)``; ``week_start`` 0 = Monday … 6 = Sunday."""
    if not 0 <= week_start <= 6:
        raise ValueError("week_start must be 0 (Monday) to 6 (Sunday)")
    start = day - dt.timedelta(days=(day.weekday() - week_start) % 7)
    return start, start + dt.timedelta(days=7)


def period_bounds_utc(start: dt.date, end: dt.date, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """Local dates ``[start, end)`` as UTC instants: what a period's SQL filters compare to."""
    tz = zone(time_zone)

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)

    return midnight(start), midnight(end)
