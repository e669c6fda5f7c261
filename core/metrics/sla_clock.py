"""SLA due times computed by Podium for tickets whose vendor gives none.

The SLA metrics need a due instant per stage (first response, first resolution) to say
whether a ticket met it and *when* a breach happened. Vendors that give due times keep
them (``source = "vendor"``); for the rest Podium computes them (``"podium"``) and keeps
them in ``ticket_sla_clocks`` (:class:`~podium.models.TicketSlaClock`), apart from the
ticket row a sync rewrites:

* **Which SLA** — the most specific :class:`~podium.models.SlaTarget` matching the
  ticket: board and priority both given beats board only, which beats priority only,
  which beats a row for any ticket (ties: the oldest row). Its ``sla`` names the
  calendar the clock runs on (:func:`podium.org.calendars.calendar_for_sla`: the ``sla``
  calendar of that name with its holidays, else the tenant's), DST-correct.
* **The clock** runs from the ticket's creation over business hours only, and stands
  still while the ticket sits in a *waiting* status — one the tenant's ``status`` mapping
  maps to ``waiting`` (on hold, waiting on the customer) — as its status-change events
  show. A pause ends at the next status change out of a waiting status; a pause still
  open leaves the stage without a due time (no breach can happen while the clock is
  stopped). Pauses after a stage was done do not move that stage's due time.
* **Due** = the instant the running clock reaches the target's hours.

The metrics (:mod:`podium.metrics.builtin.sla`) read the vendor's due time when the
ticket has one and this table's otherwise. :func:`update_clocks` is run after ticket and
ticket-event syncs (the ``recompute_metrics`` job, before the metrics are recomputed)
and for the whole tenant by ``refresh_metrics`` (after SLA targets, calendars or
mappings changed, and hourly).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from podium.db import upsert
from podium.metrics.builtin.tickets import first_resolutions
from podium.metrics.scope import ScopeSettings
from podium.metrics.spans import chunks
from podium.metrics.tables import Tables
from podium.models import Mapping, SlaTarget, Tenant, Ticket, TicketEvent, TicketSlaClock, utcnow
from podium.org.calendars import BusinessCalendar, calendar_for_sla

WAITING = "waiting"
"""The ``status`` mapping value whose statuses stop the SLA clock."""
ENTITIES = frozenset({"ticket", "ticket_event"})
"""Synced entities whose change can move a ticket's computed due times."""

EVERY_TICKET = ScopeSettings(excluded_board_kinds=(), exclude_internal_clients=False, exclude_merged=False,
                             exclude_child=False)
"""Clocks are kept for every ticket, so changing the metric scope needs no recompute of them."""

Pause = tuple[dt.datetime, dt.datetime | None]
"""A waiting interval ``[start, end)``; ``end`` None while the ticket is still waiting."""


@dataclass(frozen=True)
class Target:
    """One SLA target row, as matching needs it."""

    sla: str
    board: str | None
    priority: str | None
    response_hours: float | None
    resolution_hours: float | None

    @property
    def specificity(self) -> tuple[bool, bool]:
        return self.board is not None, self.priority is not None


def match(targets: Sequence[Target], board: str | None, priority: str | None) -> Target | None:
    """The most specific target applying to a ticket on ``board`` with ``priority`` (see module doc)."""
    best: Target | None = None
    for target in targets:
        if target.board not in (None, board) or target.priority not in (None, priority):
            continue
        if best is None or target.specificity > best.specificity:
            best = target
    return best


def pauses_of(changes: Iterable[tuple[dt.datetime, str]], waiting: set[str]) -> list[Pause]:
    """Waiting intervals from a ticket's status changes ``(at, new status)`` in any order."""
    pauses: list[Pause] = []
    started: dt.datetime | None = None
    for at, status in sorted(changes):
        if status in waiting and started is None:
            started = at
        elif status not in waiting and started is not None:
            if at > started:
                pauses.append((started, at))
            started = None
    if started is not None:
        pauses.append((started, None))
    return pauses


def _clipped(pauses: Sequence[Pause], start: dt.datetime, done: dt.datetime | None) -> list[Pause]:
    """``pauses`` inside ``[start, done)`` (a pause still open at ``done`` ends there)."""
    clipped: list[Pause] = []
    for begin, end in pauses:
        if done is not None:
            if begin >= done:
                continue
            end = done if end is None else min(end, done)
        begin = max(begin, start)
        if end is None or end > begin:
            clipped.append((begin, end))
    return clipped


def due_at(
    calendar: BusinessCalendar, start: dt.datetime, hours: float, pauses: Sequence[Pause],
    done: dt.datetime | None = None,
) -> dt.datetime | None:
    """When ``hours`` business hours from ``start`` have run, not counting ``pauses``; None
    while an open pause (before ``done``) holds the clock."""
    remaining = dt.timedelta(hours=hours)
    clock = start
    for begin, end in _clipped(pauses, start, done):
        if end is not None and end <= clock:
            continue
        if begin > clock:
            candidate = calendar.add_business_hours(clock, remaining / dt.timedelta(hours=1))
            if candidate <= begin:
                return candidate
            remaining -= dt.timedelta(seconds=calendar.business_seconds_between(clock, begin))
        if end is None:
            return None
        clock = max(clock, end)
    return calendar.add_business_hours(clock, remaining / dt.timedelta(hours=1))


def waiting_seconds(
    calendar: BusinessCalendar, start: dt.datetime, pauses: Sequence[Pause], until: dt.datetime
) -> float:
    """Business seconds spent waiting between ``start`` and ``until``."""
    return sum(calendar.business_seconds_between(begin, end or until)
               for begin, end in _clipped(pauses, start, until))


# -- writing the clocks --------------------------------------------------------------------


def has_targets(session: Session, tenant_id: int) -> bool:
    """Whether the tenant states any SLA target (without one Podium computes no due time)."""
    return bool(session.scalar(select(exists().where(SlaTarget.tenant_id == tenant_id))))


def _targets(session: Session) -> list[Target]:
    return [Target(r.sla, r.board, r.priority, r.response_hours, r.resolution_hours)
            for r in session.scalars(select(SlaTarget).order_by(SlaTarget.id))]


def _waiting_statuses(session: Session) -> dict[int | None, set[str]]:
    """Connection id (None: every connection) → statuses mapped to ``waiting`` (confirmed)."""
    found: dict[int | None, set[str]] = {}
    for connection_id, status in session.execute(
        select(Mapping.connection_id, Mapping.vendor_value)
        .where(Mapping.kind == "status", Mapping.podium_value == WAITING, Mapping.confirmed.is_(True))
    ):
        found.setdefault(connection_id, set()).add(status)
    return found


def update_clocks(
    session: Session, tenant_id: int, ticket_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> set[int]:
    """Write the SLA clocks of ``ticket_ids`` (None: every ticket of the tenant); returns
    the tickets whose due times or sources changed (their metric spans moved)."""
    now = now or utcnow()
    targets = _targets(session)
    waiting = _waiting_statuses(session)
    calendars: dict[str, BusinessCalendar] = {}
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    tables = Tables(tenant_id, currency=tenant.currency, scope=EVERY_TICKET)
    resolutions = first_resolutions(tables)
    if ticket_ids is None:
        ids = list(session.scalars(select(Ticket.id).order_by(Ticket.id)))
    else:
        ids = sorted(set(ticket_ids))
    changed: set[int] = set()
    for chunk in chunks(ids):
        tickets = list(session.scalars(select(Ticket).where(Ticket.id.in_(chunk))))
        resolved = {ticket_id: at for ticket_id, at in session.execute(
            select(resolutions.c.ticket_id, resolutions.c.resolved_at).where(resolutions.c.ticket_id.in_(chunk)))}
        changes: dict[int, list[tuple[dt.datetime, str]]] = {}
        for ticket_id, at, status in session.execute(
            select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.to_value)
            .where(TicketEvent.ticket_id.in_(chunk), TicketEvent.kind == "status_change")
        ):
            changes.setdefault(ticket_id, []).append((at, status))
        clock = TicketSlaClock.__table__  # rows, not ORM objects: the upsert below would leave those stale
        before = {row.ticket_id: row for row in session.execute(
            select(clock).where(clock.c.tenant_id == tenant_id, clock.c.ticket_id.in_(chunk)))}
        rows, gone = [], []
        for ticket in tickets:
            statuses = waiting.get(None, set()) | waiting.get(ticket.connection_id, set())
            pauses = pauses_of(changes.get(ticket.id, []), statuses) if statuses else []
            target = match(targets, ticket.board, ticket.priority)
            calendar = None
            if target is not None:
                if target.sla not in calendars:
                    calendars[target.sla] = calendar_for_sla(session, tenant_id, target.sla)
                calendar = calendars[target.sla]
            row = clock_row(ticket, target, calendar, pauses, resolved.get(ticket.id), now)
            old = before.get(ticket.id)
            if row is None:
                if old is not None:
                    gone.append(ticket.id)
            elif old is None or any(getattr(old, k) != v for k, v in row.items() if k not in UNCOMPARED):
                rows.append(row)
        if gone:
            session.execute(delete(TicketSlaClock).where(TicketSlaClock.tenant_id == tenant_id,
                                                         TicketSlaClock.ticket_id.in_(gone))
                            .execution_options(synchronize_session=False))
        upsert(session, TicketSlaClock, rows, conflict=("ticket_id",))
        changed.update(gone, (row["ticket_id"] for row in rows))
    return changed


UNCOMPARED = frozenset({"ticket_id", "computed_at"})


def clock_row(
    ticket: Ticket, target: Target | None, calendar: BusinessCalendar | None, pauses: Sequence[Pause],
    resolved_at: dt.datetime | None, now: dt.datetime,
) -> dict[str, object] | None:
    """The clock of one ticket (None when neither stage has a due time): each stage's due
    time is the vendor's when given, else computed from ``target`` on ``calendar``."""
    stages = {}
    for stage, vendor_due, done in (("response", ticket.sla_response_due_at, ticket.first_response_at),
                                    ("resolution", ticket.sla_resolution_due_at, resolved_at)):
        hours = None if target is None else getattr(target, f"{stage}_hours")
        if vendor_due is not None:
            stages[stage] = (vendor_due, "vendor")
        elif hours is not None and calendar is not None:
            stages[stage] = (due_at(calendar, ticket.created_at, hours, pauses, done), "podium")
        else:
            stages[stage] = (None, None)
    if stages["response"][1] is None and stages["resolution"][1] is None:
        return None
    podium_used = "podium" in (stages["response"][1], stages["resolution"][1])
    waited = 0.0
    if podium_used and calendar is not None:
        waited = waiting_seconds(calendar, ticket.created_at, pauses, resolved_at or now)
    return {
        "ticket_id": ticket.id,
        "sla": target.sla if podium_used and target is not None else None,
        "response_due_at": stages["response"][0],
        "response_source": stages["response"][1],
        "resolution_due_at": stages["resolution"][0],
        "resolution_source": stages["resolution"][1],
        "waiting_seconds": waited,
        "computed_at": now,
    }


def ticket_ids_of(session: Session, connection_id: int, entity: str, keys: Sequence[str]) -> set[int]:
    """Row ids of the tickets a synced change of ``entity`` names: the tickets themselves,
    or a ticket event's ticket (its key starts with the ticket's external id)."""
    external = sorted({key.split("|", 1)[0] if entity == "ticket_event" else key for key in keys})
    found: set[int] = set()
    for chunk in chunks(external):
        found.update(session.scalars(select(Ticket.id).where(
            Ticket.connection_id == connection_id, Ticket.external_id.in_(chunk))))
    return found
