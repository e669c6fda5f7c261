"""The simulated MSP world: a seeded, deterministic generator every simulator renders.

``World(preset("default"))`` is about 25 technicians in 3 teams, 60 clients and 90 days
of work; ``preset("large")`` is 300 technicians, 600 clients and a year (about a million
tickets and time entries). Only the org, the clients and their agreements, endpoints and
projects are built up front (they are small); tickets, their events, time entries,
surveys, invoices and daily endpoint statuses are generators, produced on demand and
never held, so the large world streams in constant memory.

Every record is a :class:`~podium.simulate.records.Record`: canonical fields in
``data`` (valid for :mod:`podium.schemas.canonical`), vendor-facing facts in ``vendor``.
``docs/simulated_msp.md`` describes the shape for vendor simulator authors.

The same config always gives the same world: every stream draws from its own generator
derived from the seed (:mod:`podium.simulate.streams`), and dates are fixed by
``start`` rather than by today's date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from podium.org.calendars import BusinessCalendar
from podium.simulate import billing, catalog, daily, projects, tickets
from podium.simulate.catalog import GRADES, IDS, SLAS
from podium.simulate.clients import (
    SimClient,
    SimEndpoint,
    agreement_record,
    agreements,
    build_clients,
    endpoint_record,
    endpoint_statuses,
    endpoints_of,
)
from podium.simulate.org import Org, SimPerson
from podium.simulate.records import Record, time_entry
from podium.simulate.streams import derive
from podium.simulate.tickets import Story, client_weights, weighted

ENTITIES = (
    "identity", "client", "project", "agreement", "invoice", "payment", "endpoint", "endpoint_status",
    "ticket", "ticket_event", "time_entry", "survey",
)  # fmt: skip
"""Canonical entities a world produces, references first."""


@dataclass(frozen=True)
class WorldConfig:
    """The scale knobs. ``tickets_per_tech_day`` is tickets opened per employed
    non-manager per business day; ``status_days`` limits daily endpoint statuses to the
    last N days (None = every day), which keeps a year of a large MSP's RMM history loadable."""

    seed: int = 7
    technicians: int = 25
    clients: int = 60
    days: int = 90
    tickets_per_tech_day: float = 3.0
    start: dt.date = dt.date(2025, 1, 6)
    status_days: int | None = None

    def __post_init__(self) -> None:
        limits = {"technicians": (6, 999), "clients": (1, 1300), "days": (1, 3660)}
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        if not 0 < self.tickets_per_tech_day <= 50:
            raise ValueError(f"tickets_per_tech_day must be above 0 and at most 50, got {self.tickets_per_tech_day!r}")
        if self.status_days is not None and self.status_days < 1:
            raise ValueError(f"status_days must be at least 1, got {self.status_days!r}")


PRESETS = {
    "default": WorldConfig(),
    "large": WorldConfig(technicians=300, clients=600, days=365, tickets_per_tech_day=4.8, status_days=30),
}


def preset(name: str, **overrides: Any) -> WorldConfig:
    """A preset's config with some knobs changed (``preset("default", seed=3)``)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


class World:
    """One simulated MSP; every ``*()`` method below is a fresh, lazy stream of records."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        self.seed = self.config.seed
        self.start = self.config.start
        self.end = self.start + dt.timedelta(days=self.config.days)
        self.tenant = dict(catalog.TENANT)
        self.org = Org(self.seed, self.config.technicians, self.start, self.end)
        self.now = self.org.calendar.local_time(self.end, 0)
        """The world's "now": local midnight at its end; nothing later has happened yet."""
        self.clients: list[SimClient] = build_clients(self.seed, self.config.clients, self.org, self.start, self.end)
        self.agreement_lines = agreements(self.seed, self.clients, self.start, self.end)
        self.managed_agreement = {
            line.client.external_id: line.external_id
            for line in self.agreement_lines
            if line.type in ("Managed Services", "Block Hours")
        }
        backed_up = {line.client.external_id for line in self.agreement_lines if line.type == "Backup as a Service"}
        self.endpoints_by_client: dict[str, list[SimEndpoint]] = {
            c.external_id: endpoints_of(self.seed, c, c.external_id in backed_up, self.start, self.end)
            for c in self.clients
        }
        self._weights = client_weights(self.clients, endpoints=False)
        self._endpoint_weights = client_weights(self.clients, endpoints=True)
        self._sla_calendars = {
            sla.name: (
                BusinessCalendar(self.tenant["time_zone"], catalog.PREMIUM_HOURS, [])
                if sla.calendar
                else self.org.calendar
            )
            for sla in SLAS.values()
        }
        self.contractor = self._contractor()
        self.projects = projects.build_projects(self)

    # -- helpers the streams share ---------------------------------------------------------

    workflow_id = str(IDS.workflow_member)
    rmm_id = str(IDS.rmm_member)

    def _contractor(self) -> SimPerson:
        """A subcontractor with a vendor account but no Person: their time stays unattributed."""
        return SimPerson(
            key=IDS.contractor_member - IDS.first_member,
            first="Pat",
            last="Contractor",
            identifier="pcontractor",
            email="pat@contractor-help.example",
            grade="L2",
            team=0,
            time_zone=self.tenant["time_zone"],
            employed_from=self.start - dt.timedelta(days=365),
            employed_to=None,
            hired_at=self.start,
            capacity=8.0,
            salary=0,
            diligence=0.5,
            skill=0.5,
            pace=1.0,
            warmth=0.9,
        )

    def days(self) -> Iterator[dt.date]:
        day = self.start
        while day < self.end:
            yield day
            day += dt.timedelta(days=1)

    def at_local(self, day: dt.date, minutes: int) -> dt.datetime:
        """``day`` at ``minutes`` past midnight in the MSP's time zone, as UTC."""
        return self.org.calendar.local_time(day, minutes)

    def sla_calendar(self, name: str) -> BusinessCalendar:
        return self._sla_calendars[name]

    def pick_client(self, rng: random.Random, *, endpoints: bool = False) -> SimClient:
        return weighted(rng, self.clients, self._endpoint_weights if endpoints else self._weights)

    def identifier_of(self, member_id: str | None) -> str | None:
        """The member ``identifier`` behind an identity external id."""
        return self._identifiers.get(member_id) if member_id else None

    @cached_property
    def _identifiers(self) -> dict[str, str]:
        return {record.data["external_id"]: record.data["vendor_key"] for record in self.identities()}

    @cached_property
    def billable_by_month(self) -> dict[tuple[str, dt.date], int]:
        """(client, month) → billable time in minor units (one pass over the tickets)."""
        return billing.billable_by_month(self)

    @cached_property
    def bills(self) -> list[billing.Bill]:
        return billing.bills(self)

    def project_records(self, project: projects.SimProject) -> tuple[Record, list[Record], list[Record], list[Record]]:
        return projects.materialise(self, project)

    # -- streams ---------------------------------------------------------------------------

    def identities(self) -> Iterator[Record]:
        """The PSA's members: every person, the workflow and RMM accounts, a contractor."""
        last_day = self.end - dt.timedelta(days=1)
        for person in self.org.people:
            grade = person.grade_on(last_day)
            manager = self.org.manager_on(person, last_day)
            yield Record(
                "identity",
                {
                    "external_id": person.member_id,
                    "vendor_key": person.identifier,
                    "email": person.email,
                    "display_name": person.display_name,
                    "is_person": True,
                    "raw": None,
                },
                {
                    "first_name": person.first,
                    "last_name": person.last,
                    "title": grade.title,
                    "license_class": "F",
                    "member_type": "person",
                    "inactive": person.employed_to is not None and person.employed_to < last_day,
                    "hire_date": person.hired_at,
                    "time_zone": person.time_zone,
                    "daily_capacity": person.capacity / 5,
                    "hourly_cost_minor": round(person.salary * 130 / 2080),
                    "hourly_rate_minor": grade.hourly_rate * 100,
                    "reports_to": manager.identifier if manager else None,
                    "work_role": grade.title,
                },
            )
        yield from self._system_members()

    def _system_members(self) -> Iterator[Record]:
        for member_id, identifier, name, kind in (
            (self.workflow_id, "Workflow", "Workflow Automation", "workflow"),
            (self.rmm_id, "NinjaRMM", "NinjaOne Integration", "api"),
        ):
            yield Record(
                "identity",
                {
                    "external_id": member_id,
                    "vendor_key": identifier,
                    "email": None,
                    "display_name": name,
                    "is_person": False,
                    "raw": None,
                },
                {
                    "first_name": name,
                    "last_name": "",
                    "title": name,
                    "license_class": "A",
                    "member_type": kind,
                    "inactive": False,
                },
            )
        c = self.contractor
        yield Record(
            "identity",
            {
                "external_id": c.member_id,
                "vendor_key": c.identifier,
                "email": c.email,
                "display_name": c.display_name,
                "is_person": True,
                "raw": None,
            },
            {
                "first_name": c.first,
                "last_name": c.last,
                "title": "Contractor",
                "license_class": "F",
                "member_type": "person",
                "inactive": False,
                "hire_date": c.hired_at,
                "time_zone": c.time_zone,
                "work_role": GRADES["L2"].title,
            },
        )

    def client_records(self) -> Iterator[Record]:
        plans = {"managed": "Managed", "block": "Block Hours", "break_fix": "Break Fix", "internal": "Internal"}
        for client in self.clients:
            yield Record(
                "client",
                {
                    "external_id": client.external_id,
                    "name": client.name,
                    "is_internal": client.internal,
                    "active": True,
                },
                {
                    "identifier": client.identifier,
                    "type": plans[client.plan],
                    "users": client.users,
                    "servers": client.servers,
                    "sla": client.sla,
                    "date_acquired": client.since,
                    "contacts": client.contacts,
                    "code": client.code,
                },
            )

    def agreement_records(self) -> Iterator[Record]:
        for line in self.agreement_lines:
            yield Record("agreement", *agreement_record(line, self.now))

    def invoices(self) -> Iterator[Record]:
        for invoice, _ in billing.invoice_records(self):
            yield invoice

    def payments(self) -> Iterator[Record]:
        for _, payments in billing.invoice_records(self):
            yield from payments

    def endpoints(self) -> Iterator[Record]:
        for devices in self.endpoints_by_client.values():
            for endpoint in devices:
                yield Record("endpoint", *endpoint_record(self.seed, endpoint, self.now))

    def endpoint_statuses(self) -> Iterator[Record]:
        """Daily health rows, endpoint by endpoint (``status_days`` limits the history)."""
        first = self.start
        if self.config.status_days is not None:
            first = max(self.start, self.end - dt.timedelta(days=self.config.status_days))
        for devices in self.endpoints_by_client.values():
            for endpoint in devices:
                for row in endpoint_statuses(self.seed, endpoint, first, self.end):
                    yield Record("endpoint_status", row)

    def project_stream(self) -> Iterator[Record]:
        for project in self.projects:
            yield self.project_records(project)[0]

    def stories(self) -> Iterator[Story]:
        """Service and alert tickets with their events, time entries and survey."""
        return tickets.stories(self)

    def tickets(self) -> Iterator[Record]:
        for story in self.stories():
            yield story.ticket
        for project in self.projects:
            yield from self.project_records(project)[1]

    def ticket_events(self) -> Iterator[Record]:
        for story in self.stories():
            yield from story.events
        for project in self.projects:
            yield from self.project_records(project)[2]

    def time_entries(self) -> Iterator[Record]:
        """Ticket time, project time, then each day's other time (PTO, internal, proactive)."""
        for story in self.stories():
            yield from story.time_entries
        for project in self.projects:
            yield from self.project_records(project)[3]
        yield from self.daily_entries()

    def daily_entries(self) -> Iterator[Record]:
        for index, day in enumerate(self.days()):
            for person in self.org.people:
                yield from daily.day_entries(self, index, day, person)
            yield from self._contractor_entries(index, day)

    def _contractor_entries(self, index: int, day: dt.date) -> Iterator[Record]:
        """Friday maintenance by the subcontractor (logged, but never anyone's to be paid for)."""
        if day.weekday() != 4 or not self.org.calendar.is_business_day(day):
            return
        rng = derive(self.seed, "contractor", index)
        start = self.at_local(day, 13 * 60)
        end = start + dt.timedelta(hours=3)
        entered = end + dt.timedelta(minutes=rng.uniform(1, 90))
        if entered <= self.now:
            yield time_entry(
                IDS.daily_entry_base + index * 10_000 + self.contractor.key * 10,
                self.contractor,
                start,
                end,
                "Proactive Maintenance",
                entered.replace(microsecond=0),
                notes="Server maintenance",
            )

    def surveys(self) -> Iterator[Record]:
        for story in self.stories():
            if story.survey is not None:
                yield story.survey

    def records(self, entity: str) -> Iterator[Record]:
        """The stream of one canonical entity."""
        streams = {
            "identity": self.identities,
            "client": self.client_records,
            "project": self.project_stream,
            "agreement": self.agreement_records,
            "invoice": self.invoices,
            "payment": self.payments,
            "endpoint": self.endpoints,
            "endpoint_status": self.endpoint_statuses,
            "ticket": self.tickets,
            "ticket_event": self.ticket_events,
            "time_entry": self.time_entries,
            "survey": self.surveys,
        }
        if entity not in streams:
            raise KeyError(f"unknown entity {entity!r}; one of {', '.join(ENTITIES)}")
        return streams[entity]()

    def org_rows(self, kind: str) -> list[dict[str, Any]]:
        """Org data in the CSV shape of :mod:`podium.org.csvio` (people, teams, facts …)."""
        return self.org.org_rows(kind, self.clients)
