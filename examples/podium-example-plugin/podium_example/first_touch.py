"""``first_touch_pct``: how often a technician's tickets are touched quickly.

Contractual SLAs give a response window of hours; a service desk that wants clients to
feel heard sets itself a tighter internal target ("first touch within 15 minutes") and
pays on it. Of the tickets **created** in the period (the anchor, so a ticket counts once
and in the period the client asked), the share whose first response came within
``target_minutes`` of creation.

* **Whose ticket** — the ticket's owner (the person dispatch assigned it to, through
  the identity resolver); unowned tickets count for their client and the company only.
* **Elapsed time** — wall-clock by default; with ``business_hours`` the tenant's business
  calendar (``tables.business_seconds``), so a ticket logged on Friday night and touched
  Monday at 09:05 took 5 minutes.
* **Still untouched** — missed once its target has passed (like an SLA breach while
  open); before that it does not count yet, so the figure never drops for a ticket
  that may still be touched in time.
* **Which tickets** — the tenant's in-scope tickets (scope filters already applied by
  ``tables.tickets``), never project tickets, and only the listed ``priorities`` when
  given (the vendor's priority names, as synced).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from podium.metrics import Metric, row
from podium.metrics.sql import epoch
from podium.metrics.tables import Tables
from sqlalchemy import ColumnElement, and_, case, or_, select


class FirstTouchParams(Schema):
    target_minutes = fields.Integer(
        load_default=30, validate=validate.Range(min=1, max=7 * 24 * 60),
        metadata={"description": "A ticket is touched in time when its first response comes within this many "
                                 "minutes of its creation."})
    business_hours = fields.Boolean(
        load_default=False,
        metadata={"description": "Measure elapsed time in the tenant's business hours instead of wall-clock."})
    priorities = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), load_default=list,
        metadata={"description": "Only tickets of these priorities (vendor names); empty: every priority."})


class FirstTouch(Metric):
    """Share of a person's new tickets that got a first response within the target time."""

    key = "first_touch_pct"
    label = "First touch within target"
    unit = "percent"
    better = "higher"
    revision = 1
    requires = {"ticket": frozenset({"created_at", "first_response_at", "owner_external_id", "priority",
                                     "is_project", "client_external_id", "board"})}
    anchor = "tickets.created_at"
    params_schema = FirstTouchParams

    def elapsed(self, tables: Tables, start: ColumnElement[Any], end: ColumnElement[Any]) -> ColumnElement[int]:
        """Seconds from ``start`` to ``end`` by this definition's clock."""
        if self.params["business_hours"]:
            return tables.business_seconds(start, end)
        return epoch(end) - epoch(start)

    def select(self, tables: Tables) -> Any:
        t = tables.tickets
        target = self.params["target_minutes"] * 60
        touched = t.c.first_response_at.is_not(None)
        in_time = and_(touched, self.elapsed(tables, t.c.created_at, t.c.first_response_at) <= target)
        overdue = and_(~touched, self.elapsed(tables, t.c.created_at, tables.now) > target)
        conditions = [t.c.is_project.is_(False), or_(touched, overdue)]
        if self.params["priorities"]:
            conditions.append(t.c.priority.in_(self.params["priorities"]))
        return select(*row(
            person_id=tables.person_of(t.c.owner_identity_id), client_id=t.c.client_id,
            anchored_at=t.c.created_at, numerator=case((in_time, 1.0), else_=0.0), denominator=1.0,
            record_type="ticket", record_id=t.c.id,
        )).where(*conditions)
