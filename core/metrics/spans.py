"""What the engine remembers about each synced record: the days it touched.

A change can move a record *away* from where it counted (a time entry re-dated, a ticket
deleted), and ``podium_records_changed`` only says what the record is now. So for every
record the days it touched when the engine last saw it are kept in
``metric_record_spans``: seeded for the whole tenant when something is tracked, updated
after each change (:func:`remember`). :mod:`podium.metrics.changes` recomputes the old
days as well as the new ones.

The days a record touches:

* a ticket — every day from its creation to its last event, time entry or survey, and
  its SLA due times, the vendor's or Podium's (its first resolution, breaches, time and
  surveys all lie in there);
* a time entry or survey — its own days (and, through ``ticket_id``, its ticket's);
* a project, agreement, invoice, payment — its dates (an agreement without an end: on);
* an endpoint — the days of its statuses.

Days are UTC days; callers widen them by a day on each side for local time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, case, cast, delete, func, insert, literal, null, select
from sqlalchemy.orm import Session

from podium.metrics.sql import greatest, least, utc_day
from podium.models import (
    Agreement,
    Endpoint,
    EndpointStatus,
    Invoice,
    MetricRecordSpan,
    Payment,
    Project,
    Survey,
    Ticket,
    TicketEvent,
    TicketSlaClock,
    TimeEntry,
)

OPEN_END = dt.date(9999, 12, 31)
"""The last day of a record that never ends (an agreement without an end date)."""
CHUNK = 500


def chunks(values: Sequence[Any]) -> list[list[Any]]:
    """``values`` in lists of at most :data:`CHUNK` (bound-parameter limits)."""
    return [list(values[i : i + CHUNK]) for i in range(0, len(values), CHUNK)]


def _span(first: list[ColumnElement[Any]], last: list[ColumnElement[Any]] | None = None) -> tuple[Any, Any]:
    return least(*first), greatest(*(last if last is not None else first))


def span_select(entity: str) -> Select[Any] | None:
    """``(tenant_id, connection_id, external_id, record_id, ticket_id, first_day, last_day)``
    for every record of ``entity``, or None for entities without spans of their own."""
    if entity == "ticket":
        t, ev, te, sv = Ticket.__table__, TicketEvent.__table__, TimeEntry.__table__, Survey.__table__
        clock = TicketSlaClock.__table__

        def child(column: Any, table: Any, fn: Any) -> Any:
            return select(fn(column)).where(table.c.ticket_id == t.c.id).scalar_subquery()

        own = [t.c.created_at, t.c.first_response_at, t.c.resolved_at, t.c.closed_at, t.c.sla_response_due_at,
               t.c.sla_resolution_due_at, t.c.vendor_updated_at,
               child(clock.c.response_due_at, clock, func.min), child(clock.c.resolution_due_at, clock, func.min)]
        first = [*own, child(ev.c.at, ev, func.min), child(te.c.start_at, te, func.min),
                 child(sv.c.submitted_at, sv, func.min)]
        last = [*own, child(ev.c.at, ev, func.max), child(func.coalesce(te.c.end_at, te.c.start_at), te, func.max),
                child(sv.c.submitted_at, sv, func.max)]
        return _select(t, t.c.id, utc_day(least(*first)), utc_day(greatest(*last)))
    if entity == "time_entry":
        te = TimeEntry.__table__
        times = [te.c.start_at, te.c.end_at, te.c.entered_at]
        return _select(te, te.c.ticket_id, utc_day(least(*times)), utc_day(greatest(*times)))
    if entity == "survey":
        sv = Survey.__table__
        return _select(sv, sv.c.ticket_id, utc_day(sv.c.submitted_at), utc_day(sv.c.submitted_at))
    if entity == "project":
        p = Project.__table__
        first, last = _span([p.c.estimated_end, p.c.actual_end])
        return _select(p, None, first, last)
    if entity == "agreement":
        a = Agreement.__table__
        ends = case(
            (a.c.effective_to.is_(None) & a.c.cancelled_at.is_(None), literal(OPEN_END)),
            else_=greatest(a.c.effective_to, a.c.cancelled_at),
        )
        return _select(a, None, a.c.effective_from, ends)
    if entity == "invoice":
        i = Invoice.__table__
        first, last = _span([i.c.invoice_date, i.c.due_date, utc_day(i.c.paid_at)])
        return _select(i, None, first, last)
    if entity == "payment":
        pm = Payment.__table__
        return _select(pm, None, utc_day(pm.c.paid_at), utc_day(pm.c.paid_at))
    if entity == "endpoint":
        e, s = Endpoint.__table__, EndpointStatus.__table__
        first_status = select(func.min(s.c.day)).where(s.c.endpoint_id == e.c.id).scalar_subquery()
        last_status = select(func.max(s.c.day)).where(s.c.endpoint_id == e.c.id).scalar_subquery()
        contact = utc_day(e.c.last_contact_at)
        return _select(e, None, least(first_status, contact), greatest(last_status, contact))
    return None


def _select(table: Any, ticket_id: Any, first: Any, last: Any) -> Select[Any]:
    return select(
        table.c.tenant_id,
        table.c.connection_id,
        table.c.external_id,
        table.c.id.label("record_id"),
        (ticket_id if ticket_id is not None else cast(null(), BigInteger())).label("ticket_id"),
        first.label("first_day"),
        last.label("last_day"),
    )


SPAN_COLUMNS = ["tenant_id", "connection_id", "external_id", "record_id", "ticket_id", "first_day", "last_day"]
SPANNED = ("ticket", "time_entry", "survey", "project", "agreement", "invoice", "payment", "endpoint")


def seed_record_spans(session: Session, tenant_id: int) -> None:
    """Remember the days every record of the tenant touches now (before tracking starts)."""
    session.execute(delete(MetricRecordSpan).where(MetricRecordSpan.tenant_id == tenant_id))
    for entity in SPANNED:
        spans = span_select(entity)
        assert spans is not None
        columns = spans.selected_columns
        source = select(*columns, literal(entity).label("entity")).where(columns.tenant_id == tenant_id)
        session.execute(insert(MetricRecordSpan).from_select([*SPAN_COLUMNS, "entity"], source))


def remembered(session: Session, tenant_id: int, entity: str, **match: Any) -> list[MetricRecordSpan]:
    statement = select(MetricRecordSpan).where(MetricRecordSpan.tenant_id == tenant_id,
                                               MetricRecordSpan.entity == entity)
    for name, value in match.items():
        column = getattr(MetricRecordSpan, name)
        statement = statement.where(column.in_(value) if isinstance(value, list) else column == value)
    return list(session.scalars(statement))


def current(session: Session, tenant_id: int, entity: str, **match: Any) -> list[Any]:
    spans = span_select(entity)
    assert spans is not None
    subquery = spans.subquery()
    statement = select(subquery).where(subquery.c.tenant_id == tenant_id)
    for name, value in match.items():
        column = subquery.c[name]
        statement = statement.where(column.in_(value) if isinstance(value, list) else column == value)
    return list(session.execute(statement))


def _replace(session: Session, tenant_id: int, entity: str, *match: Any) -> None:
    """Replace the remembered spans of the ``entity`` records matching ``match`` by their current ones."""
    spans = span_select(entity)
    assert spans is not None
    columns = spans.selected_columns
    remembered_columns = {name: getattr(MetricRecordSpan, name) for name in SPAN_COLUMNS}
    session.execute(delete(MetricRecordSpan).where(
        MetricRecordSpan.tenant_id == tenant_id, MetricRecordSpan.entity == entity,
        *(condition(remembered_columns) for condition in match),
    ))
    source = select(*columns, literal(entity).label("entity")).where(
        columns.tenant_id == tenant_id, *(condition(columns) for condition in match)
    )
    session.execute(insert(MetricRecordSpan).from_select([*SPAN_COLUMNS, "entity"], source))


def remember(session: Session, tenant_id: int, connection_id: int, entity: str, keys: Sequence[str]) -> None:
    """Store the days the records ``keys`` touch now (forget deleted ones)."""
    if span_select(entity) is None:
        return
    for chunk in chunks(list(keys)):
        _replace(session, tenant_id, entity, lambda c: c["connection_id"] == connection_id,
                 lambda c, chunk=chunk: c["external_id"].in_(chunk))


def remember_tickets(session: Session, tenant_id: int, ticket_ids: set[int]) -> None:
    """Store the days these tickets touch now: a ticket's span includes its events, time
    entries and surveys, so it grows when they change even if the ticket does not."""
    for chunk in chunks(sorted(ticket_ids)):
        _replace(session, tenant_id, "ticket", lambda c, chunk=chunk: c["record_id"].in_(chunk))


