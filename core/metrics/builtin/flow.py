"""Ticket flow: escalations, reassignments, repeat tickets, same-day closes.

Each counts every in-scope ticket once, in the period of its first resolution
(:mod:`.tickets`), like FCR and the reopen rate. Escalations and reassignments are the
canonical ticket events of those kinds (:mod:`podium.ticket_history` decides, the same
for every vendor, what a move to a higher tier or a hand-over between two people is);
only those up to the first resolution count — what it took to resolve the ticket — so
a later change never rewrites a closed period beyond what the ticket's own days cover.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.resolution import DAY, ENTRY_FIELDS, EVENT_FIELDS, TICKET_FIELDS
from podium.metrics.builtin.tickets import credit_field, first_resolutions, resolution_rows, resolver
from podium.metrics.sql import epoch
from podium.metrics.tables import Tables

FLOW_EVENT_FIELDS = EVENT_FIELDS | {"actor_external_id", "from_value"}
IDENTITY_FIELDS = frozenset({"is_person"})
ESCALATION_CHARGES = ("escalator", "resolver")
REPEAT_MATCHES = ("type", "configuration")
SPAN_MARGIN = 2 * DAY
"""No opening span of a business calendar is longer than a (25-hour) local day."""


def _before_resolution(ev: Any, resolved: Any, kind: str) -> ColumnElement[bool]:
    """``ev`` is an event of ``kind`` on the resolved ticket, at or before its first resolution."""
    return and_(ev.c.ticket_id == resolved.c.ticket_id, ev.c.kind == kind, ev.c.at <= resolved.c.resolved_at)


class EscalationParams(Schema):
    charge_to = fields.String(
        load_default="escalator", validate=validate.OneOf(ESCALATION_CHARGES),
        metadata={"description": "Who an escalated ticket counts for: the person who escalated it (escalator) "
                                 "or the one who resolved it (resolver)."},
    )


class EscalationRate(Metric):
    """Of the tickets a person handled, the share they escalated to a higher tier."""

    key = "escalation_rate_pct"
    label = "Escalation rate"
    unit = "percent"
    better = "lower"
    requires = {"ticket": TICKET_FIELDS, "ticket_event": FLOW_EVENT_FIELDS}
    anchor = "first resolution"
    params_schema = EscalationParams

    def select(self, tables: Tables) -> Any:
        t, fr, ev = tables.tickets, first_resolutions(tables), tables.ticket_events
        escalated = exists().where(_before_resolution(ev, fr, "escalation"))
        person: ColumnElement[Any] = resolver(tables, t)
        if self.params["charge_to"] == "escalator":
            # The actor of the first escalation: who handed the ticket up. A ticket that was
            # never escalated counts for whoever resolved it (they handled it to the end).
            escalator = (
                select(tables.person_of(ev.c.actor_identity_id))
                .where(_before_resolution(ev, fr, "escalation"))
                .order_by(ev.c.at, ev.c.id)
                .limit(1)
                .scalar_subquery()
            )
            person = case((escalated, escalator), else_=person)
        return (
            select(*row(person_id=person, client_id=t.c.client_id, anchored_at=fr.c.resolved_at,
                        numerator=case((escalated, 1.0), else_=0.0), denominator=1.0, record_type="ticket",
                        record_id=t.c.id))
            .select_from(t.join(fr, fr.c.ticket_id == t.c.id))
        )


class ReassignmentParams(Schema):
    credit = credit_field()


class ReassignmentsPer100(Metric):
    """Hand-overs between two people per 100 tickets resolved."""

    key = "reassignments_per_100"
    label = "Reassignments per 100 tickets"
    unit = "ratio"
    better = "lower"
    scale = 100.0
    requires = {"ticket": TICKET_FIELDS, "ticket_event": FLOW_EVENT_FIELDS, "identity": IDENTITY_FIELDS,
                "time_entry": ENTRY_FIELDS}
    anchor = "first resolution"
    params_schema = ReassignmentParams

    def select(self, tables: Tables) -> Any:
        ev = tables.ticket_events

        def handovers(_t: Any, fr: Any) -> Any:
            return (
                select(func.count())
                .where(_before_resolution(ev, fr, "reassignment"),
                       _is_person(tables, ev.c.connection_id, ev.c.from_value, "from_identity"),
                       _is_person(tables, ev.c.connection_id, ev.c.to_value, "to_identity"))
                .scalar_subquery()
            )

        return resolution_rows(tables, self.params["credit"], handovers)


def _is_person(tables: Tables, connection_id: Any, external_id: Any, alias: str) -> ColumnElement[bool]:
    """The identity ``external_id`` of the connection is a human (not a workflow or API
    account) — checked when computing, so marking an account as non-person later takes
    its hand-overs out (the connector checked only what it knew at sync time)."""
    i = tables.table("identities", alias)
    return exists().where(i.c.connection_id == connection_id, i.c.external_id == external_id,
                          i.c.is_person.is_(True))


class RepeatParams(Schema):
    within_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=365),
                                 metadata={"description": "A new ticket at most this many days after the first "
                                                          "one's resolution is a repeat."})
    match_on = fields.List(
        fields.String(validate=validate.OneOf(REPEAT_MATCHES)), load_default=lambda: list(REPEAT_MATCHES),
        validate=validate.Length(min=1),
        metadata={"description": "What makes it the same problem: type (type and subtype) and/or "
                                 "configuration (the same configuration item); any one suffices."},
    )
    same_contact = fields.Boolean(load_default=True,
                                  metadata={"description": "Require the same contact as well as the same client."})
    credit = credit_field()


class RepeatTicketRate(Metric):
    """Of the tickets a person resolved, the share whose problem came back within N days.

    A repeat is a new ticket, not a reopen; it is charged to who resolved the first one."""

    key = "repeat_ticket_rate_pct"
    label = "Repeat ticket rate"
    unit = "percent"
    better = "lower"
    requires = {"ticket": TICKET_FIELDS | {"contact_external_id", "type", "subtype", "configuration_external_id"},
                "ticket_event": EVENT_FIELDS,
                "time_entry": ENTRY_FIELDS}
    anchor = "first resolution (of the first ticket)"
    params_schema = RepeatParams

    def window(self) -> tuple[dt.timedelta, dt.timedelta]:
        # A new ticket created at t makes a repeat of a resolution up to within_days earlier.
        return dt.timedelta(days=self.params["within_days"]), dt.timedelta(0)

    def select(self, tables: Tables) -> Any:
        return resolution_rows(tables, self.params["credit"], self._repeated(tables))

    def _repeated(self, tables: Tables) -> Any:
        later = tables.scoped_tickets("later_tickets")

        def repeated(t: Any, fr: Any) -> Any:
            same: list[ColumnElement[bool]] = []
            if "type" in self.params["match_on"]:
                same.append(and_(later.c.type.is_not(None), later.c.type == t.c.type,
                                 later.c.subtype.is_not_distinct_from(t.c.subtype)))
            if "configuration" in self.params["match_on"]:
                same.append(and_(later.c.configuration_external_id.is_not(None),
                                 later.c.configuration_external_id == t.c.configuration_external_id))
            conditions = [
                later.c.id != t.c.id,
                later.c.client_id == t.c.client_id,
                later.c.created_at > fr.c.resolved_at,
                epoch(later.c.created_at) <= epoch(fr.c.resolved_at) + self.params["within_days"] * DAY,
                or_(*same),
            ]
            if self.params["same_contact"]:
                conditions += [later.c.contact_external_id.is_not(None),
                               later.c.contact_external_id == t.c.contact_external_id]
            return case((exists().where(*conditions), 1.0), else_=0.0)

        return repeated


class SameDayParams(Schema):
    after_hours = fields.String(
        load_default="next_business_day", validate=validate.OneOf(("next_business_day", "calendar_day")),
        metadata={"description": "A ticket created outside business hours has until the end of the next "
                                 "business day (next_business_day) or only its own local day (calendar_day)."},
    )
    credit = credit_field()


class SameDayClose(Metric):
    """Of the tickets a person resolved, the share resolved on the business day they came in."""

    key = "same_day_close_pct"
    label = "Same-day close"
    unit = "percent"
    better = "higher"
    requires = {"ticket": TICKET_FIELDS, "ticket_event": EVENT_FIELDS,
                "time_entry": ENTRY_FIELDS}
    anchor = "first resolution"
    params_schema = SameDayParams

    def _deadline(self, tables: Tables, ticket: Any) -> ColumnElement[Any]:
        """When the ticket's business day ends: the end of the local day it was created or
        — created after hours, on a weekend or a holiday, with ``next_business_day`` — of
        the day of the calendar's next opening."""
        d, s, created = tables.days, tables.business_spans, ticket.c.created_at
        start: ColumnElement[Any] = created
        if self.params["after_hours"] == "next_business_day":
            opening = (
                select(s.c.starts_at)
                .where(s.c.start_epoch > epoch(created) - SPAN_MARGIN,
                       s.c.start_epoch + s.c.seconds > epoch(created))
                .order_by(s.c.start_epoch)
                .limit(1)
                .correlate(ticket)  # two levels down: SQLAlchemy would not find the ticket by itself
                .scalar_subquery()
            )
            start = func.coalesce(opening, created)
        return (
            select(d.c.ends_at).where(d.c.starts_at <= start).order_by(d.c.starts_at.desc()).limit(1)
            .correlate(ticket).scalar_subquery()
        )

    def select(self, tables: Tables) -> Any:
        def same_day(t: Any, fr: Any) -> Any:
            return case((fr.c.resolved_at < self._deadline(tables, t), 1.0), else_=0.0)

        return resolution_rows(tables, self.params["credit"], same_day)
