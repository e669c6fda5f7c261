"""The SQL the engine wraps around a metric's rows: adjustments, grains, periods, pooling.

One pipeline, used for values and for drill-down alike, so an explanation lists exactly
the records a figure was computed from:

1. **rows** — the metric's selectable, with overrides applied (excluded records dropped,
   reattributed ones credited to their new person), exclusion windows applied (for
   metrics that opt in), limited to the UTC range asked for, and each row placed on its
   tenant-local day (a look-up in the time grid);
2. **grain** — each row gets its subject(s) for the grain, with a weight:

   ============ ================================== ===================================
   grain        ``attribution = "person"``          ``attribution = "client"``
   ============ ================================== ===================================
   person       the row's person                    people responsible for the client
                                                    that day, weight = their share
   team         the person's teams that day,        teams responsible for the client
                weight = membership share           that day, weight = their share
   role         the person's role that day          the responsible people's roles
   client       the row's client                    the row's client
   company      every row                           every row
   ============ ================================== ===================================

3. **pooling** — per subject and period: Σ weight × numerator and Σ weight × denominator.
   The ratio is taken in Python (:func:`ratio`), so "no data" (a zero denominator) is
   None and never 0 or a division error on either backend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)

from podium.metrics.base import Metric
from podium.metrics.periods import Period
from podium.metrics.sql import as_float
from podium.metrics.tables import Tables
from podium.models import MetricExclusionWindow, MetricOverride, Ticket
from podium.models.base import UTCDateTime

PERIOD_COLUMNS = {"week": "week_start", "month": "month_start", "quarter": "quarter_start",
                  "fiscal_year": "fiscal_year_start"}
"""Period kind → the ``metric_days`` column holding the start of the day's period."""

DECIMALS = 9
"""Sums and ratios are rounded to this many decimals, so float summation order (which
differs between backends) cannot make SQLite and PostgreSQL disagree in the last bit."""


@dataclass(frozen=True)
class Adjustments:
    """Whether the tenant has any active override / exclusion window (else their SQL is skipped)."""

    overrides: bool
    windows: bool


def _valid_on(table: Subquery, day: ColumnElement[Any]) -> ColumnElement[bool]:
    """The effective-dated row of ``table`` is in force on ``day`` (as ``podium.org.effective``)."""
    return and_(table.c.valid_from <= day, or_(table.c.valid_to.is_(None), table.c.valid_to > day))


def parameters(start: dt.datetime, end: dt.datetime, now: dt.datetime, custom: Period | None = None) -> dict[str, Any]:
    """The values of the bound parameters of :func:`rows` and :func:`pooled` statements."""
    values: dict[str, Any] = {"range_start": start, "range_end": end, "now": now}
    if custom is not None:
        values["period_start"] = custom.start
    return values


def rows(metric: Metric, tables: Tables, adjustments: Adjustments) -> Subquery:
    """Step 1: the metric's rows anchored in ``[:range_start, :range_end)`` (UTC, bound
    parameters — see :func:`parameters`), adjusted and placed on local days."""
    r = metric.select(tables).subquery("metric_rows")
    person: ColumnElement[Any] = r.c.person_id
    keep: list[ColumnElement[bool]] = [
        r.c.anchored_at >= bindparam("range_start", type_=UTCDateTime()),
        r.c.anchored_at < bindparam("range_end", type_=UTCDateTime()),
    ]
    if adjustments.overrides:
        o = MetricOverride.__table__
        matching = and_(
            o.c.tenant_id == tables.tenant_id,
            o.c.record_type == r.c.record_type,
            o.c.record_id == r.c.record_id,
            o.c.revoked_at.is_(None),
            or_(o.c.metric_key.is_(None), o.c.metric_key == metric.key),
        )
        keep.append(~exists().where(matching, o.c.action == "exclude"))
        new_person = (
            select(o.c.person_id)
            .where(matching, o.c.action == "reattribute")
            .order_by(o.c.metric_key.is_(None), o.c.created_at.desc(), o.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        person = func.coalesce(new_person, r.c.person_id)
    if adjustments.windows and metric.exclusion_windows:
        w, t = MetricExclusionWindow.__table__, Ticket.__table__
        in_window = exists().where(
            r.c.record_type == "ticket",
            t.c.id == r.c.record_id,
            w.c.tenant_id == tables.tenant_id,
            w.c.revoked_at.is_(None),
            t.c.created_at >= w.c.starts_at,
            t.c.created_at < w.c.ends_at,
            or_(w.c.client_id.is_(None), w.c.client_id == t.c.client_id),
            or_(w.c.board.is_(None), w.c.board == t.c.board),
        )
        keep.append(~in_window)
    return (
        select(
            person.label("person_id"),
            r.c.client_id,
            type_coerce(r.c.anchored_at, UTCDateTime()).label("anchored_at"),
            as_float(r.c.numerator).label("numerator"),
            as_float(r.c.denominator).label("denominator"),
            r.c.record_type,
            r.c.record_id,
            tables.local_day(r.c.anchored_at).label("day"),
        )
        .where(*keep)
        .subquery("rows")
    )


def expanded(rows: Subquery, grain: str, metric: Metric, tables: Tables) -> Select[Any]:
    """Step 2: each row with its ``subject`` (text) and ``weight`` for ``grain``."""
    one = literal(1.0, Float)
    columns = list(rows.c)
    if grain == "company":
        return select(*columns, literal("", String).label("subject"), one.label("weight"))
    if grain == "client":
        return select(*columns, cast(rows.c.client_id, String).label("subject"), one.label("weight")).where(
            rows.c.client_id.is_not(None)
        )
    f = tables.person_facts
    if metric.attribution == "client":
        cr = tables.client_responsibilities
        owners = and_(cr.c.tenant_id == tables.tenant_id, cr.c.client_id == rows.c.client_id,
                      _valid_on(cr, rows.c.day))
        if grain == "team":
            return select(*columns, cast(cr.c.team_id, String).label("subject"), cr.c.share.label("weight")).join_from(
                rows, cr, and_(owners, cr.c.team_id.is_not(None))
            )
        if grain == "person":
            return select(*columns, cast(cr.c.person_id, String).label("subject"),
                          cr.c.share.label("weight")).join_from(rows, cr, and_(owners, cr.c.person_id.is_not(None)))
        return (
            select(*columns, f.c.value_text.label("subject"), cr.c.share.label("weight"))
            .join_from(rows, cr, and_(owners, cr.c.person_id.is_not(None)))
            .join(f, and_(f.c.person_id == cr.c.person_id, f.c.kind == "role", _valid_on(f, rows.c.day)))
        )
    if grain == "person":
        return select(*columns, cast(rows.c.person_id, String).label("subject"), one.label("weight")).where(
            rows.c.person_id.is_not(None)
        )
    if grain == "team":
        m = tables.team_memberships
        return select(*columns, cast(m.c.team_id, String).label("subject"), m.c.share.label("weight")).join_from(
            rows, m, and_(m.c.person_id == rows.c.person_id, _valid_on(m, rows.c.day))
        )
    if grain == "role":
        return select(*columns, f.c.value_text.label("subject"), one.label("weight")).join_from(
            rows, f, and_(f.c.person_id == rows.c.person_id, f.c.kind == "role", _valid_on(f, rows.c.day))
        )
    raise ValueError(f"unknown grain {grain!r}")


def pooled(rows: Subquery, grain: str, metric: Metric, tables: Tables, period_kind: str) -> Select[Any]:
    """Step 3: ``(subject, period_start, numerator, denominator, records)`` per subject and
    period; a ``custom`` period is one group starting at ``:period_start``.

    A row's period start is looked up by its day (one unique-index probe per row) rather
    than joined: a join with ``metric_days`` lets the planner pair every row with every
    day before filtering when the grid's statistics are stale — right after the grid is
    (re)built, or on SQLite, which keeps none unless asked — turning a 0.2 s figure into
    20 s (``python -m bench metrics``)."""
    e = expanded(rows, grain, metric, tables).subquery("expanded")
    period_start: ColumnElement[Any]
    if period_kind == "custom":
        period_start = bindparam("period_start", type_=Date())
    elif period_kind == "day":
        period_start = e.c.day
    else:
        d = tables.table("days", "period_days")
        period_start = select(d.c[PERIOD_COLUMNS[period_kind]]).where(d.c.day == e.c.day).scalar_subquery()
    placed = select(e, period_start.label("period_start")).subquery("placed")
    return select(
        placed.c.subject,
        placed.c.period_start,
        func.sum(placed.c.numerator * placed.c.weight).label("numerator"),
        func.sum(placed.c.denominator * placed.c.weight).label("denominator"),
        func.count().label("records"),
    ).group_by(placed.c.subject, placed.c.period_start)


def settle(value: float | None) -> float:
    """A summed number as stored and compared: rounded to :data:`DECIMALS` (NULL sums are 0)."""
    return round(float(value or 0.0), DECIMALS) + 0.0


def ratio(numerator: float, denominator: float, factor: float) -> float | None:
    """``factor × numerator / denominator``, or None ("no data") for a zero denominator."""
    if not denominator:
        return None
    return round(factor * numerator / denominator, DECIMALS) + 0.0
