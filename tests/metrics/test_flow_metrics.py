"""The ticket-flow metrics against figures computed by hand from the tiny world below.

Tenant "flow" in America/New_York, business hours Monday–Friday 09:00–17:00, Good Friday
2024-03-29 a holiday (March 2024 has 21 weekdays, so 20 business days). Ana (person 1)
and Ben (person 2) are both in Help Desk (team 1) all month; neither has a capacity fact
but Ana, whose 40 h a week is on file. Ana takes Friday 03-15 off (8 h of PTO) and the
morning of Monday 03-25 (4 h); Ben books PTO on Good Friday, which is no working day
anyway. Identities: Ana's (``m-ana``), Ben's (``m-ben``) and a workflow account
(``m-wf``, not a person). Times are New York wall-clock times.

===  ======  =======  =================  ============  ===========  =======  ==================  ========
 #   client  contact  type / subtype     config item   created      impact   first resolution    resolver
===  ======  =======  =================  ============  ===========  =======  ==================  ========
T1   Acme    c1       Network / VPN      —             Fri 03-08    4 (P1)   Mon 03-11 10:00     Ana
                                                       16:00
T2   Acme    c1       Network / VPN      —             Tue 03-12    2        Tue 03-12 11:00     Ana
                                                       09:00
T3   Beta    c2       Printer / Jam      —             Wed 03-13    3        Thu 03-14 11:00     Ben
                                                       09:00
T4   Beta    c2       Printer / Jam      —             Sat 03-30    2        Mon 04-01 09:30     Ben
                                                       10:00
T5   Acme    c1       Email              cfg-7         Mon 03-18    —        Mon 03-18 12:00     Ben
                                                       09:00                 (vendor weight 3)
T6   Acme    c1       Printer            cfg-7         Wed 03-20    1        Thu 03-21 10:00     Ana
                                                       09:00
T7   Acme    c9       Network / VPN      —             Wed 03-13    4 (P1)   Thu 03-14 10:00     Ana
                                                       18:00
T8   Beta    c3       Account            —             Thu 03-28    2        Fri 03-29 10:00     Ben
                                                       16:30                 (a holiday)
===  ======  =======  =================  ============  ===========  =======  ==================  ========

Events: T1 handed from Ben to Ana 03-11 09:00; T2 escalated by Ben 03-13 09:00 (after
its resolution); T3 escalated by Ana (tier 1 → 2) and handed from Ana to Ben 03-13
10:00; T5 handed from Ana to the workflow account 10:00 and from it to Ben 11:00.
"""

from __future__ import annotations

import datetime as dt

import pytest

from podium.db import Database
from podium.metrics import changes
from podium.metrics.base import MetricParamsError
from podium.metrics.engine import MetricEngine
from podium.metrics.periods import Period
from podium.models import (
    Availability,
    Calendar,
    Client,
    Connection,
    Holiday,
    Identity,
    Person,
    PersonFact,
    Team,
    TeamMembership,
    TicketEvent,
)
from tests.metrics.test_builtin import APRIL, MARCH, approx, figures
from tests.metrics.world import World, add, ny, tenant, ticket

WORKDAYS = {"mon", "tue", "wed", "thu", "fri"}
ANA_DAYS = 20 - 1 - 0.5
"""Ana's days worked in March: 20 business days, less a day and half a day of PTO."""
BEN_DAYS = 20
"""Ben's: all 20 business days (his PTO falls on the Good Friday holiday)."""


@pytest.fixture
def flow(db: Database) -> World:
    with db.session() as session:
        t = tenant(session, "flow")
        conn = Connection(tenant_id=t.id, vendor="connectwise", name="CW", config_encrypted="x")
        session.add(conn)
        session.flush()
        w = World(t.id, conn.id)

        def a(name: str | None, obj: object) -> object:
            return add(session, w, name, obj)

        cal = a("calendar", Calendar(name="Office", time_zone="America/New_York", kind="tenant",
                                     business_hours={d: [["09:00", "17:00"]] for d in WORKDAYS}))
        a(None, Holiday(calendar_id=cal.id, day=dt.date(2024, 3, 29), name="Good Friday"))

        ana = a("ana", Person(display_name="Ana", email="ana@flow.test"))
        ben = a("ben", Person(display_name="Ben", email="ben@flow.test"))
        a("ana_id", Identity(display_name="Ana", person_id=ana.id, link_method="email", external_id="m-ana"))
        a("ben_id", Identity(display_name="Ben", person_id=ben.id, link_method="email", external_id="m-ben"))
        a("wf_id", Identity(display_name="Workflow", is_person=False, external_id="m-wf"))
        helpdesk = a("helpdesk", Team(name="Help Desk"))
        for person in (ana, ben):
            a(None, TeamMembership(person_id=person.id, team_id=helpdesk.id, valid_from=dt.date(2024, 1, 1)))
        a(None, PersonFact(person_id=ana.id, kind="capacity_hours_week", value_num=40.0,
                           valid_from=dt.date(2024, 1, 1)))
        a(None, Availability(person_id=ana.id, day=dt.date(2024, 3, 15), kind="pto", hours=8))
        a(None, Availability(person_id=ana.id, day=dt.date(2024, 3, 25), kind="pto", hours=4))
        a(None, Availability(person_id=ana.id, day=dt.date(2024, 3, 26), kind="internal", hours=8))
        a(None, Availability(person_id=ben.id, day=dt.date(2024, 3, 29), kind="pto", hours=8))

        acme, beta = a("acme", Client(name="Acme")), a("beta", Client(name="Beta"))
        by = {"ana": w["ana_id"], "ben": w["ben_id"]}
        p1 = "Priority 1 - Critical"
        for name, client, contact, kind, sub, item, created, impact, resolved, who, extra in (
            ("T1", acme, "c1", "Network", "VPN", None, ny(3, 8, 16), 4, ny(3, 11, 10), "ana", {"priority": p1}),
            ("T2", acme, "c1", "Network", "VPN", None, ny(3, 12, 9), 2, ny(3, 12, 11), "ana", {}),
            ("T3", beta, "c2", "Printer", "Jam", None, ny(3, 13, 9), 3, ny(3, 14, 11), "ben", {}),
            ("T4", beta, "c2", "Printer", "Jam", None, ny(3, 30, 10), 2, ny(4, 1, 9, 30), "ben", {}),
            ("T5", acme, "c1", "Email", None, "cfg-7", ny(3, 18, 9), None, ny(3, 18, 12), "ben", {"weight": 3}),
            ("T6", acme, "c1", "Printer", None, "cfg-7", ny(3, 20, 9), 1, ny(3, 21, 10), "ana", {}),
            ("T7", acme, "c9", "Network", "VPN", None, ny(3, 13, 18), 4, ny(3, 14, 10), "ana", {"priority": p1}),
            ("T8", beta, "c3", "Account", None, None, ny(3, 28, 16, 30), 2, ny(3, 29, 10), "ben", {}),
        ):
            ticket(session, w, name, client_id=client.id, contact_external_id=contact, type=kind, subtype=sub,
                   configuration_external_id=item, created_at=created, impact=impact, resolved_at=resolved,
                   resolved_by_identity_id=by[who], owner_identity_id=by[who],
                   **{"priority": "Priority 3 - Medium", **extra})

        def event(name: str, kind: str, at: dt.datetime, before: str, after: str, actor: str) -> None:
            a(None, TicketEvent(connection_id=w.connection_id, ticket_id=w[name], kind=kind, at=at,
                                from_value=before, to_value=after, actor_identity_id=w[actor], source="audit"))

        event("T1", "reassignment", ny(3, 11, 9), "m-ben", "m-ana", "ben_id")
        event("T2", "escalation", ny(3, 13, 9), "1", "2", "ben_id")
        event("T3", "escalation", ny(3, 13, 10), "1", "2", "ana_id")
        event("T3", "reassignment", ny(3, 13, 10), "m-ana", "m-ben", "ana_id")
        event("T5", "reassignment", ny(3, 18, 10), "m-ana", "m-wf", "ana_id")
        event("T5", "reassignment", ny(3, 18, 11), "m-wf", "m-ben", "wf_id")
        return w


def test_escalation_rate_pct(engine: MetricEngine, db: Database, flow: World) -> None:
    # Charged to the escalator: Ana handled T1, T2, T6, T7 to the end and escalated T3 → 1/5.
    # Ben resolved T5 and T8; T2's escalation came after its resolution and does not count → 0/2.
    assert figures(engine, db, flow, "escalation_rate_pct", "person") == {"1": (1, 5, 20.0), "2": (0, 2, 0.0)}
    # Charged to the resolver instead: T3 is Ben's (1 of T3, T5, T8), Ana has none of her four.
    resolver = figures(engine, db, flow, "escalation_rate_pct", "person", charge_to="resolver")
    assert resolver == {"1": (0, 4, 0.0), "2": (1, 3, approx(100 / 3))}
    # Team values pool the members' records: 1 escalation among 7 tickets, not the mean of 20 % and 0 %.
    assert figures(engine, db, flow, "escalation_rate_pct", "team") == {"1": (1, 7, approx(100 / 7))}
    with pytest.raises(MetricParamsError, match="charge_to"):
        figures(engine, db, flow, "escalation_rate_pct", "person", charge_to="manager")


def test_reassignments_per_100(engine: MetricEngine, db: Database, flow: World) -> None:
    # T1 Ben → Ana (counts, Ana resolved it): 1 over Ana's 4 tickets → 25 per 100.
    # T3 Ana → Ben counts; T5's two hand-overs go through the workflow account, which is not
    # a person, so neither counts: 1 over Ben's 3 tickets.
    person = figures(engine, db, flow, "reassignments_per_100", "person")
    assert person == {"1": (1, 4, 25.0), "2": (1, 3, approx(100 / 3))}
    assert figures(engine, db, flow, "reassignments_per_100", "company") == {"": (2, 7, approx(200 / 7))}
    # Clients: Acme T1, T2, T5, T6, T7 (1 hand-over), Beta T3, T8 (1).
    assert figures(engine, db, flow, "reassignments_per_100", "client") == {
        "1": (1, 5, 20.0), "2": (1, 2, 50.0),
    }


def test_repeat_ticket_rate_pct(engine: MetricEngine, db: Database, flow: World) -> None:
    # T1 (resolved 03-11) came back as T2 (same client, contact, type and subtype, next day),
    # charged to Ana, who resolved T1. T5 came back as T6 (same configuration item, another
    # type), charged to Ben. T3's issue came back as T4 16 days later: outside 14 days.
    # T7 is the same issue as T2 a day later, but from another contact.
    person = figures(engine, db, flow, "repeat_ticket_rate_pct", "person")
    assert person == {"1": (1, 4, 25.0), "2": (1, 3, approx(100 / 3))}
    assert figures(engine, db, flow, "repeat_ticket_rate_pct", "person", within_days=20)["2"][:2] == (2, 3)
    assert figures(engine, db, flow, "repeat_ticket_rate_pct", "person", match_on=["type"])["2"][:2] == (0, 3)
    assert figures(engine, db, flow, "repeat_ticket_rate_pct", "person", same_contact=False)["1"][:2] == (2, 4)
    with pytest.raises(MetricParamsError, match="match_on"):
        figures(engine, db, flow, "repeat_ticket_rate_pct", "person", match_on=[])


def test_tickets_closed_per_day_worked(engine: MetricEngine, db: Database, flow: World) -> None:
    # Ana: 4 tickets over 18.5 days (20 business days less the PTO day and the PTO morning;
    # her internal-duty day is still a day worked). Ben: T3, T5 and T8 (resolved on the
    # holiday: the ticket counts, the day does not) over 20 days.
    person = figures(engine, db, flow, "tickets_closed_per_day_worked", "person")
    assert person == {"1": (4, ANA_DAYS, approx(4 / ANA_DAYS)), "2": (3, BEN_DAYS, 0.15)}
    # Help Desk pools both: 7 tickets over 38.5 days.
    team = figures(engine, db, flow, "tickets_closed_per_day_worked", "team")
    assert team == {"1": (7, ANA_DAYS + BEN_DAYS, approx(7 / (ANA_DAYS + BEN_DAYS)))}
    # Clients have tickets but no days worked: no data, never 0 or an error.
    assert figures(engine, db, flow, "tickets_closed_per_day_worked", "client") == {
        "1": (5, 0, None), "2": (2, 0, None),
    }
    # Ana's PTO day alone: no day worked and no ticket → no data; Ben worked it.
    pto_day = Period("custom", dt.date(2024, 3, 15), dt.date(2024, 3, 16))
    assert figures(engine, db, flow, "tickets_closed_per_day_worked", "person", pto_day) == {
        "1": (0, 0, None), "2": (0, 1, 0.0),
    }
    # Good Friday: nobody's working day; Ben's T8 resolved that day has no day to divide by.
    holiday = Period("custom", dt.date(2024, 3, 29), dt.date(2024, 3, 30))
    assert figures(engine, db, flow, "tickets_closed_per_day_worked", "person", holiday) == {"2": (1, 0, None)}
    # The weekend that T1 spans holds no working day either.
    weekend = Period("custom", dt.date(2024, 3, 9), dt.date(2024, 3, 11))
    assert figures(engine, db, flow, "tickets_closed_per_day_worked", "person", weekend) == {}


def test_same_day_close_pct(engine: MetricEngine, db: Database, flow: World) -> None:
    # Ana: T1 created Friday 16:00, resolved Monday across the weekend → no; T2 → yes; T6
    # (next day) → no; T7 created Wednesday 18:00, after hours, resolved Thursday 10:00 →
    # yes, Thursday is its business day. Ben: T3 → no; T5 → yes; T8 created Thursday 16:30,
    # resolved on the Good Friday holiday → no.
    person = figures(engine, db, flow, "same_day_close_pct", "person")
    assert person == {"1": (2, 4, 50.0), "2": (1, 3, approx(100 / 3))}
    # Counting calendar days only, T7 is not same-day.
    assert figures(engine, db, flow, "same_day_close_pct", "person", after_hours="calendar_day")["1"][:2] == (1, 4)
    # T4, created on Saturday 03-30 and resolved Monday 04-01 09:30, the first business day after.
    assert figures(engine, db, flow, "same_day_close_pct", "person", APRIL) == {"2": (1, 1, 100.0)}
    assert figures(engine, db, flow, "same_day_close_pct", "person", APRIL, after_hours="calendar_day") == {
        "2": (0, 1, 0.0),
    }


def test_weighted_ticket_volume(engine: MetricEngine, db: Database, flow: World) -> None:
    # Default weights by impact: ≥ 4 → 2, ≥ 3 → 1.5, else 1; times the vendor's own weight.
    # Ana: T1 2 + T2 1 + T6 1 + T7 2 = 6 over 4 tickets. Ben: T3 1.5 + T5 3 (vendor weight,
    # no impact) + T8 1 = 5.5 over 3.
    person = figures(engine, db, flow, "weighted_ticket_volume", "person")
    assert person == {"1": (6, 4, 1.5), "2": (5.5, 3, approx(5.5 / 3))}
    # Named priorities win over impact; type weights multiply: T1 and T7 (P1 network) 5 × 2,
    # T2 (a network ticket) 1 × 2, T6 1 → 23. Without the vendor weight Ben's T5 counts 1.
    tuned = figures(engine, db, flow, "weighted_ticket_volume", "person",
                    priority_weights={"Priority 1 - Critical": 5}, type_weights={"Network": 2},
                    use_ticket_weight=False)
    assert tuned == {"1": (23, 4, 5.75), "2": (3.5, 3, approx(3.5 / 3))}
    # Empty weight tables count every ticket 1 (the vendor weight still applies).
    assert figures(engine, db, flow, "weighted_ticket_volume", "company", impact_weights={})[""][:2] == (9, 7)
    with pytest.raises(MetricParamsError, match="type_weights"):
        figures(engine, db, flow, "weighted_ticket_volume", "person", type_weights={"Network": -1})


def test_zero_denominators_give_no_data(engine: MetricEngine, db: Database, flow: World) -> None:
    # A period in which nobody resolved anything has no figures at all, rates or sums.
    february = Period("month", dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    for key in ("escalation_rate_pct", "reassignments_per_100", "repeat_ticket_rate_pct", "same_day_close_pct",
                "weighted_ticket_volume"):
        assert figures(engine, db, flow, key, "person", february) == {}, key
    # Days worked without tickets: a rate of 0, not no data.
    assert figures(engine, db, flow, "tickets_closed_per_day_worked", "person", february) == {
        "1": (0, 21, 0.0), "2": (0, 21, 0.0),
    }


def test_a_repeat_recomputes_the_first_tickets_period(engine: MetricEngine, db: Database, flow: World) -> None:
    # The look-back window: a ticket created on 03-27 about T6's configuration item makes T6
    # (resolved 03-21, a week earlier) a repeat, so Ana's figure of that earlier week moves.
    with db.session(flow.tenant_id) as session:
        engine.track(session, flow.tenant_id, "repeat_ticket_rate_pct", "person", "week", "plan:test",
                     dt.date(2024, 3, 1))
    with db.session(flow.tenant_id) as session:
        new = ticket(session, flow, "T9", client_id=flow["acme"], contact_external_id="c1", type="Hardware",
                     configuration_external_id="cfg-7", created_at=ny(3, 27, 9), status="New",
                     status_category="open")
        key = new.external_id
    changed = changes.records_changed(engine.podium, flow.tenant_id, flow.connection_id, "ticket", [key], engine)
    assert [(v.subject, str(v.period), v.numerator, v.denominator) for v in changed] == [
        ("1", "week:2024-03-18", 1, 1)]
