"""Ticket volume: tickets closed per day worked, and weighted ticket volume.

Raw counts reward easy tickets and long attendance; these two correct for each. Both
count every in-scope ticket once, in the period of its first resolution
(:mod:`.tickets`), for whoever the ``credit`` parameter names (a ticket shared by n
people counts 1/n for each).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import ColumnElement, Float, case, cast, func, literal, select, union_all

from podium.metrics.base import Metric, row
from podium.metrics.builtin.resolution import ENTRY_FIELDS, EVENT_FIELDS, TICKET_FIELDS
from podium.metrics.builtin.tickets import credit_field, resolution_rows
from podium.metrics.builtin.time import working_days
from podium.metrics.tables import Tables

class PerDayParams(Schema):
    credit = credit_field()
    default_capacity_hours_week = fields.Float(
        load_default=40.0, validate=validate.Range(min=0, max=168),
        metadata={"description": "Weekly capacity of people without a capacity fact (to weigh partial PTO)."},
    )


class TicketsClosedPerDayWorked(Metric):
    """Tickets resolved ÷ days worked (business days employed, less PTO)."""

    key = "tickets_closed_per_day_worked"
    label = "Tickets closed per day worked"
    unit = "ratio"
    better = "higher"
    requires = {"ticket": TICKET_FIELDS, "ticket_event": EVENT_FIELDS, "time_entry": ENTRY_FIELDS}
    anchor = "first resolution; each business day for days worked"
    params_schema = PerDayParams

    def _days_worked(self, tables: Tables) -> Any:
        w = working_days(tables, self.params["default_capacity_hours_week"], ("pto",))
        # A day of PTO is no day worked; half a day of PTO leaves half a day.
        worked = case((w.c.capacity_hours <= 0, literal(0.0, Float)),
                      (w.c.away_hours >= w.c.capacity_hours, literal(0.0, Float)),
                      else_=1.0 - w.c.away_hours / w.c.capacity_hours)
        return select(*row(person_id=w.c.person_id, client_id=None, anchored_at=w.c.starts_at, numerator=0.0,
                           denominator=worked, record_type="work_day", record_id=w.c.ordinal))

    def select(self, tables: Tables) -> Any:
        return union_all(resolution_rows(tables, self.params["credit"], counted=False), self._days_worked(tables))


def _weights(value: dict[Any, float]) -> None:
    """Weights are never negative (a ticket cannot take volume away)."""
    if any(weight < 0 for weight in value.values()):
        raise ValidationError("weights must be at least 0")


class WeightParams(Schema):
    priority_weights = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)), values=fields.Float(), load_default=dict,
        validate=_weights,
        metadata={"description": "Vendor priority name (exactly as the PSA shows it) -> weight; wins over "
                                 "impact_weights."},
    )
    impact_weights = fields.Dict(
        keys=fields.Integer(strict=False, validate=validate.Range(min=1)), values=fields.Float(),
        load_default=lambda: {3: 1.5, 4: 2.0}, validate=_weights,
        metadata={"description": "Minimum impact (the priority's rank, the most urgent of N being N) -> "
                                 "weight; the highest threshold a ticket reaches applies, else 1."},
    )
    type_weights = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)), values=fields.Float(), load_default=dict,
        validate=_weights,
        metadata={"description": "Ticket type -> weight (multiplies the priority weight); others 1."},
    )
    use_ticket_weight = fields.Boolean(
        load_default=True,
        metadata={"description": "Multiply by the vendor's own work weight of the ticket where it has one."},
    )
    credit = credit_field()


class WeightedTicketVolume(Metric):
    """Tickets resolved, each counted by its complexity weight (priority × type)."""

    key = "weighted_ticket_volume"
    label = "Weighted ticket volume"
    unit = "count"
    better = "higher"
    requires = {"ticket": TICKET_FIELDS | {"priority", "impact", "type", "weight"}, "ticket_event": EVENT_FIELDS,
                "time_entry": ENTRY_FIELDS}
    anchor = "first resolution"
    params_schema = WeightParams

    def _weight(self, ticket: Any) -> ColumnElement[float]:
        one = literal(1.0, Float)
        by_impact: ColumnElement[Any] = one
        thresholds = sorted(self.params["impact_weights"].items(), reverse=True)
        if thresholds:
            by_impact = case(*((ticket.c.impact >= level, literal(w, Float)) for level, w in thresholds), else_=one)
        by_priority: ColumnElement[Any] = by_impact
        if self.params["priority_weights"]:
            by_priority = case(*((ticket.c.priority == name, literal(w, Float))
                                 for name, w in sorted(self.params["priority_weights"].items())), else_=by_impact)
        by_type: ColumnElement[Any] = one
        if self.params["type_weights"]:
            by_type = case(*((ticket.c.type == name, literal(w, Float))
                             for name, w in sorted(self.params["type_weights"].items())), else_=one)
        weight = by_priority * by_type
        if self.params["use_ticket_weight"]:
            weight = weight * func.coalesce(cast(ticket.c.weight, Float), one)
        return weight

    def select(self, tables: Tables) -> Any:
        return resolution_rows(tables, self.params["credit"], lambda t, _fr: self._weight(t))
