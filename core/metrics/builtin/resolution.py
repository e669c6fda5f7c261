"""Resolution quality: first-contact resolution, mean time to resolve, reopen rate.

All three count each in-scope ticket once, in the period of its first resolution
(:mod:`.tickets`), so a reopen never makes a ticket count twice and never moves it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import and_, case, exists, func, select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.tickets import credit, credit_field, first_resolutions, resolver
from podium.metrics.sql import epoch
from podium.metrics.tables import Tables

TICKET_FIELDS = frozenset({"created_at", "resolved_at", "closed_at", "resolved_by_external_id", "owner_external_id",
                           "client_external_id", "board", "merged", "parent_external_id"})
EVENT_FIELDS = frozenset({"kind", "at", "to_value"})
ENTRY_FIELDS = frozenset({"ticket_external_id", "identity_external_id", "rejected"})
DAY = 86400


def _resolved(tables: Tables) -> Any:
    """In-scope resolved tickets: id, client, created, first resolution, resolver."""
    t, fr = tables.tickets, first_resolutions(tables)
    return (
        select(t.c.id.label("ticket_id"), t.c.client_id, t.c.created_at, t.c.type, fr.c.resolved_at,
               resolver(tables, t).label("person_id"))
        .join_from(t, fr, fr.c.ticket_id == t.c.id)
        .subquery("resolved")
    )


def _reopened_within(tables: Tables, resolved: Any, days: int) -> Any:
    """A reopen of the ticket at most ``days`` after its first resolution."""
    ev = tables.ticket_events
    return exists().where(
        ev.c.ticket_id == resolved.c.ticket_id,
        ev.c.kind == "reopen",
        epoch(ev.c.at) <= epoch(resolved.c.resolved_at) + days * DAY,
    )


class WindowParams(Schema):
    reopen_window_days = fields.Integer(load_default=7, validate=validate.Range(min=0, max=365))


class FirstContactResolution(Metric):
    """Of the tickets a person resolved, the share fixed at the first touch."""

    key = "fcr_pct"
    label = "First-contact resolution"
    unit = "percent"
    better = "higher"
    requires = {"ticket": TICKET_FIELDS, "ticket_event": EVENT_FIELDS, "time_entry": ENTRY_FIELDS}
    anchor = "first resolution"
    params_schema = WindowParams

    def window(self) -> tuple[dt.timedelta, dt.timedelta]:
        return dt.timedelta(days=self.params["reopen_window_days"]), dt.timedelta(0)

    def select(self, tables: Tables) -> Any:
        b = _resolved(tables)
        te, ev = tables.time_entries, tables.ticket_events
        live = and_(te.c.ticket_id == b.c.ticket_id, te.c.rejected.is_(False))
        entries = select(func.count()).where(live).scalar_subquery()
        theirs = exists().where(live, tables.person_of(te.c.identity_id) == b.c.person_id)
        moved = exists().where(ev.c.ticket_id == b.c.ticket_id, ev.c.kind.in_(("reassignment", "escalation")))
        first_touch = and_(entries == 1, theirs, ~moved, ~_reopened_within(tables, b, self.params["reopen_window_days"]))
        return select(*row(
            person_id=b.c.person_id, client_id=b.c.client_id, anchored_at=b.c.resolved_at,
            numerator=case((first_touch, 1.0), else_=0.0), denominator=1.0, record_type="ticket",
            record_id=b.c.ticket_id,
        ))


class MttrParams(Schema):
    ticket_types = fields.List(fields.String(), load_default=list,
                               metadata={"description": "Only these ticket types (e.g. incidents); empty: all."})
    credit = credit_field()


class MeanTimeToResolve(Metric):
    """Mean business hours from creation to first resolution."""

    key = "mttr_business_hours"
    label = "Mean time to resolve (business hours)"
    unit = "hours"
    better = "lower"
    scale = 1 / 3600
    requires = {"ticket": TICKET_FIELDS | {"type"}, "ticket_event": EVENT_FIELDS, "time_entry": ENTRY_FIELDS}
    anchor = "first resolution"
    params_schema = MttrParams
    exclusion_windows = True

    def select(self, tables: Tables) -> Any:
        b, c = _resolved(tables), credit(tables, self.params["credit"])
        seconds = tables.business_seconds(b.c.created_at, b.c.resolved_at)
        statement = select(*row(
            person_id=c.c.person_id, client_id=b.c.client_id, anchored_at=b.c.resolved_at,
            numerator=seconds * c.c.weight, denominator=c.c.weight, record_type="ticket", record_id=b.c.ticket_id,
        )).join_from(b, c, c.c.ticket_id == b.c.ticket_id)
        if self.params["ticket_types"]:
            statement = statement.where(b.c.type.in_(self.params["ticket_types"]))
        return statement


class ReopenParams(Schema):
    reopen_window_days = fields.Integer(load_default=14, validate=validate.Range(min=0, max=365))


class ReopenRate(Metric):
    """Of the tickets a person resolved, the share reopened within N days — charged to the resolver."""

    key = "reopen_rate_pct"
    label = "Reopen rate"
    unit = "percent"
    better = "lower"
    requires = {"ticket": TICKET_FIELDS, "ticket_event": EVENT_FIELDS}
    anchor = "first resolution"
    params_schema = ReopenParams

    def window(self) -> tuple[dt.timedelta, dt.timedelta]:
        return dt.timedelta(days=self.params["reopen_window_days"]), dt.timedelta(0)

    def select(self, tables: Tables) -> Any:
        b = _resolved(tables)
        reopened = _reopened_within(tables, b, self.params["reopen_window_days"])
        return select(*row(
            person_id=b.c.person_id, client_id=b.c.client_id, anchored_at=b.c.resolved_at,
            numerator=case((reopened, 1.0), else_=0.0), denominator=1.0, record_type="ticket",
            record_id=b.c.ticket_id,
        ))
