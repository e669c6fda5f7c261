"""The "ticket" pod: on a PSA ticket screen, the SLA clocks and what this ticket means
for the viewer's own figures.

Registered on ConnectWise's Ticket screen as ``/pods/ticket?c=<ref>&id=[cw_id]``: Manage
substitutes the ticket's id, which is looked up among the tickets synced from the pod's
connection (:func:`podium.web.pod_context.context_record`; unknown or another tenant's
→ the same "not found").

* **SLA clocks** — response and resolution, from the due times and met flags the
  canonical ticket carries (the vendor's, ``sla_source``), judged exactly as the SLA
  metrics judge them (:mod:`podium.metrics.builtin.sla`): the flag when given, else the
  stage's time against the due time; an open stage past its due time is already a
  breach. Remaining and overdue time are in business hours of the tenant's calendar.
* **First-contact resolution** — the ``fcr_pct`` rule applied to the ticket as it is
  now: in scope (the tenant's scope filters), exactly one live time entry and it is the
  resolver's (the viewer's, if they resolve it now), never reassigned or escalated, not
  reopened within ``reopen_window_days`` of its first resolution.
* **Reopen risk** — a ticket first resolved less than ``reopen_rate_pct``'s window ago
  counts against its resolver's reopen rate if it is reopened before the window ends.
* **Time not yet entered** — the viewer's entries on the ticket against the business
  hours it has been open, and whether they logged anything since its last status change.

The figures are the pod subject's (the viewer, or a person a manager may see via
``?person=``); another person's part in the ticket is only ever described as "someone
else". Sections whose metric is not registered are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from podium import hookimpl
from podium.metrics.builtin.tickets import first_resolutions, resolver
from podium.metrics.engine import MetricEngine
from podium.metrics.scope import ScopeSettings, load_scope
from podium.metrics.tables import Tables
from podium.models import Person, Ticket, TicketEvent, TimeEntry, utcnow
from podium.org.calendars import BusinessCalendar, calendar_for_tenant
from podium.org.identities import attributable_identities
from podium.payouts.money import format_number
from podium.pods import Pod
from podium.registry import Registry
from podium.web.pod_context import context_record
from sqlalchemy import func, select
from sqlalchemy.orm import Session

UNSCOPED = ScopeSettings(excluded_board_kinds=(), exclude_internal_clients=False, exclude_merged=False,
                         exclude_child=False)
"""Every ticket: a clock runs whether or not a metric counts the ticket."""
MOVED = ("reassignment", "escalation")


def hours_text(hours: float) -> str:
    return f"{format_number(hours, 1)} business h"


@dataclass(frozen=True)
class SlaClock:
    stage: str
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    state: str
    """``met``, ``breached``, ``running`` (due ahead, not done) or ``none`` (no SLA for this stage)."""
    business_hours: float | None
    """Running: left until due; breached: how far past due (at completion, or until now)."""

    @property
    def text(self) -> str:
        if self.state == "none":
            return "no SLA"
        if self.state == "met":
            return "met"
        if self.state == "running":
            return f"{hours_text(self.business_hours or 0)} left"
        if self.business_hours is None:
            return "breached"
        return f"breached by {hours_text(self.business_hours)}"


def sla_clock(stage: str, due: dt.datetime | None, met: bool | None, done: dt.datetime | None,
              now: dt.datetime, calendar: BusinessCalendar) -> SlaClock:
    """One stage's clock, judged as :class:`podium.metrics.builtin.sla.SlaMet` judges it."""
    if met is True:
        return SlaClock(stage, due, done, "met", None)
    if due is None:
        return SlaClock(stage, due, done, "breached" if met is False else "none", None)
    if met is False or (done is not None and done > due):
        end = done or now
        return SlaClock(stage, due, done, "breached", calendar.business_hours_between(due, end) if end > due else None)
    if done is not None:
        return SlaClock(stage, due, done, "met", None)
    if now < due:
        return SlaClock(stage, due, done, "running", calendar.business_hours_between(now, due))
    return SlaClock(stage, due, done, "breached", calendar.business_hours_between(due, now))


@dataclass(frozen=True)
class Verdict:
    """Whether the ticket counts for the subject in one metric, and why (plain words)."""

    state: str
    """``yes``, ``no``, ``pending`` (yes unless something happens first) or ``not-yours``."""
    text: str
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TicketFacts:
    """The ticket's current state, as the metrics read it."""

    in_scope: bool
    first_resolved_at: dt.datetime | None
    resolver_person_id: int | None
    live_entries: int
    entry_people: list[int | None]
    moved: bool
    reopens: list[dt.datetime]
    last_status_change: dt.datetime | None


def ticket_facts(session: Session, tenant_id: int, ticket: Ticket) -> TicketFacts:
    """The ticket's first resolution and resolver (as every ticket metric decides them,
    :mod:`podium.metrics.builtin.tickets`), its live time entries' people, its events."""
    scoped = Tables(tenant_id, currency="", scope=load_scope(session, tenant_id)).tickets
    every = Tables(tenant_id, currency="", scope=UNSCOPED)
    t, fr, te = every.tickets, first_resolutions(every), every.time_entries
    resolved_at, resolver_id = session.execute(
        select(fr.c.resolved_at, resolver(every, t)).select_from(t)
        .outerjoin(fr, fr.c.ticket_id == t.c.id).where(t.c.id == ticket.id)
    ).one()
    entry_people = list(session.scalars(
        select(every.person_of(te.c.identity_id)).where(te.c.ticket_id == ticket.id, te.c.rejected.is_(False))
        .order_by(te.c.start_at, te.c.id)
    ))
    events = session.execute(
        select(TicketEvent.kind, TicketEvent.at).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.at)
    ).all()
    return TicketFacts(
        in_scope=session.scalar(select(scoped.c.id).where(scoped.c.id == ticket.id)) is not None,
        first_resolved_at=resolved_at,
        resolver_person_id=resolver_id,
        live_entries=len(entry_people),
        entry_people=entry_people,
        moved=any(kind in MOVED for kind, _ in events),
        reopens=[at for kind, at in events if kind == "reopen"],
        last_status_change=max((at for kind, at in events if kind == "status_change"), default=None),
    )


def window_days(podium: Any, key: str) -> int | None:
    """The metric's default ``reopen_window_days``, or None when the metric is not registered."""
    if key not in podium.plugins.metrics:
        return None
    return int(MetricEngine(podium).metric(key).params["reopen_window_days"])


def fcr_verdict(facts: TicketFacts, person_id: int, now: dt.datetime, window: int) -> Verdict:
    """The ``fcr_pct`` conditions on the ticket as it stands, for ``person_id``."""
    if not facts.in_scope:
        return Verdict("no", "Outside the metrics' scope (merged, child, internal or an excluded board): "
                             "it counts in no ticket metric.")
    resolved = facts.first_resolved_at is not None
    if resolved and facts.resolver_person_id != person_id:
        return Verdict("not-yours", "Resolved by someone else: it is not in your first-contact resolution.")
    reasons = []
    if facts.live_entries == 0:
        reasons.append("no time entry yet — a first-contact fix has exactly one, the resolver's")
    elif facts.live_entries > 1:
        reasons.append(f"{facts.live_entries} time entries — a first-contact fix has exactly one")
    elif facts.entry_people[0] != person_id:
        reasons.append("its one time entry is someone else's")
    if facts.moved:
        reasons.append("it was reassigned or escalated")
    if resolved:
        assert facts.first_resolved_at is not None
        until = facts.first_resolved_at + dt.timedelta(days=window)
        if any(at <= until for at in facts.reopens):
            reasons.append(f"reopened within {window} days of its first resolution")
        if reasons:
            return Verdict("no", "Does not count as a first-contact fix: " + "; ".join(reasons) + ".", reasons)
        if now < until:
            return Verdict("pending", f"Counts as your first-contact fix unless it is reopened before "
                                      f"{until.isoformat(timespec='minutes')}.")
        return Verdict("yes", "Counts as your first-contact fix.")
    if reasons:
        return Verdict("no", "Resolving it now would not count as a first-contact fix: " + "; ".join(reasons) + ".",
                       reasons)
    return Verdict("yes", "Resolve it now and it counts toward your first-contact resolution "
                          f"(unless it is reopened within {window} days).")


def reopen_verdict(facts: TicketFacts, person_id: int, now: dt.datetime, window: int) -> Verdict:
    """Whether a reopen now would count against the resolver's reopen rate."""
    if facts.first_resolved_at is None:
        return Verdict("no", "Not resolved yet: no reopen risk.")
    if not facts.in_scope:
        return Verdict("no", "Outside the metrics' scope: a reopen counts in no metric.")
    whose = "your" if facts.resolver_person_id == person_id else "its resolver's"
    until = facts.first_resolved_at + dt.timedelta(days=window)
    counted = [at for at in facts.reopens if at <= until]
    if counted:
        return Verdict("yes", f"Reopened on {counted[0].isoformat(timespec='minutes')}, within {window} days: "
                              f"it counts in {whose} reopen rate.")
    if now < until:
        left = until - now
        return Verdict("pending", f"At risk: a reopen before {until.isoformat(timespec='minutes')} "
                                  f"({left.days} d {left.seconds // 3600} h from now) counts in {whose} reopen rate.")
    return Verdict("no", f"Past the {window}-day reopen window: a reopen no longer counts.")


@dataclass(frozen=True)
class TimeState:
    """The subject's time on the ticket against how long it has been open."""

    hours: float
    entries: int
    last_entry_end: dt.datetime | None
    open_business_hours: float
    last_status_change: dt.datetime | None

    @property
    def missing_since_change(self) -> bool:
        """No entry of theirs ending after the last status change."""
        if self.last_status_change is None:
            return self.entries == 0
        return self.last_entry_end is None or self.last_entry_end < self.last_status_change

    @property
    def text(self) -> str:
        mine = (f"You entered {format_number(self.hours, 2)} h in {self.entries} "
                f"entr{'y' if self.entries == 1 else 'ies'}" if self.entries else "You have entered no time")
        return f"{mine}; the ticket has been open {hours_text(self.open_business_hours)}."


def time_state(session: Session, tenant_id: int, ticket: Ticket, person_id: int, facts: TicketFacts,
               now: dt.datetime, calendar: BusinessCalendar) -> TimeState:
    mine = attributable_identities(tenant_id).subquery()
    end = func.coalesce(TimeEntry.end_at, TimeEntry.start_at)
    entries, hours, last_end = session.execute(
        select(func.count(TimeEntry.id), func.coalesce(func.sum(TimeEntry.hours), 0.0), func.max(end))
        .join(mine, mine.c.identity_id == TimeEntry.identity_id)
        .where(TimeEntry.ticket_id == ticket.id, TimeEntry.rejected.is_(False), mine.c.person_id == person_id)
    ).one()
    until = facts.first_resolved_at or now
    return TimeState(
        hours=float(hours), entries=entries, last_entry_end=last_end,
        open_business_hours=calendar.business_hours_between(ticket.created_at, until),
        last_status_change=facts.last_status_change,
    )


class TicketPod(Pod):
    key = "ticket"
    title = "Ticket"
    audience = "technician"
    context = "ticket"

    def render(self, view: Any) -> str:
        viewer, session = view.viewer, view.session
        ticket = context_record(view, Ticket, "ticket")
        now = utcnow()
        calendar = calendar_for_tenant(session, viewer.tenant_id)
        facts = ticket_facts(session, viewer.tenant_id, ticket)
        clocks = [
            sla_clock("Response", ticket.sla_response_due_at, ticket.sla_response_met, ticket.first_response_at,
                      now, calendar),
            sla_clock("Resolution", ticket.sla_resolution_due_at, ticket.sla_resolution_met, facts.first_resolved_at,
                      now, calendar),
        ]
        subject: Person | None = view.subject
        fcr = reopen = time = None
        if subject is not None:
            fcr_window = window_days(view.podium, "fcr_pct")
            reopen_window = window_days(view.podium, "reopen_rate_pct")
            fcr = fcr_verdict(facts, subject.id, now, fcr_window) if fcr_window is not None else None
            reopen = reopen_verdict(facts, subject.id, now, reopen_window) if reopen_window is not None else None
            time = time_state(session, viewer.tenant_id, ticket, subject.id, facts, now, calendar)
        return render_template(
            "pods/ticket.html",
            viewer=viewer, subject=subject, ticket=ticket, clocks=clocks, fcr=fcr, reopen=reopen, time=time,
            local=lambda instant: instant.astimezone(calendar.zone).strftime("%a %d %b %H:%M") if instant else "—",
        )


@hookimpl
def podium_register_pods(registry: Registry[Pod]) -> None:
    registry.add(TicketPod)
