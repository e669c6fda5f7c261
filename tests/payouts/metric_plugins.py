"""Metrics the payout rules need that the metric catalogue does not have yet, as real
third-party metric plugins (one file each, written to a plugins directory).

A metric with the same key in the built-in catalogue wins: its plugin file then fails to
register (duplicate key) and is isolated, and the tests read the built-in one.

``builtin_metrics`` and ``builtin_payout_rules`` load Podium's built-in metric and rule
plugin modules for these tests' runtimes while their entry points are not installed yet
(setup.cfg: ``podium_metrics = podium.metrics.builtin.plugin``, ``payout_rules =
podium.payouts.builtin``). Entry points load before the plugins directory, so once they
are installed these files fail to register (duplicate keys), are isolated, and the entry
points' plugins are what the tests use.
"""

from __future__ import annotations

HEADER = '''
from marshmallow import Schema, fields
from sqlalchemy import select
from podium import hookimpl
from podium.metrics.base import Metric, row
'''

HOURS_WORKED = HEADER + '''
from podium.metrics.builtin.time import entries

class HoursWorked(Metric):
    """Hours a person logged (every live time entry), anchored at its start."""
    key = "hours_worked"
    label = "Hours worked"
    unit = "hours"
    requires = {"time_entry": frozenset({"identity_external_id", "start_at", "hours"})}
    anchor = "time_entries.start_at"

    def select(self, tables):
        e = entries(tables)
        return select(*row(person_id=e.c.person_id, client_id=e.c.entry_client_id, anchored_at=e.c.start_at,
                           numerator=e.c.hours, denominator=1.0, record_type="time_entry", record_id=e.c.id))

@hookimpl
def podium_register_metrics(registry):
    registry.add(HoursWorked)
'''

RECURRING_REVENUE = HEADER + '''
class Params(Schema):
    category = fields.String(load_default=None)

class RecurringRevenue(Metric):
    """Monthly price of agreements of a category, in minor units, credited to the clients'
    responsible people and teams."""
    key = "recurring_revenue"
    label = "Recurring revenue"
    unit = "money"
    attribution = "client"
    params_schema = Params
    requires = {"agreement": frozenset({"client_external_id", "monthly_price_minor", "effective_from"})}
    anchor = "agreements.effective_from"

    def select(self, tables):
        a, d = tables.agreements, tables.days
        statement = (select(*row(person_id=None, client_id=a.c.client_id, anchored_at=d.c.starts_at,
                                 numerator=a.c.monthly_price_minor, denominator=1.0, record_type="agreement",
                                 record_id=a.c.id))
                     .join_from(a, d, d.c.day == a.c.effective_from))
        if self.params["category"]:
            statement = statement.where(a.c.category == self.params["category"])
        return statement

@hookimpl
def podium_register_metrics(registry):
    registry.add(RecurringRevenue)
'''

REOPENED_TICKETS = HEADER + '''
class Params(Schema):
    within_days = fields.Integer(load_default=14)

class ReopenedTickets(Metric):
    """Reopens of tickets, credited to the resolver and anchored at the reopen."""
    key = "reopened_tickets"
    label = "Reopened tickets"
    unit = "count"
    params_schema = Params
    requires = {"ticket_event": frozenset({"kind", "at"}), "ticket": frozenset({"resolved_at"})}
    anchor = "ticket_events.at (kind reopen)"

    def select(self, tables):
        e, t = tables.ticket_events, tables.tickets
        return (select(*row(person_id=tables.person_of(t.c.resolved_by_identity_id), client_id=t.c.client_id,
                            anchored_at=e.c.at, numerator=1.0, denominator=1.0, record_type="ticket",
                            record_id=t.c.id))
                .join_from(e, t, t.c.id == e.c.ticket_id).where(e.c.kind == "reopen"))

@hookimpl
def podium_register_metrics(registry):
    registry.add(ReopenedTickets)
'''

COLLECTED_REVENUE = HEADER + '''
class CollectedRevenue(Metric):
    """Payments received, in minor units, anchored at the payment, by the invoice's client."""
    key = "collected_revenue"
    label = "Collected revenue"
    unit = "money"
    attribution = "client"
    requires = {"payment": frozenset({"paid_at", "amount_minor"})}
    anchor = "payments.paid_at"

    def select(self, tables):
        p, i = tables.payments, tables.invoices
        return (select(*row(person_id=None, client_id=i.c.client_id, anchored_at=p.c.paid_at,
                            numerator=p.c.amount_minor, denominator=1.0, record_type="payment", record_id=p.c.id))
                .join_from(p, i, i.c.id == p.c.invoice_id))

@hookimpl
def podium_register_metrics(registry):
    registry.add(CollectedRevenue)
'''

AFTER_HOURS = HEADER + '''
from podium.metrics.builtin.time import entries

class AfterHoursHours(Metric):
    """Hours logged on entries that start outside business time (a simple stand-in)."""
    key = "after_hours_hours"
    label = "After-hours hours"
    unit = "hours"
    requires = {"time_entry": frozenset({"identity_external_id", "start_at", "hours"})}
    anchor = "time_entries.start_at"

    def select(self, tables):
        e = entries(tables)
        return select(*row(person_id=e.c.person_id, client_id=e.c.entry_client_id, anchored_at=e.c.start_at,
                           numerator=e.c.hours, denominator=1.0, record_type="time_entry", record_id=e.c.id))

@hookimpl
def podium_register_metrics(registry):
    registry.add(AfterHoursHours)
'''

RCA_DOCUMENTED = HEADER + '''
from sqlalchemy import case

class RcaDocumented(Metric):
    """Of the recurring-incident tickets (type "Problem") a person resolved, the share closed
    with a documented root cause (a stand-in until tickets carry an RCA field)."""
    key = "rca_documented_pct"
    label = "RCA documented"
    unit = "percent"
    requires = {"ticket": frozenset({"type", "closed", "resolved_at"})}
    anchor = "tickets.resolved_at"

    def select(self, tables):
        t = tables.tickets
        return (select(*row(person_id=tables.person_of(t.c.resolved_by_identity_id), client_id=t.c.client_id,
                            anchored_at=t.c.resolved_at, numerator=case((t.c.closed.is_(True), 1.0), else_=0.0),
                            denominator=1.0, record_type="ticket", record_id=t.c.id))
                .where(t.c.type == "Problem", t.c.resolved_at.is_not(None)))

@hookimpl
def podium_register_metrics(registry):
    registry.add(RcaDocumented)
'''

BUILTIN_METRICS = "from podium.metrics.builtin.plugin import podium_register_metrics  # noqa: F401\n"

BUILTIN_PAYOUT_RULES = "from podium.payouts.builtin import podium_register_payout_rules  # noqa: F401\n"

PLUGINS = {
    "builtin_metrics": BUILTIN_METRICS,
    "builtin_payout_rules": BUILTIN_PAYOUT_RULES,
    "metric_hours_worked": HOURS_WORKED,
    "metric_recurring_revenue": RECURRING_REVENUE,
    "metric_reopened_tickets": REOPENED_TICKETS,
    "metric_collected_revenue": COLLECTED_REVENUE,
    "metric_after_hours": AFTER_HOURS,
    "metric_rca_documented": RCA_DOCUMENTED,
}
