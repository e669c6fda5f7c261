"""What every ticket metric agrees on: when a ticket was first resolved, and by whom.

* **First resolution** — the earliest of the ticket's own resolved time (else its closed
  time) and the first status change into a status the tenant's ``status`` mapping calls
  resolved or closed. A ticket reopened and resolved again keeps its first resolution,
  so MTTR, FCR and the reopen rate count it once, in the period it was first resolved.
* **Resolver** — the person linked to the identity that resolved it, else the owner's
  person (a workflow account that only *closed* it is not a person and is skipped).
  Unlinked identities are never credited (``podium.org.identities``).
* **Credit** (``credit`` parameter) — ``resolver`` (default), ``owner``, or ``shared``:
  every person who logged time on the ticket gets an equal share (a multi-resource ticket
  counts 1/n for each of n people); tickets without time fall back to the resolver.

:func:`resolution_rows` puts the three together: the rows of a metric that counts each
resolved ticket once, per credited person, at its first resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import fields, validate
from sqlalchemy import ColumnElement, Float, Select, Subquery, exists, func, literal, select, union_all

from podium.metrics.base import row
from podium.metrics.sql import as_float, least
from podium.metrics.tables import Tables

DONE = ["resolved", "closed"]
CREDIT_MODES = ("resolver", "owner", "shared")


def credit_field() -> fields.String:
    return fields.String(load_default="resolver", validate=validate.OneOf(CREDIT_MODES),
                         metadata={"description": "Who a ticket counts for: resolver, owner or shared."})


def first_resolutions(tables: Tables) -> Subquery:
    """``(ticket_id, resolved_at)`` of every in-scope ticket that has been resolved."""
    t, ev = tables.tickets, tables.ticket_events
    from_events = (
        select(ev.c.ticket_id, func.min(ev.c.at).label("at"))
        .where(ev.c.kind == "status_change", tables.mapped("status", ev.c.to_value, ev.c.connection_id, DONE))
        .group_by(ev.c.ticket_id)
        .subquery("resolved_events")
    )
    first = least(func.coalesce(t.c.resolved_at, t.c.closed_at), from_events.c.at)
    return (
        select(t.c.id.label("ticket_id"), first.label("resolved_at"))
        .select_from(t.outerjoin(from_events, from_events.c.ticket_id == t.c.id))
        .where(first.is_not(None))
        .subquery("first_resolutions")
    )


def resolver(tables: Tables, ticket: Any) -> ColumnElement[int]:
    """The resolver's person, else the owner's (see the module docstring)."""
    return func.coalesce(tables.person_of(ticket.c.resolved_by_identity_id),
                         tables.person_of(ticket.c.owner_identity_id))


def credit(tables: Tables, mode: str) -> Subquery:
    """``(ticket_id, person_id, weight)`` of every in-scope ticket under ``mode``."""
    t = tables.tickets
    one = literal(1.0, Float)
    if mode == "owner":
        return select(t.c.id.label("ticket_id"), tables.person_of(t.c.owner_identity_id).label("person_id"),
                      one.label("weight")).subquery("credit")
    by_resolver = select(t.c.id.label("ticket_id"), resolver(tables, t).label("person_id"), one.label("weight"))
    if mode == "resolver":
        return by_resolver.subquery("credit")
    te = tables.time_entries
    workers = (
        select(te.c.ticket_id, tables.person_of(te.c.identity_id).label("person_id"))
        .where(te.c.rejected.is_(False), te.c.ticket_id.is_not(None))
        .subquery("workers")
    )
    people = select(workers.c.ticket_id, workers.c.person_id).where(workers.c.person_id.is_not(None)).distinct()
    people = people.subquery("ticket_people")
    counts = select(people.c.ticket_id, func.count().label("n")).group_by(people.c.ticket_id).subquery("crew")
    shared = select(people.c.ticket_id, people.c.person_id, (one / as_float(counts.c.n)).label("weight")).join(
        counts, counts.c.ticket_id == people.c.ticket_id
    )
    fallback = by_resolver.where(~exists().where(people.c.ticket_id == t.c.id))
    return union_all(shared, fallback).subquery("credit")


def resolution_rows(
    tables: Tables, mode: str, value: Callable[[Subquery, Subquery], Any] = lambda _t, _fr: 1.0, *,
    counted: bool = True,
) -> Select[Any]:
    """Metric rows of every in-scope resolved ticket, per person credited under ``mode``,
    anchored at its first resolution: numerator ``value(tickets, first_resolutions)`` ×
    the credit's weight; denominator the weight, or 0 when not ``counted`` (a metric whose
    denominator comes from other rows, e.g. days worked)."""
    t, fr, c = tables.tickets, first_resolutions(tables), credit(tables, mode)
    return (
        select(*row(person_id=c.c.person_id, client_id=t.c.client_id, anchored_at=fr.c.resolved_at,
                    numerator=value(t, fr) * c.c.weight, denominator=c.c.weight if counted else 0.0,
                    record_type="ticket", record_id=t.c.id))
        .select_from(t.join(fr, fr.c.ticket_id == t.c.id).join(c, c.c.ticket_id == t.c.id))
    )
