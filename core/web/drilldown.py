"""The records behind a figure, in words a technician recognises, with links into the PSA.

The metric engine's drill-down (:meth:`podium.metrics.engine.MetricEngine.explain`) names
records by type and id and says what each contributed; this module adds what a person
would look for — the ticket number and summary, a time entry's hours and date, a survey's
score — and the vendor's own link to the record where its connector offers one
(:func:`podium.payouts.links.record_links`, ``DataSource.record_url``). Records are
looked up per type in one query each, in the caller's tenant-scoped session.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podium.metrics.engine import Record
from podium.models import Survey, Ticket, TicketEvent, TimeEntry
from podium.payouts.links import record_links
from podium.payouts.money import format_number
from podium.runtime import Podium
from sqlalchemy import select
from sqlalchemy.orm import Session

NOUNS = {
    "ticket": "Ticket", "time_entry": "Time entry", "survey": "Survey", "ticket_event": "Ticket event",
    "capacity_day": "Available hours", "endpoint_status": "Endpoint check", "agreement": "Agreement",
    "invoice": "Invoice", "payment": "Payment", "project": "Project", "budget": "Budget",
}
"""What each record type is called on screen (a third party's types show as they are named)."""


@dataclass(frozen=True)
class RecordRow:
    """One record behind a figure, as the drill-down table shows it."""

    record_type: str
    record_id: int
    at: dt.datetime
    what: str
    numerator: float
    denominator: float
    url: str | None

    @property
    def noun(self) -> str:
        return NOUNS.get(self.record_type, self.record_type.replace("_", " ").capitalize())

    @property
    def counted(self) -> str:
        return format_number(self.numerator)

    @property
    def out_of(self) -> str:
        return format_number(self.denominator)


def _tickets(session: Session, ids: Sequence[int]) -> dict[int, str]:
    return {row.id: f"#{row.number} {row.summary}" for row in
            session.execute(select(Ticket.id, Ticket.number, Ticket.summary).where(Ticket.id.in_(ids)))}


def _time_entries(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(TimeEntry.id, TimeEntry.hours, TimeEntry.work_type, Ticket.number)
                           .outerjoin(Ticket, Ticket.id == TimeEntry.ticket_id).where(TimeEntry.id.in_(ids)))
    return {row.id: " · ".join(part for part in (f"{format_number(row.hours)} h", row.work_type,
                                                 f"ticket #{row.number}" if row.number else None) if part)
            for row in rows}


def _surveys(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(Survey.id, Survey.score, Survey.scale_max, Ticket.number)
                           .outerjoin(Ticket, Ticket.id == Survey.ticket_id).where(Survey.id.in_(ids)))
    return {row.id: f"score {format_number(row.score)} of {format_number(row.scale_max)}"
                    + (f" · ticket #{row.number}" if row.number else "") for row in rows}


def _events(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(TicketEvent.id, TicketEvent.kind, Ticket.number)
                           .join(Ticket, Ticket.id == TicketEvent.ticket_id).where(TicketEvent.id.in_(ids)))
    return {row.id: f"{row.kind.replace('_', ' ')} · ticket #{row.number}" for row in rows}


DESCRIBERS: dict[str, Callable[[Session, Sequence[int]], dict[int, str]]] = {
    "ticket": _tickets, "time_entry": _time_entries, "survey": _surveys, "ticket_event": _events,
}


def record_rows(podium: Podium, session: Session, records: Sequence[Record]) -> list[RecordRow]:
    """``records`` (a drill-down, in its order) described, with vendor links where there are any."""
    by_type: dict[str, list[int]] = defaultdict(list)
    for record in records:
        by_type[record.record_type].append(record.record_id)
    words: dict[tuple[str, int], str] = {}
    for record_type, ids in by_type.items():
        describe = DESCRIBERS.get(record_type)
        if describe is not None:
            words.update({(record_type, k): v for k, v in describe(session, ids).items()})
    links: dict[str, Any] = record_links(session, podium, [(r.record_type, r.record_id) for r in records])
    return [RecordRow(r.record_type, r.record_id, r.anchored_at,
                      words.get((r.record_type, r.record_id), f"#{r.record_id}"), r.numerator, r.denominator,
                      links.get(f"{r.record_type}:{r.record_id}")) for r in records]
