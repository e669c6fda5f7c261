"""After-hours work: hours of time entries that fall outside business time.

Business time is the tenant's business calendar from :mod:`podium.org.calendars`
(weekly hours in the tenant's time zone, minus its holidays), read through the metric
time grid, so weekends, holidays and DST changes are handled the same on SQLite and
PostgreSQL. An entry spans ``start_at`` to ``end_at``; the share of that span outside
business time is the share of its logged hours that is after hours — a 10-hour span with
2 hours inside business time and 5 hours logged (breaks taken out) is 5 × 8/10 = 4 hours
after hours. An entry without an end time (hours only) or ending when it starts has no
time of day to judge and counts nothing.

Each row's denominator is 1, so the reported value is the mean after-hours time of the
entries that had any, and the denominator counts them; payout rules read the total.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.time import entries
from podium.metrics.sql import as_float, epoch
from podium.metrics.tables import Tables


class AfterHoursParams(Schema):
    work_types = fields.List(
        fields.String(), load_default=list,
        metadata={"description": "Only entries of these vendor work types (e.g. an on-call work type); "
                                 "empty: every work type."},
    )


class AfterHoursHours(Metric):
    """Σ logged hours × the share of the entry's span outside the business calendar."""

    key = "after_hours_hours"
    label = "After-hours hours"
    unit = "hours"
    better = "higher"
    requires = {"time_entry": frozenset({"identity_external_id", "start_at", "end_at", "hours", "work_type",
                                         "rejected", "ticket_external_id", "project_external_id"})}
    anchor = "time_entries.start_at"
    params_schema = AfterHoursParams

    def select(self, tables: Tables) -> Any:
        e = entries(tables)
        span = epoch(e.c.end_at) - epoch(e.c.start_at)
        outside = span - tables.business_seconds(e.c.start_at, e.c.end_at)
        statement = (
            select(*row(person_id=e.c.person_id, client_id=e.c.entry_client_id, anchored_at=e.c.start_at,
                        numerator=e.c.hours * as_float(outside) / as_float(span), denominator=1.0,
                        record_type="time_entry", record_id=e.c.id))
            .where(e.c.end_at.is_not(None), span > 0, outside > 0)
        )
        if self.params["work_types"]:
            statement = statement.where(e.c.work_type.in_(list(self.params["work_types"])))
        return statement
