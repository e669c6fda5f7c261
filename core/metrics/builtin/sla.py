"""SLA compliance: the share of tickets subject to an SLA stage that met it.

Due times come from the vendor where it gives them (the ticket's ``sla_*_due_at``), else
from Podium's SLA clock (``ticket_sla_clocks``, :mod:`podium.metrics.sla_clock`: the
tenant's SLA targets on the SLA's business calendar, paused in waiting statuses); met
flags are the vendor's (``sla_*_met``) when it gives them.

* A ticket is **subject** to a stage when it has a due time or a met flag for it.
* **Met** — the flag when the source gives one; otherwise the stage's time (first
  response / first resolution) is at or before the due time.
* A **breach counts when it happens** (industry practice, market research §3): a ticket
  not yet responded to whose due time has passed is a breach in the period of the due
  time, even while it is still open; a met ticket counts in the period it was met. A
  ticket whose due time is still ahead and which is not done yet does not count yet.
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema
from sqlalchemy import and_, case, func, or_, select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.resolution import ENTRY_FIELDS, EVENT_FIELDS, TICKET_FIELDS
from podium.metrics.builtin.tickets import credit, credit_field, first_resolutions
from podium.metrics.tables import Tables


class SlaParams(Schema):
    credit = credit_field()


class SlaMet(Metric):
    """Base of the SLA stage metrics; a subclass names its ``stage``."""

    stage: ClassVar[str]
    unit = "percent"
    better = "higher"
    params_schema = SlaParams
    exclusion_windows = True
    revision = 2
    """2: due times computed by Podium (``ticket_sla_clocks``) where the vendor gives none."""

    def select(self, tables: Tables) -> Any:
        t, c, clock = tables.tickets, credit(tables, self.params["credit"]), tables.ticket_sla_clocks
        statement = (select().select_from(t).join(c, c.c.ticket_id == t.c.id)
                     .outerjoin(clock, clock.c.ticket_id == t.c.id))
        if self.stage == "response":
            due = func.coalesce(t.c.sla_response_due_at, clock.c.response_due_at)
            flag, done = t.c.sla_response_met, t.c.first_response_at
        else:
            fr = first_resolutions(tables)
            statement = statement.outerjoin(fr, fr.c.ticket_id == t.c.id)
            due = func.coalesce(t.c.sla_resolution_due_at, clock.c.resolution_due_at)
            flag, done = t.c.sla_resolution_met, fr.c.resolved_at
        now = tables.now
        met = case((flag.is_(True), 1.0), (flag.is_(False), 0.0),
                   (and_(done.is_not(None), due.is_not(None), done <= due), 1.0), else_=0.0)
        met_flag = or_(flag.is_(True), and_(flag.is_(None), done.is_not(None), due.is_not(None), done <= due))
        anchored = case((met_flag, func.coalesce(done, due)), else_=func.coalesce(due, done))
        counted = or_(flag.is_not(None), and_(due.is_not(None), or_(done.is_not(None), due <= now)))
        return statement.add_columns(*row(
            person_id=c.c.person_id, client_id=t.c.client_id, anchored_at=anchored,
            numerator=met * c.c.weight, denominator=c.c.weight, record_type="ticket", record_id=t.c.id,
        )).where(counted, anchored.is_not(None))


class SlaResponseMet(SlaMet):
    """Tickets whose first response met the SLA's response due time."""

    key = "sla_response_met_pct"
    label = "SLA response met"
    stage = "response"
    requires = {"ticket": TICKET_FIELDS | {"first_response_at", "sla_response_due_at", "sla_response_met"},
                "ticket_event": EVENT_FIELDS, "time_entry": ENTRY_FIELDS}
    anchor = "first response when met, due time when breached"


class SlaResolutionMet(SlaMet):
    """Tickets first resolved by the SLA's resolution due time."""

    key = "sla_resolution_met_pct"
    label = "SLA resolution met"
    stage = "resolution"
    requires = {"ticket": TICKET_FIELDS | {"sla_resolution_due_at", "sla_resolution_met"},
                "ticket_event": EVENT_FIELDS, "time_entry": ENTRY_FIELDS}
    anchor = "first resolution when met, due time when breached"
