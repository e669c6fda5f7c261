"""A tiny hand-made MSP, written out row by row, whose metrics are computed by hand in the tests.

Tenant "acme" in America/New_York (weeks start Monday, fiscal year in January), business
hours Monday–Friday 09:00–17:00 (8 h, 40 h a week), Good Friday 2024-03-29 a holiday.
US daylight saving starts on Sunday 2024-03-10. Every time below is New York local time.

People: Ana (Engineer L1, Help Desk all March, 40 h/week, $104,000 a year → $50 an hour)
and Ben (Engineer L2, employed from 2024-03-04, 32 h/week, team Projects until 03-16 and
Help Desk from then on, no compensation on file). Identities: Ana's and Ben's (linked), a
workflow account (not a person) and "ghost" (a person, never linked).

Tickets (clients: Acme has an RMM twin "Acme RMM" linked to it; Beta; the MSP itself):

===  ======================  ======================  ========  ==================================
 #   created                 first resolution         resolver  notes
===  ======================  ======================  ========  ==================================
T1   Fri 03-08 16:00         Mon 03-11 10:00          Ana       weekend + DST between: 2 business h
T2   Tue 03-12 09:00         Tue 03-12 13:00          Ana       closed by workflow 03-15; 2 entries
T3   Wed 03-13 09:00         Thu 03-14 11:00          Ben       multi-resource (Ana 2 h, Ben 1 h): 10 h
T4   Mon 03-18 10:00         Mon 03-18 12:00 (event)  Ben       reopened 04-05 (after 7 and 14 days)
T5   Tue 03-19 09:00         Tue 03-19 10:00 (event)  Ana       reopened 03-22, resolved again 03-25
T6   Wed 03-20 09:00         Wed 03-20 09:05          Ana       RMM alert board: out of scope
T7   Wed 03-20 10:00         Wed 03-20 11:00          Ana       the MSP's own company: out of scope
T8   Tue 03-26 09:00         Tue 03-26 09:30          workflow  owner Ben → Ben; no time
T9   Wed 03-27 09:00         (open)                   —         owner Ana; response due 10:00, none
T10  Wed 03-27 09:00         Wed 03-27 11:00          ghost     unlinked: counts for the company only
===  ======================  ======================  ========  ==================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from podium.models import (
    Agreement,
    Availability,
    Budget,
    Calendar,
    Client,
    ClientLink,
    ClientResponsibility,
    Connection,
    Endpoint,
    EndpointStatus,
    Holiday,
    Identity,
    Invoice,
    Mapping,
    Person,
    PersonFact,
    Project,
    Survey,
    Team,
    TeamMembership,
    Tenant,
    Ticket,
    TicketEvent,
    TimeEntry,
)

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2024, 4, 10, 16, 0, tzinfo=dt.timezone.utc)
"""The engine's clock in these tests."""


def ny(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2024) -> dt.datetime:
    """A New York wall-clock time as an aware UTC datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(dt.timezone.utc)


@dataclass
class World:
    """Ids of what :func:`build` wrote, by name."""

    tenant_id: int
    connection_id: int
    ids: dict[str, int] = field(default_factory=dict)
    counter: int = 0

    def __getitem__(self, name: str) -> int:
        return self.ids[name]

    def ext(self) -> str:
        self.counter += 1
        return f"x{self.counter}"


def tenant(session: Session, slug: str = "acme") -> Tenant:
    row = Tenant(slug=slug, name=slug.title(), time_zone="America/New_York", week_start=0,
                 fiscal_year_start_month=1, currency="USD")
    session.add(row)
    session.flush()
    return row


def add(session: Session, world: World, name: str | None, obj: Any) -> Any:
    if hasattr(obj, "tenant_id") and obj.tenant_id is None:
        obj.tenant_id = world.tenant_id
    if hasattr(obj, "connection_id") and getattr(obj, "connection_id", None) is None and hasattr(obj, "external_id"):
        obj.connection_id = world.connection_id
    if hasattr(obj, "external_id") and obj.external_id is None:
        obj.external_id = world.ext()
    session.add(obj)
    session.flush()
    if name:
        world.ids[name] = obj.id
    return obj


def ticket(session: Session, world: World, name: str, **values: Any) -> Ticket:
    defaults = {"number": name, "summary": name, "status": "Resolved", "status_category": "resolved",
                "board": "Service Desk", "type": "Incident"}
    return add(session, world, name, Ticket(**{**defaults, **values}))


AT_END = object()
"""``entered`` default: the entry was logged the moment it ended."""


def entry(session: Session, world: World, name: str | None, who: str, start: dt.datetime, hours: float,
          work_type: str = "Remote Support", entered: Any = AT_END, **values: Any) -> TimeEntry:
    end = start + dt.timedelta(hours=hours)
    return add(session, world, name, TimeEntry(identity_id=world[who], start_at=start, end_at=end, hours=hours,
                                               work_type=work_type, entered_at=end if entered is AT_END else entered,
                                               **values))


def build(session: Session, slug: str = "acme") -> World:
    """Write the world into ``session`` (unscoped or scoped to the new tenant)."""
    t = tenant(session, slug)
    conn = Connection(tenant_id=t.id, vendor="connectwise", name="CW", config_encrypted="x")
    session.add(conn)
    session.flush()
    w = World(t.id, conn.id)
    a = lambda name, obj: add(session, w, name, obj)  # noqa: E731

    cal = a("calendar", Calendar(name="Office", time_zone="America/New_York", kind="tenant",
                                 business_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}))
    a(None, Holiday(calendar_id=cal.id, day=dt.date(2024, 3, 29), name="Good Friday"))

    for kind, vendor, podium in (
        ("status", "Resolved", "resolved"), ("status", "Closed", "closed"), ("status", "In Progress", "open"),
        ("board", "RMM Alerts", "alert"), ("board", "Service Desk", "service"),
        ("work_type", "Remote Support", "billable"), ("work_type", "Proactive Maintenance", "productive"),
        ("work_type", "Admin", "internal"), ("work_type", "PTO", "pto"),
    ):
        a(None, Mapping(kind=kind, vendor_value=vendor, podium_value=podium, confirmed=True))
    a(None, Mapping(kind="work_type", vendor_value="Mystery", podium_value="billable", confirmed=False))

    ana = a("ana", Person(display_name="Ana", email="ana@acme.test"))
    ben = a("ben", Person(display_name="Ben", email="ben@acme.test", employed_from=dt.date(2024, 3, 4)))
    for who, person in (("ana", ana), ("ben", ben)):
        a(f"{who}_id", Identity(display_name=person.display_name, email=person.email, person_id=person.id,
                                link_method="email"))
    a("workflow_id", Identity(display_name="Workflow", is_person=False))
    a("ghost_id", Identity(display_name="Ghost", email="ghost@acme.test"))

    helpdesk, projects = a("helpdesk", Team(name="Help Desk")), a("projects", Team(name="Projects"))
    a(None, TeamMembership(person_id=ana.id, team_id=helpdesk.id, valid_from=dt.date(2024, 1, 1)))
    a(None, TeamMembership(person_id=ben.id, team_id=projects.id, valid_from=dt.date(2024, 3, 4),
                           valid_to=dt.date(2024, 3, 16)))
    a(None, TeamMembership(person_id=ben.id, team_id=helpdesk.id, valid_from=dt.date(2024, 3, 16)))
    for person, kind, values in (
        (ana, "role", {"value_text": "Engineer L1"}), (ben, "role", {"value_text": "Engineer L2"}),
        (ana, "capacity_hours_week", {"value_num": 40.0}), (ben, "capacity_hours_week", {"value_num": 32.0}),
        (ana, "compensation", {"value_int": 10_400_000, "currency": "USD"}),
    ):
        a(None, PersonFact(person_id=person.id, kind=kind, valid_from=dt.date(2024, 1, 1), **values))
    a(None, Availability(person_id=ana.id, day=dt.date(2024, 3, 15), kind="pto", hours=8))
    a(None, Availability(person_id=ana.id, day=dt.date(2024, 3, 20), kind="internal", hours=2))
    a(None, Availability(person_id=ben.id, day=dt.date(2024, 3, 29), kind="pto", hours=8))

    acme = a("acme", Client(name="Acme"))
    acme_rmm = a("acme_rmm", Client(name="Acme RMM"))
    beta = a("beta", Client(name="Beta"))
    msp = a("msp", Client(name="Us", is_internal=True))
    a(None, ClientLink(client_id=acme.id, linked_client_id=acme_rmm.id))
    for values in ({"client_id": acme.id, "person_id": ana.id},
                   {"client_id": beta.id, "person_id": ana.id, "share": 0.5},
                   {"client_id": beta.id, "person_id": ben.id, "share": 0.5},
                   {"client_id": beta.id, "team_id": helpdesk.id}):
        a(None, ClientResponsibility(valid_from=dt.date(2024, 1, 1), **values))

    ana_id, ben_id = w["ana_id"], w["ben_id"]
    ticket(session, w, "T1", client_id=acme.id, created_at=ny(3, 8, 16), resolved_at=ny(3, 11, 10),
           resolved_by_identity_id=ana_id, owner_identity_id=ana_id, first_response_at=ny(3, 8, 16, 30),
           sla_response_due_at=ny(3, 8, 17), sla_resolution_due_at=ny(3, 11, 9, 30))
    ticket(session, w, "T2", client_id=acme.id, created_at=ny(3, 12, 9), resolved_at=ny(3, 12, 13),
           closed_at=ny(3, 15, 0), closed=True, status="Closed", status_category="closed",
           resolved_by_identity_id=ana_id, owner_identity_id=ana_id, first_response_at=ny(3, 12, 9, 30),
           sla_response_due_at=ny(3, 12, 10), sla_response_met=True, sla_resolution_due_at=ny(3, 12, 17))
    ticket(session, w, "T3", client_id=beta.id, created_at=ny(3, 13, 9), resolved_at=ny(3, 14, 11),
           resolved_by_identity_id=ben_id, owner_identity_id=ben_id, first_response_at=ny(3, 13, 11),
           sla_response_due_at=ny(3, 13, 10), sla_response_met=False)
    ticket(session, w, "T4", client_id=beta.id, created_at=ny(3, 18, 10), resolved_at=None,
           status="In Progress", status_category="open", owner_identity_id=ben_id)
    ticket(session, w, "T5", client_id=acme.id, created_at=ny(3, 19, 9), resolved_at=ny(3, 25, 10),
           resolved_by_identity_id=ana_id, owner_identity_id=ana_id, first_response_at=ny(3, 19, 9, 15),
           sla_response_due_at=ny(3, 19, 10))
    ticket(session, w, "T6", client_id=acme.id, board="RMM Alerts", created_at=ny(3, 20, 9),
           resolved_at=ny(3, 20, 9, 5), resolved_by_identity_id=ana_id)
    ticket(session, w, "T7", client_id=msp.id, created_at=ny(3, 20, 10), resolved_at=ny(3, 20, 11),
           resolved_by_identity_id=ana_id)
    ticket(session, w, "T8", client_id=beta.id, created_at=ny(3, 26, 9), resolved_at=ny(3, 26, 9, 30),
           resolved_by_identity_id=w["workflow_id"], owner_identity_id=ben_id, first_response_at=ny(3, 26, 9, 10),
           sla_response_due_at=ny(3, 26, 10))
    ticket(session, w, "T9", client_id=acme.id, created_at=ny(3, 27, 9), status="New", status_category="open",
           owner_identity_id=ana_id, sla_response_due_at=ny(3, 27, 10))
    ticket(session, w, "T10", client_id=beta.id, created_at=ny(3, 27, 9), resolved_at=ny(3, 27, 11),
           resolved_by_identity_id=w["ghost_id"])

    def event(name: str, kind: str, at: dt.datetime, to_value: str = "") -> None:
        a(None, TicketEvent(connection_id=w.connection_id, ticket_id=w[name], kind=kind, at=at, to_value=to_value,
                            source="audit"))

    event("T3", "reassignment", ny(3, 13, 12), str(ben_id))
    event("T4", "status_change", ny(3, 18, 12), "Resolved")
    event("T4", "reopen", ny(4, 5, 9), "In Progress")
    event("T5", "status_change", ny(3, 19, 10), "Resolved")
    event("T5", "reopen", ny(3, 22, 9), "In Progress")
    event("T5", "status_change", ny(3, 25, 10), "Resolved")

    entry(session, w, "e1", "ana_id", ny(3, 11, 8, 30), 1.5, ticket_id=w["T1"], entered=ny(3, 11, 10, 30))
    entry(session, w, "e2", "ana_id", ny(3, 12, 9), 1.0, ticket_id=w["T2"], entered=ny(3, 12, 12))
    entry(session, w, "e3", "ana_id", ny(3, 12, 12), 0.5, ticket_id=w["T2"], entered=ny(3, 12, 12))
    entry(session, w, "e4", "ana_id", ny(3, 13, 9), 2.0, ticket_id=w["T3"], entered=ny(3, 13, 12))
    entry(session, w, "e5", "ana_id", ny(3, 19, 9), 1.0, ticket_id=w["T5"], entered=None)
    entry(session, w, "e6", "ana_id", ny(3, 20, 9), 2.0, work_type="Admin", entered=ny(3, 21, 9))
    entry(session, w, "e7", "ana_id", ny(3, 21, 9), 4.5, work_type="Proactive Maintenance")
    entry(session, w, "e8", "ana_id", ny(3, 22, 9), 3.0, rejected=True)
    entry(session, w, "e9", "ana_id", ny(3, 22, 13), 1.0, work_type="Mystery")
    entry(session, w, "b1", "ben_id", ny(3, 14, 9), 1.0, ticket_id=w["T3"])
    entry(session, w, "b2", "ben_id", ny(3, 18, 10), 1.0, ticket_id=w["T4"])
    entry(session, w, "b3", "ben_id", ny(3, 27, 9), 6.0)
    entry(session, w, "g1", "ghost_id", ny(3, 27, 9), 2.0, ticket_id=w["T10"])
    session.flush()

    def survey(name: str, at: dt.datetime, score: float, low: float, high: float, **values: Any) -> None:
        a(name, Survey(submitted_at=at, score=score, scale_min=low, scale_max=high, **values))

    survey("S1", ny(3, 11, 12), 3, 1, 3, ticket_id=w["T1"], identity_id=ana_id)
    survey("S2", ny(3, 15, 9), 4, 1, 5, ticket_id=w["T2"])
    survey("S3", ny(3, 15, 10), 2, 1, 5, ticket_id=w["T3"], identity_id=ben_id)
    survey("S4", ny(3, 20, 9), 10, 0, 10)
    survey("S5", ny(3, 21, 9), 1, 1, 3, ticket_id=w["T6"], identity_id=ana_id)
    survey("S6", ny(3, 22, 9), 5, 1, 5, ticket_id=w["T4"], identity_id=ben_id, positive=False)
    survey("S7", ny(3, 31, 23, 30), 3, 1, 3, ticket_id=w["T5"], identity_id=ana_id)
    survey("S8", ny(4, 1, 0, 30), 1, 1, 3, ticket_id=w["T5"], identity_id=ana_id)

    e1 = a("E1", Endpoint(client_id=acme_rmm.id, name="E1", device_class="workstation"))
    e2 = a("E2", Endpoint(client_id=acme_rmm.id, name="E2", device_class="workstation"))
    e3 = a("E3", Endpoint(client_id=beta.id, name="E3", device_class="server"))
    for endpoint, day, patch, av, backup in ((e1, 5, True, True, False), (e2, 5, False, True, None),
                                             (e3, 6, True, True, True)):
        a(None, EndpointStatus(endpoint_id=endpoint.id, day=dt.date(2024, 3, day), patch_ok=patch, av_ok=av,
                               backup_ok=backup))
    a(None, EndpointStatus(endpoint_id=e3.id, day=dt.date(2024, 4, 1), patch_ok=False, av_ok=False, backup_ok=False))

    def invoice(name: str, client: Client, day: int, total: int, currency: str = "USD") -> None:
        a(name, Invoice(client_id=client.id, number=name, invoice_date=dt.date(2024, 3, day), total_minor=total,
                        balance_minor=0, currency=currency))

    invoice("I1", acme, 1, 1_000_000)
    invoice("I2", beta, 15, 500_000)
    invoice("I3", beta, 20, -50_000)
    invoice("I4", beta, 21, 999_999, currency="EUR")
    a("A1", Agreement(client_id=acme.id, name="MSA", agreement_type="Managed Services", monthly_price_minor=900_000,
                      monthly_cost_minor=310_000, currency="USD", effective_from=dt.date(2024, 1, 1)))
    a("A2", Agreement(client_id=beta.id, name="MSA", agreement_type="Managed Services", monthly_price_minor=100_000,
                      monthly_cost_minor=62_000, currency="USD", effective_from=dt.date(2024, 3, 16),
                      cancelled_at=dt.date(2024, 3, 26)))
    a(None, Budget(period_start=dt.date(2024, 1, 1), period_end=dt.date(2024, 4, 1), line="gross_margin",
                   target_minor=2_730_000, currency="USD"))
    a(None, Budget(period_start=dt.date(2024, 3, 1), period_end=dt.date(2024, 4, 1), line="project_billables",
                   target_minor=500_000, currency="USD"))

    a("P1", Project(name="P1", client_id=acme.id, manager_identity_id=ana_id, estimated_end=dt.date(2024, 3, 20),
                    actual_end=dt.date(2024, 3, 18), billable_minor=200_000, currency="USD"))
    a("P2", Project(name="P2", client_id=beta.id, manager_identity_id=ben_id, estimated_end=dt.date(2024, 3, 10),
                    actual_end=dt.date(2024, 3, 12), billable_minor=100_000, currency="USD"))
    a("P3", Project(name="P3", client_id=beta.id, manager_identity_id=ben_id, actual_end=dt.date(2024, 3, 25),
                    billable_minor=50_000, currency="USD"))
    a("P4", Project(name="P4", client_id=beta.id, manager_identity_id=ben_id, estimated_end=dt.date(2024, 3, 30),
                    billable_minor=70_000, currency="USD"))
    session.flush()
    return w
