"""Metrics the payout rules need that the metric catalogue does not have yet, as real
third-party metric plugins (one file each, written to a plugins directory). The catalogue
now has ``hours_worked``, ``recurring_revenue``, ``reopened_tickets`` and
``collected_revenue`` (``podium.metrics.builtin``), so only the others stand in here.

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
    "metric_after_hours": AFTER_HOURS,
    "metric_rca_documented": RCA_DOCUMENTED,
}
