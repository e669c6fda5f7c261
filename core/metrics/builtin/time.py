"""Time: productive and billable utilisation, time-entry timeliness and lag.

All read time entries through the identity resolver, so time of unlinked identities and
of API accounts is never anyone's. Rejected entries never count.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, Float, Subquery, case, func, literal, or_, select, true, union_all

from podium.metrics.base import Metric, row
from podium.metrics.sql import epoch, greatest
from podium.metrics.tables import Tables
from podium.models.org import AVAILABILITY_KINDS

WORK_TYPES = ("billable", "productive", "internal", "pto")
ENTRY_FIELDS = frozenset({"identity_external_id", "start_at", "end_at", "hours", "work_type", "rejected",
                          "ticket_external_id", "project_external_id"})


def entries(tables: Tables) -> Any:
    """Live time entries with their person and client (the ticket's, else the project's)."""
    te = tables.time_entries
    tk, pj = tables.table("tickets", "entry_tickets"), tables.table("projects", "entry_projects")
    return (
        select(te, tables.person_of(te.c.identity_id).label("person_id"),
               func.coalesce(tk.c.client_id, pj.c.client_id).label("entry_client_id"))
        .select_from(te.outerjoin(tk, tk.c.id == te.c.ticket_id).outerjoin(pj, pj.c.id == te.c.project_id))
        .where(te.c.rejected.is_(False))
        .subquery("entries")
    )

def working_days(tables: Tables, default_capacity_hours_week: float, away_kinds: tuple[str, ...]) -> Subquery:
    """Every business day of the tenant calendar on which each person was employed:
    ``(person_id, day, starts_at, ordinal, capacity_hours, away_hours)``.

    ``capacity_hours`` is the person's weekly capacity that day (their
    ``capacity_hours_week`` fact, else ``default_capacity_hours_week``) times the day's
    share of the business week, so a holiday or a weekend is no working day at all;
    ``away_hours`` sums their availability records of ``away_kinds`` that day (PTO,
    internal duty). Capacity and days worked both start from here, so they agree on
    what a working day is.
    """
    p, d, f, av = tables.people, tables.days, tables.person_facts, tables.availability
    capacity = (
        select(f.c.value_num)
        .where(f.c.person_id == p.c.id, f.c.kind == "capacity_hours_week", f.c.valid_from <= d.c.day,
               or_(f.c.valid_to.is_(None), f.c.valid_to > d.c.day))
        .limit(1)
        .scalar_subquery()
    )
    away = select(func.coalesce(func.sum(av.c.hours), 0.0)).where(
        av.c.person_id == p.c.id, av.c.day == d.c.day, av.c.kind.in_(away_kinds)
    ).scalar_subquery()
    return (
        select(p.c.id.label("person_id"), d.c.day, d.c.starts_at, d.c.ordinal,
               (func.coalesce(capacity, default_capacity_hours_week) * d.c.capacity_fraction).label("capacity_hours"),
               away.label("away_hours"))
        .select_from(p.join(d, true()))
        .where(d.c.capacity_fraction > 0,
               or_(p.c.employed_from.is_(None), p.c.employed_from <= d.c.day),
               or_(p.c.employed_to.is_(None), p.c.employed_to >= d.c.day))
        .subquery("working_days")
    )


class CapacityParams(Schema):
    """What every utilisation shares: which hours count and the capacity they are measured against."""

    hours_basis = fields.String(load_default="actual", validate=validate.OneOf(("actual", "billed")),
                                metadata={"description": "actual: hours logged; billed: billed_hours where "
                                                         "given, else the hours logged."})
    default_capacity_hours_week = fields.Float(load_default=40.0, validate=validate.Range(min=0, max=168))


class UtilizationParams(CapacityParams):
    productive_work_types = fields.List(
        fields.String(validate=validate.OneOf(WORK_TYPES)), load_default=lambda: ["billable", "productive"],
        metadata={"description": "Work-type mapping values that count as productive."},
    )


class Utilization(Metric):
    """Counted hours / available hours (capacity − PTO − holidays − internal duty).

    Subclasses say which entries count (:meth:`counts`); the hours basis, the capacity
    rows and the anchors are shared, so productive and billable utilisation always have
    the same denominator and can be compared line by line.
    """

    unit = "percent"
    better = "higher"
    anchor = "time_entries.start_at; each business day for capacity"

    def counts(self, tables: Tables, entry: Any) -> ColumnElement[bool]:
        """True for the entries whose hours are the numerator."""
        raise NotImplementedError

    def _worked(self, tables: Tables) -> Any:
        e = entries(tables)
        hours: ColumnElement[Any] = e.c.hours
        if self.params["hours_basis"] == "billed":
            hours = func.coalesce(e.c.billed_hours, e.c.hours)
        return select(*row(person_id=e.c.person_id, client_id=e.c.entry_client_id, anchored_at=e.c.start_at,
                           numerator=case((self.counts(tables, e), hours), else_=0.0), denominator=0.0,
                           record_type="time_entry", record_id=e.c.id))

    def _available(self, tables: Tables) -> Any:
        w = working_days(tables, self.params["default_capacity_hours_week"], AVAILABILITY_KINDS)
        hours = w.c.capacity_hours - w.c.away_hours
        return select(*row(person_id=w.c.person_id, client_id=None, anchored_at=w.c.starts_at, numerator=0.0,
                           denominator=case((hours > 0, hours), else_=literal(0.0, Float)),
                           record_type="capacity_day", record_id=w.c.ordinal))

    def select(self, tables: Tables) -> Any:
        return union_all(self._worked(tables), self._available(tables))


class ProductiveUtilization(Utilization):
    """Productive hours / available hours, productive per the work-type mapping."""

    key = "productive_utilization_pct"
    label = "Productive utilisation"
    requires = {"time_entry": ENTRY_FIELDS | {"billed_hours"}}
    params_schema = UtilizationParams

    def counts(self, tables: Tables, entry: Any) -> ColumnElement[bool]:
        return tables.mapped("work_type", entry.c.work_type, entry.c.connection_id,
                             list(self.params["productive_work_types"]))


class BillableParams(CapacityParams):
    billable_by = fields.String(
        load_default="entry", validate=validate.OneOf(("entry", "work_type")),
        metadata={"description": "entry: the time entry's own billable flag (the vendor's decision for that "
                                 "entry); work_type: a confirmed work_type mapping to 'billable'."},
    )


class BillableUtilization(Utilization):
    """Billable hours / available hours. By default an entry is billable when the vendor
    says so for that entry (ConnectWise ``billableOption = Billable``): the work type only
    suggests a default that technicians and dispatchers override per entry."""

    key = "billable_utilization_pct"
    label = "Billable utilisation"
    requires = {"time_entry": ENTRY_FIELDS | {"billable", "billed_hours"}}
    params_schema = BillableParams

    def counts(self, tables: Tables, entry: Any) -> ColumnElement[bool]:
        if self.params["billable_by"] == "work_type":
            return tables.mapped("work_type", entry.c.work_type, entry.c.connection_id, ["billable"])
        return entry.c.billable.is_(True)


def entry_lag(e: Any) -> tuple[ColumnElement[Any], ColumnElement[int]]:
    """``(ended_at, lag)`` of the entries ``e``: when the work ended (``end_at``, else
    ``start_at`` + hours) and the whole seconds from then until it was logged, clamped at
    0 — an entry logged before its end (a planned entry, a timer started ahead) is not
    late, and must not offset the lateness of others in a mean."""
    ended = func.coalesce(epoch(e.c.end_at), epoch(e.c.start_at) + e.c.hours * 3600)
    return func.coalesce(e.c.end_at, e.c.start_at), greatest(epoch(e.c.entered_at) - ended, literal(0))


LAG_ANCHOR = "time_entries.end_at (start_at when it has no end)"


class TimelinessParams(Schema):
    within_minutes = fields.Integer(load_default=60, validate=validate.Range(min=0, max=7 * 24 * 60))


class TimeEntryTimeliness(Metric):
    """The share of time entries logged within N minutes of their end."""

    key = "time_entry_timeliness_pct"
    label = "Time entries logged on time"
    unit = "percent"
    better = "higher"
    requires = {"time_entry": ENTRY_FIELDS | {"entered_at"}}
    anchor = LAG_ANCHOR
    params_schema = TimelinessParams

    def select(self, tables: Tables) -> Any:
        e = entries(tables)
        ended_at, lag = entry_lag(e)
        on_time = lag <= self.params["within_minutes"] * 60
        return select(*row(person_id=e.c.person_id, client_id=e.c.entry_client_id, anchored_at=ended_at,
                           numerator=case((on_time, 1.0), else_=0.0), denominator=1.0,
                           record_type="time_entry", record_id=e.c.id)).where(e.c.entered_at.is_not(None))


class TimeEntryLag(Metric):
    """Mean hours from an entry's end to when it was logged (negative lags count as 0)."""

    key = "time_entry_lag_hours"
    label = "Time-entry lag"
    unit = "hours"
    better = "lower"
    requires = {"time_entry": ENTRY_FIELDS | {"entered_at"}}
    anchor = LAG_ANCHOR
    scale = 1 / 3600
    """Rows carry seconds (exact integers on both backends); the figure is in hours."""

    def select(self, tables: Tables) -> Any:
        e = entries(tables)
        ended_at, lag = entry_lag(e)
        return select(*row(person_id=e.c.person_id, client_id=e.c.entry_client_id, anchored_at=ended_at,
                           numerator=lag, denominator=1.0, record_type="time_entry",
                           record_id=e.c.id)).where(e.c.entered_at.is_not(None))
