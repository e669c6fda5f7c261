"""Projects: estimated against actual ends and hours, and the project work behind them.

About a third of projects finish after their estimated end (the on-time measure of the
budget-attainment plan needs both outcomes), actual hours scatter around the budget, and
project work is logged against phase tickets (ConnectWise charges project time to a
project ticket) by a lead engineer and sometimes a helper.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium.simulate import catalog
from podium.simulate.catalog import BOARDS, IDS, PRIORITIES, PROJECT_PHASES
from podium.simulate.clients import SimClient
from podium.simulate.org import SimPerson, entry_delay
from podium.simulate.records import Record, time_entry
from podium.simulate.streams import clamp, derive, lognormal, whole_seconds

if TYPE_CHECKING:
    from podium.simulate.world import World


@dataclass(frozen=True)
class Phase:
    name: str
    ticket_id: str
    start: dt.date
    end: dt.date
    """Last working day of the phase."""


@dataclass(frozen=True)
class SimProject:
    index: int
    external_id: str
    client: SimClient
    name: str
    lead: SimPerson
    helper: SimPerson | None
    manager: SimPerson
    start: dt.date
    estimated_end: dt.date
    actual_end: dt.date
    budget_hours: float
    hours: float
    """Hours the work will really take (the actual hours once finished)."""
    fixed_fee: bool
    phases: tuple[Phase, ...]


def _shift(world: World, day: dt.date, business_days: int) -> dt.date:
    """``day`` moved by whole business days of the tenant calendar (either direction)."""
    step = dt.timedelta(days=1 if business_days >= 0 else -1)
    remaining = abs(business_days)
    while remaining:
        day += step
        if world.org.calendar.is_business_day(day):
            remaining -= 1
    return day


def build_projects(world: World) -> list[SimProject]:
    days = (world.end - world.start).days
    customers = [c for c in world.clients if not c.internal]
    count = max(1 if days >= 14 else 0, round(len(customers) * days / 90 * 0.15))
    steady = [p for p in world.org.people if p.employed_from <= world.start and p.employed_to is None]
    load = {p.key: 0.0 for p in steady}
    projects = []
    for index in range(count):
        rng = derive(world.seed, "project", index)
        client = customers[rng.randrange(len(customers))]
        name, low, high = rng.choice(catalog.PROJECTS)
        team = world.org.team_of_kind("projects", client.region)
        # The senior engineer with the least project work so far leads it.
        leads = [p for p in steady if p.grade == "L3"] or [p for p in steady if p.grade != "M"]
        lead = min(leads, key=lambda p: (load[p.key], p.team != team.index, p.key))
        helpers = [p for p in steady if p.grade == "L2"]
        helper = helpers[rng.randrange(len(helpers))] if helpers and rng.random() < 0.5 else None
        budget = float(rng.randint(low, high))
        load[lead.key] += budget * (0.7 if helper else 1.0)
        start = world.start + dt.timedelta(days=rng.randint(0, max(0, days - 15)))
        while not world.org.calendar.is_business_day(start):
            start += dt.timedelta(days=1)
        length = int(clamp(budget / (3.0 * (2 if helper else 1)) * 1.4, 5, 60))
        estimated_end = _shift(world, start, length)
        slip = rng.randint(1, 15) if rng.random() < 0.35 else -rng.randint(0, 3)
        actual_end = max(_shift(world, estimated_end, slip), _shift(world, start, 3))
        schedule = world.org.calendar.business_days(start, actual_end + dt.timedelta(days=1))
        phases, begin, reached = [], 0, 0.0
        for k, (phase, share) in enumerate(PROJECT_PHASES):
            reached += share
            last_phase = k == len(PROJECT_PHASES) - 1
            stop = len(schedule) if last_phase else min(len(schedule), max(begin + 1, round(len(schedule) * reached)))
            first = min(begin, len(schedule) - 1)
            ticket_id = str(IDS.project_ticket_base + index * 10 + k)
            phases.append(Phase(phase, ticket_id, schedule[first], schedule[max(stop - 1, first)]))
            begin = stop
        projects.append(
            SimProject(
                index=index,
                external_id=str(1000 + index),
                client=client,
                name=f"{client.name} - {name}",
                lead=lead,
                helper=helper,
                manager=world.org.managers[team.index],
                start=start,
                estimated_end=estimated_end,
                actual_end=actual_end,
                budget_hours=budget,
                hours=round(budget * lognormal(rng, 1.03, 0.2), 1),
                fixed_fee=rng.random() < 0.6,
                phases=tuple(phases),
            )
        )
    return projects


def project_work(world: World, project: SimProject) -> list[Record]:
    """Every session of work on the project (visible or not yet logged)."""
    rng = derive(world.seed, "project-work", project.index)
    days = world.org.calendar.business_days(project.start, project.actual_end + dt.timedelta(days=1))
    crew = [(project.lead, 0.7 if project.helper else 1.0)] + ([(project.helper, 0.3)] if project.helper else [])
    entries, k = [], 0
    for day in days:
        phase = next((p for p in project.phases if p.start <= day <= p.end), project.phases[-1])
        for person, share in crew:
            calendar = world.org.person_calendar(person)
            spans = calendar.intervals_on(day)
            if not spans or not person.employed_on(day):
                continue
            hours = clamp(rng.gauss(project.hours * share / len(days), 0.5), 0.25, 7.0)
            start = whole_seconds(spans[0][0] + dt.timedelta(minutes=rng.choice((60, 300))))
            end = start + dt.timedelta(minutes=round(hours * 4) * 15)
            entered = whole_seconds(end + entry_delay(rng, person.diligence))
            entries.append(
                time_entry(
                    IDS.project_entry_base + project.index * 10_000 + k,
                    person,
                    start,
                    end,
                    "Project Work",
                    entered,
                    billable=not project.fixed_fee,
                    ticket_id=phase.ticket_id,
                    project_id=project.external_id,
                    client_id=project.client.external_id,
                    notes=f"{project.name}: {phase.name}",
                    hourly_rate=catalog.PROJECT_RATE,
                )
            )
            k += 1
    return entries


def materialise(world: World, project: SimProject) -> tuple[Record, list[Record], list[Record], list[Record]]:
    """(project, phase tickets, their events, time entries) as seen at "now"."""
    now = world.now
    today = world.org.calendar.local_day(now - dt.timedelta(seconds=1))
    entries = [e for e in project_work(world, project) if e.data["entered_at"] <= now]
    done = project.actual_end <= today
    hours = round(sum(e.data["hours"] for e in entries), 2)
    rate = catalog.PROJECT_RATE * 100
    status = "Completed" if done else "In Progress"
    data = {
        "external_id": project.external_id,
        "name": project.name,
        "client_external_id": project.client.external_id,
        "manager_external_id": project.manager.member_id,
        "status": status,
        "estimated_end": project.estimated_end,
        "actual_end": project.actual_end if done else None,
        "budget_hours": project.budget_hours,
        "actual_hours": hours,
        "billable_minor": round((project.budget_hours if project.fixed_fee else hours) * rate),
        "currency": catalog.TENANT["currency"],
        "vendor_updated_at": max([world.at_local(project.start, 9 * 60), *(e.data["entered_at"] for e in entries)]),
    }
    vendor = {
        "board": "Professional Services",
        "closed": done,
        "estimated_start": project.start,
        "actual_start": project.start,
        "billing_method": "FixedFee" if project.fixed_fee else "ActualRates",
        "estimated_hours": project.budget_hours,
        "lead_identifier": project.lead.identifier,
        "percent_complete": 100 if done else round(min(99.0, 100 * hours / max(project.hours, 1))),
        "phases": [{"name": p.name, "ticket_external_id": p.ticket_id} for p in project.phases],
    }
    tickets, events = [], []
    for phase in project.phases:
        record, phase_events = _phase_ticket(world, project, phase, entries)
        tickets.append(record)
        events.extend(phase_events)
    return Record("project", data, vendor), tickets, events, entries


def _phase_ticket(
    world: World, project: SimProject, phase: Phase, entries: list[Record]
) -> tuple[Record, list[Record]]:
    now = world.now
    created = world.at_local(project.start, 8 * 60 + 30)
    started = world.at_local(phase.start, 9 * 60)
    finished = world.at_local(phase.end, 17 * 60)
    steps = [(started, "New", "In Progress"), (finished, "In Progress", "Completed")]
    seen = [step for step in steps if step[0] <= now]
    status = seen[-1][2] if seen else "New"
    category = BOARDS["Professional Services"].status(status).category
    logged = [e for e in entries if e.data["ticket_external_id"] == phase.ticket_id]
    data: dict[str, Any] = {
        "external_id": phase.ticket_id,
        "number": phase.ticket_id,
        "summary": f"{project.name}: {phase.name}"[:500],
        "client_external_id": project.client.external_id,
        "contact_external_id": None,
        "board": "Professional Services",
        "type": "Project",
        "subtype": phase.name,
        "item": None,
        "priority": PRIORITIES[2].name,
        "impact": PRIORITIES[2].impact,
        "weight": None,
        "source": "Schedule",
        "status": status,
        "status_category": category,
        "closed": category == "closed",
        "created_at": created,
        "first_response_at": None,
        "resolved_at": finished if category == "closed" else None,
        "closed_at": finished if category == "closed" else None,
        "sla_response_due_at": None,
        "sla_resolution_due_at": None,
        "sla_response_met": None,
        "sla_resolution_met": None,
        "sla_source": None,
        "owner_external_id": project.lead.member_id,
        "resolved_by_external_id": project.lead.member_id if category == "closed" else None,
        "tier": None,
        "parent_external_id": None,
        "merged": False,
        "is_project": True,
        "configuration_external_id": None,
        "root_cause_documented_at": None,  # the simulated MSP files no Problem tickets to analyse
        "vendor_updated_at": seen[-1][0] if seen else created,
    }
    vendor = {
        "record_type": "ProjectTicket",
        "project_external_id": project.external_id,
        "phase": phase.name,
        "board_id": BOARDS["Professional Services"].id,
        "resources": [project.lead.identifier],
        "actual_hours": round(sum(e.data["hours"] for e in logged), 2),
        "company_identifier": project.client.identifier,
    }
    events = [
        Record(
            "ticket_event",
            {
                "ticket_external_id": phase.ticket_id,
                "kind": "status_change",
                "at": at,
                "actor_external_id": project.lead.member_id,
                "from_value": before,
                "to_value": after,
                "source": "audit",
            },
        )
        for at, before, after in seen
    ]
    return Record("ticket", data, vendor), events
