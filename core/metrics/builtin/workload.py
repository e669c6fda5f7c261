"""Workload as counts and sums: hours worked and tickets reopened.

Sums, not rates: what payout rules read is the total (Σnumerator). The engine still
reports Σnumerator ÷ Σdenominator, so each row's denominator is 1 — the value is then
the mean per record (hours per time entry; always 1 for reopens) and the denominator
counts the records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.resolution import DAY, EVENT_FIELDS, TICKET_FIELDS
from podium.metrics.builtin.tickets import first_resolutions, resolver
from podium.metrics.builtin.time import entries
from podium.metrics.sql import epoch
from podium.metrics.tables import Tables


class HoursWorked(Metric):
    """Hours a person logged: every live (not rejected) time entry, at its start, for the
    entry's person (through the identity resolver) and client (the ticket's, else the project's)."""

    key = "hours_worked"
    label = "Hours worked"
    unit = "hours"
    better = "higher"
    requires = {"time_entry": frozenset({"identity_external_id", "start_at", "hours", "rejected",
                                         "ticket_external_id", "project_external_id"})}
    anchor = "time_entries.start_at"

    def select(self, tables: Tables) -> Any:
        e = entries(tables)
        return select(*row(person_id=e.c.person_id, client_id=e.c.entry_client_id, anchored_at=e.c.start_at,
                           numerator=e.c.hours, denominator=1.0, record_type="time_entry", record_id=e.c.id))


class ReopenedParams(Schema):
    within_days = fields.Integer(load_default=14, validate=validate.Range(min=0, max=365),
                                 metadata={"description": "Count a reopen at most this many days after the "
                                                          "ticket's first resolution."})


class ReopenedTickets(Metric):
    """Reopens of in-scope tickets at most ``within_days`` after their first resolution,
    each counted in the period it happens (so a paid period is never rewritten) and
    charged to the ticket's resolver (else its owner)."""

    key = "reopened_tickets"
    label = "Reopened tickets"
    unit = "count"
    better = "lower"
    requires = {"ticket": TICKET_FIELDS, "ticket_event": EVENT_FIELDS}
    anchor = "ticket_events.at (kind reopen)"
    params_schema = ReopenedParams

    def window(self) -> tuple[dt.timedelta, dt.timedelta]:
        # A changed resolution moves reopens up to within_days after it.
        return dt.timedelta(0), dt.timedelta(days=self.params["within_days"])

    def select(self, tables: Tables) -> Any:
        t, ev, fr = tables.tickets, tables.ticket_events, first_resolutions(tables)
        return (
            select(*row(person_id=resolver(tables, t), client_id=t.c.client_id, anchored_at=ev.c.at,
                        numerator=1.0, denominator=1.0, record_type="ticket_event", record_id=ev.c.id))
            .select_from(ev.join(t, t.c.id == ev.c.ticket_id).join(fr, fr.c.ticket_id == t.c.id))
            .where(ev.c.kind == "reopen", ev.c.at >= fr.c.resolved_at,
                   epoch(ev.c.at) <= epoch(fr.c.resolved_at) + self.params["within_days"] * DAY)
        )
