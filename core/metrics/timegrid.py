"""The time grid: the tenant's local days and business spans, as tables SQL can join.

SQLite has no time-zone database, and even PostgreSQL's may differ from Python's, so
"which local day is this UTC instant in" and "how many business hours lie between these
two instants" are answered from rows Podium writes once from :mod:`podium.org.calendars`
(zoneinfo, holidays, DST): one row per local day (``metric_days``: its UTC bounds, the
period starts it belongs to, its business seconds) and one per opening span of the
tenant's business calendar with the business seconds before it
(``metric_business_spans``). Business time between two instants is then
``cumulative(end) - cumulative(start)``, two index look-ups, identical on both backends.

The grid is rebuilt when the tenant's settings, calendar or holidays change (a
fingerprint of them is stored) or when a computation needs days it does not cover; it
always covers generous margins, so rebuilding is rare.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from podium.db import analyze
from podium.metrics.periods import CalendarSettings, containing
from podium.models import MetricBusinessSpan, MetricDay, MetricTimeGrid, Tenant
from podium.org import calendars

MARGIN_BEFORE = dt.timedelta(days=62)
MARGIN_AFTER = dt.timedelta(days=400)


def settings_of(tenant: Tenant) -> CalendarSettings:
    return CalendarSettings(tenant.time_zone, tenant.week_start, tenant.fiscal_year_start_month)


def _fingerprint(settings: CalendarSettings, calendar: calendars.BusinessCalendar) -> str:
    text = json.dumps(
        {
            "settings": [settings.time_zone, settings.week_start, settings.fiscal_year_start_month],
            "calendar": [calendar.time_zone, calendar.week, sorted(d.isoformat() for d in calendar.closed_days)],
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def ensure(session: Session, tenant_id: int, start: dt.date, end: dt.date) -> None:
    """Make the grid of ``tenant_id`` cover the local days ``[start, end)``, current with
    its calendar settings (``session`` must be scoped to that tenant)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    settings = settings_of(tenant)
    calendar = calendars.calendar_for_tenant(session, tenant_id)
    fingerprint = _fingerprint(settings, calendar)
    query = select(MetricTimeGrid).where(MetricTimeGrid.tenant_id == tenant_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    grid = session.scalars(query).one_or_none()
    if grid is not None and grid.fingerprint == fingerprint:
        if grid.covers_from <= start and end <= grid.covers_to:
            return
        start, end = min(start, grid.covers_from), max(end, grid.covers_to)
    covers_from, covers_to = start - MARGIN_BEFORE, end + MARGIN_AFTER
    session.execute(delete(MetricDay).where(MetricDay.tenant_id == tenant_id))
    session.execute(delete(MetricBusinessSpan).where(MetricBusinessSpan.tenant_id == tenant_id))
    days, spans = _rows(tenant_id, settings, calendar, covers_from, covers_to)
    session.execute(insert(MetricDay), days)
    if spans:
        session.execute(insert(MetricBusinessSpan), spans)
    if grid is None:
        session.add(MetricTimeGrid(tenant_id=tenant_id, fingerprint=fingerprint, covers_from=covers_from,
                                   covers_to=covers_to))
    else:
        grid.fingerprint, grid.covers_from, grid.covers_to = fingerprint, covers_from, covers_to
    session.flush()
    # Every metric query joins the grid: plan it for the rows just written, not as empty.
    analyze(session, MetricDay.__tablename__, MetricBusinessSpan.__tablename__)


def _rows(
    tenant_id: int,
    settings: CalendarSettings,
    calendar: calendars.BusinessCalendar,
    start: dt.date,
    end: dt.date,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    weekly = sum(b - a for spans in calendar.week for a, b in spans) * 60
    days: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    cumulative = 0
    day = start
    while day < end:
        following = day + dt.timedelta(days=1)
        starts_at, ends_at = calendars.period_bounds_utc(day, following, settings.time_zone)
        business = 0
        for a, b in calendar.intervals_on(day):
            seconds = int((b - a).total_seconds())
            spans.append({"tenant_id": tenant_id, "starts_at": a, "start_epoch": int(a.timestamp()),
                          "seconds": seconds, "cumulative": cumulative})
            cumulative += seconds
            business += seconds
        month = containing("month", day, settings)
        days.append({
            "tenant_id": tenant_id,
            "day": day,
            "ordinal": day.toordinal(),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "business_seconds": business,
            "capacity_fraction": business / weekly,
            "month_days": (month.end - month.start).days,
            "week_start": containing("week", day, settings).start,
            "month_start": month.start,
            "quarter_start": containing("quarter", day, settings).start,
            "fiscal_year_start": containing("fiscal_year", day, settings).start,
        })
        day = following
    return days, spans
