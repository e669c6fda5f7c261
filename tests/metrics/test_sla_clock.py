"""SLA due times Podium computes where the vendor gives none, and the SLA metrics on them.

A hand-made tenant in New York (every time below is New York wall-clock time). SLA
"Standard" runs on the tenant calendar, Monday–Friday 09:00–17:00 with Good Friday
(2024-03-29) a holiday; "Premium" on its own 24×7 ``sla`` calendar. US daylight saving
starts on Sunday 2024-03-10. Targets (business hours, response / resolution):

* Standard, any board, any priority: 1 / 8;  Standard, priority P1: 0.5 / 4;
* Premium, board VIP: 1 / 4.

The status "Waiting on Customer" is mapped to ``waiting``. Every ticket is Tess's.

====  ===================  =====================================  ==============================
 #    created              what happens                            due (response; resolution)
====  ===================  =====================================  ==============================
W1    Fri 03-08 16:00      responded 16:30, resolved Mon 15:00    Fri 17:00; Mon 03-11 16:00 EDT
                           (weekend + DST change between)         (1 h Friday + 7 h Monday)
H1    Thu 03-28 15:00 P1   responded 15:20, resolved Mon 04-01    Thu 15:30; Mon 04-01 11:00
                           10:30 (Good Friday + weekend between)  (2 h Thursday + 2 h Monday)
P1    Tue 03-12 09:00      responded 09:30; waiting Tue 10:00 →   Tue 10:00; Wed 03-13 17:00
                           Wed 10:00; resolved Wed 16:00          (1 h + paused 8 business h + 7 h)
B1    Mon 03-25 09:00      nothing, still open                    Mon 10:00; Mon 17:00: breaches
                                                                  in March while open
B2    Sun 03-31 20:00      nothing, still open                    Mon 04-01 10:00; 17:00: April's
V1    Tue 03-19 09:00      vendor's response due 09:15,           09:15 (vendor); Tue 17:00
                           responded 09:30, resolved 12:00
VIP   Sat 03-16 10:00 VIP  responded 10:45, resolved 15:00        Sat 11:00; Sat 14:00 (24×7)
WO    Wed 03-27 09:00      responded 09:20; waiting from 09:30,   Wed 10:00; none (clock stopped)
                           still waiting
====  ===================  =====================================  ==============================
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from podium.db import Database
from podium.metrics import sla_clock
from podium.metrics.builtin import plugin
from podium.metrics.changes import refresh_tenant
from podium.metrics.engine import MetricEngine
from podium.metrics.periods import Period
from podium.metrics.sla_clock import Target, due_at, match, pauses_of
from podium.models import (
    Calendar,
    Connection,
    Holiday,
    Identity,
    Mapping,
    Person,
    SlaTarget,
    Ticket,
    TicketEvent,
    TicketSlaClock,
)
from podium.org.calendars import ALL_HOURS, BusinessCalendar
from podium.runtime import Podium
from tests.metrics.world import NOW, tenant
from tests.metrics.world import ny as _ny

MARCH = Period("month", dt.date(2024, 3, 1), dt.date(2024, 4, 1))
APRIL = Period("month", dt.date(2024, 4, 1), dt.date(2024, 5, 1))
WAITING = "Waiting on Customer"


def ny(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return _ny(month, day, hour, minute)


def build(db: Database) -> dict[str, int]:
    """Write the tenant of the module docstring; returns ids by name."""
    ids: dict[str, int] = {}
    with db.session() as session:
        t = tenant(session, "sla")
        ids["tenant"] = t.id
        conn = Connection(tenant_id=t.id, vendor="connectwise", name="CW", config_encrypted="x")
        session.add(conn)
        session.flush()
        ids["connection"] = conn.id
        office = Calendar(tenant_id=t.id, name="Office", time_zone="America/New_York", kind="tenant",
                          business_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
        premium = Calendar(tenant_id=t.id, name="Premium", time_zone="America/New_York", kind="sla",
                           business_hours=ALL_HOURS)
        session.add_all([office, premium])
        session.flush()
        session.add(Holiday(tenant_id=t.id, calendar_id=office.id, day=dt.date(2024, 3, 29), name="Good Friday"))
        session.add_all([
            SlaTarget(tenant_id=t.id, sla="Standard", response_hours=1, resolution_hours=8),
            SlaTarget(tenant_id=t.id, sla="Standard", priority="P1", response_hours=0.5, resolution_hours=4),
            SlaTarget(tenant_id=t.id, sla="Premium", board="VIP", response_hours=1, resolution_hours=4),
            Mapping(tenant_id=t.id, kind="status", vendor_value=WAITING, podium_value="waiting", confirmed=True),
        ])
        tess = Person(tenant_id=t.id, display_name="Tess", email="tess@sla.test")
        session.add(tess)
        session.flush()
        ids["tess"] = tess.id
        identity = Identity(tenant_id=t.id, connection_id=conn.id, external_id="m1", display_name="Tess",
                            person_id=tess.id, link_method="manual")
        session.add(identity)
        session.flush()

        def ticket(name: str, created: dt.datetime, **values: Any) -> None:
            row = Ticket(tenant_id=t.id, connection_id=conn.id, external_id=name, number=name, summary=name,
                         board=values.pop("board", "Service Desk"), priority=values.pop("priority", "P3"),
                         status="Resolved" if values.get("resolved_at") else "New",
                         status_category="resolved" if values.get("resolved_at") else "open",
                         created_at=created, owner_identity_id=identity.id,
                         resolved_by_identity_id=identity.id if values.get("resolved_at") else None, **values)
            session.add(row)
            session.flush()
            ids[name] = row.id

        ticket("W1", ny(3, 8, 16), first_response_at=ny(3, 8, 16, 30), resolved_at=ny(3, 11, 15))
        ticket("H1", ny(3, 28, 15), priority="P1", first_response_at=ny(3, 28, 15, 20), resolved_at=ny(4, 1, 10, 30))
        ticket("P1", ny(3, 12, 9), first_response_at=ny(3, 12, 9, 30), resolved_at=ny(3, 13, 16))
        ticket("B1", ny(3, 25, 9))
        ticket("B2", ny(3, 31, 20))
        ticket("V1", ny(3, 19, 9), first_response_at=ny(3, 19, 9, 30), resolved_at=ny(3, 19, 12),
               sla_response_due_at=ny(3, 19, 9, 15), sla_source="vendor")
        ticket("VIP", ny(3, 16, 10), board="VIP", first_response_at=ny(3, 16, 10, 45), resolved_at=ny(3, 16, 15))
        ticket("WO", ny(3, 27, 9), first_response_at=ny(3, 27, 9, 20))
        for name, at, status in (("P1", ny(3, 12, 10), WAITING), ("P1", ny(3, 13, 10), "In Progress"),
                                 ("WO", ny(3, 27, 9, 30), WAITING)):
            session.add(TicketEvent(tenant_id=t.id, connection_id=conn.id, ticket_id=ids[name], kind="status_change",
                                    at=at, to_value=status, source="audit"))
    return ids


@pytest.fixture
def sla(db: Database) -> dict[str, int]:
    return build(db)


def clocks(db: Database, ids: dict[str, int]) -> dict[str, TicketSlaClock]:
    names = {v: k for k, v in ids.items() if k not in ("tenant", "connection", "tess")}
    with db.session(ids["tenant"]) as session:
        return {names[row.ticket_id]: row for row in session.scalars(select(TicketSlaClock))}


def figures(runtime: Podium, ids: dict[str, int], key: str, period: Period, at: dt.datetime = NOW,
            grain: str = "person") -> list[tuple[str, float, float]]:
    engine = MetricEngine(runtime, clock=lambda: at)
    with runtime.db.session(ids["tenant"]) as session:
        return [(v.subject, v.numerator, v.denominator) for v in engine.compute(session, ids["tenant"], key, grain,
                                                                                 period)]


def test_due_times_across_a_weekend_dst_a_holiday_and_a_waiting_pause(runtime: Podium, sla: dict[str, int]) -> None:
    with runtime.db.session(sla["tenant"]) as session:
        changed = sla_clock.update_clocks(session, sla["tenant"], now=NOW)
    assert changed == {sla[name] for name in ("W1", "H1", "P1", "B1", "B2", "V1", "VIP", "WO")}
    got = {name: (row.response_due_at, row.resolution_due_at, row.response_source, row.resolution_source, row.sla)
           for name, row in clocks(runtime.db, sla).items()}
    assert got == {
        "W1": (ny(3, 8, 17), ny(3, 11, 16), "podium", "podium", "Standard"),
        "H1": (ny(3, 28, 15, 30), ny(4, 1, 11), "podium", "podium", "Standard"),
        "P1": (ny(3, 12, 10), ny(3, 13, 17), "podium", "podium", "Standard"),
        "B1": (ny(3, 25, 10), ny(3, 25, 17), "podium", "podium", "Standard"),
        "B2": (ny(4, 1, 10), ny(4, 1, 17), "podium", "podium", "Standard"),
        "V1": (ny(3, 19, 9, 15), ny(3, 19, 17), "vendor", "podium", "Standard"),
        "VIP": (ny(3, 16, 11), ny(3, 16, 14), "podium", "podium", "Premium"),
        "WO": (ny(3, 27, 10), None, "podium", "podium", "Standard"),
    }
    # Friday 16:00 EST is 21:00 UTC, Monday 16:00 EDT is 20:00 UTC: 8 business hours, 71 clock hours.
    assert got["W1"][1] - ny(3, 8, 16) == dt.timedelta(hours=71)
    waited = {name: row.waiting_seconds for name, row in clocks(runtime.db, sla).items()}
    assert waited["P1"] == 8 * 3600  # Tue 10:00–17:00 and Wed 09:00–10:00
    # Still waiting at NOW (Wed 04-10 12:00 EDT): Wed 03-27 from 09:30, Thu, (Good Friday), seven
    # working days of April and Wed 04-10 until 12:00.
    assert waited["WO"] == (7.5 + 8 + 7 * 8 + 3) * 3600
    with runtime.db.session(sla["tenant"]) as session:
        assert sla_clock.update_clocks(session, sla["tenant"], now=NOW - dt.timedelta(hours=1)) == {sla["WO"]}
        assert sla_clock.update_clocks(session, sla["tenant"], now=NOW - dt.timedelta(hours=1)) == set()


def test_sla_metrics_use_podiums_due_times_and_count_breaches_when_they_happen(
    runtime: Podium, sla: dict[str, int]
) -> None:
    tess = str(sla["tess"])
    assert figures(runtime, sla, "sla_response_met_pct", MARCH) == [(tess, 0.0, 1.0)]  # only V1's vendor due
    with runtime.db.session(sla["tenant"]) as session:
        sla_clock.update_clocks(session, sla["tenant"], now=NOW)
    # Response, March: W1, H1, P1, VIP, WO met; B1 (open) and V1 (vendor due 09:15) breached.
    assert figures(runtime, sla, "sla_response_met_pct", MARCH) == [(tess, 5.0, 7.0)]
    # B2 was created in March but breached on 1 April: April's.
    assert figures(runtime, sla, "sla_response_met_pct", APRIL) == [(tess, 0.0, 1.0)]
    # Resolution, March: W1, P1 (thanks to the pause), V1 met; B1 (open) and VIP (24×7) breached.
    assert figures(runtime, sla, "sla_resolution_met_pct", MARCH) == [(tess, 3.0, 5.0)]
    assert figures(runtime, sla, "sla_resolution_met_pct", APRIL) == [(tess, 1.0, 2.0)]  # H1 met, B2 breached


def test_time_alone_turns_an_open_ticket_into_a_breach(runtime: Podium, sla: dict[str, int]) -> None:
    """B1's response was due Monday 03-25 10:00: at 09:30 it does not count yet, at 10:30 it
    is March's breach; the periodic refresh moves a tracked figure accordingly."""
    tess = str(sla["tess"])
    march_25 = Period("day", dt.date(2024, 3, 25), dt.date(2024, 3, 26))
    with runtime.db.session(sla["tenant"]) as session:
        sla_clock.update_clocks(session, sla["tenant"], now=ny(3, 25, 9, 30))
    assert figures(runtime, sla, "sla_response_met_pct", march_25, at=ny(3, 25, 9, 30)) == []
    assert figures(runtime, sla, "sla_response_met_pct", march_25, at=ny(3, 25, 10, 30)) == [(tess, 0.0, 1.0)]

    before = MetricEngine(runtime, clock=lambda: ny(3, 25, 9, 30))
    with runtime.db.session(sla["tenant"]) as session:
        before.track(session, sla["tenant"], "sla_response_met_pct", "person", "month", "pod:test",
                     dt.date(2024, 3, 1))
        assert [(v.numerator, v.denominator) for v in before.values(
            session, sla["tenant"], "sla_response_met_pct", "person", MARCH)] == [(5.0, 6.0)]
    changed = refresh_tenant(runtime, sla["tenant"], MetricEngine(runtime, clock=lambda: ny(3, 25, 10, 30)))
    assert [(v.subject, v.numerator, v.denominator) for v in changed if v.grain == "person"] == [(tess, 5.0, 7.0)]


def test_a_synced_waiting_event_moves_the_due_time_and_the_tracked_figure(
    runtime: Podium, sla: dict[str, int]
) -> None:
    """Without P1's waiting events its resolution was due Tuesday 17:00 and breached; once
    they sync, the recompute job moves the due time to Wednesday 17:00: met."""
    tess = str(sla["tess"])
    with runtime.db.session(sla["tenant"]) as session:
        events = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == sla["P1"])))
        keys = [f"P1|status_change|{e.at.isoformat()}|{e.to_value}" for e in events]
        for event in events:
            session.delete(event)
    engine = MetricEngine(runtime, clock=lambda: NOW)
    with runtime.db.session(sla["tenant"]) as session:
        engine.track(session, sla["tenant"], "sla_resolution_met_pct", "person", "month", "pod:test",
                     dt.date(2024, 3, 1))
    refresh_tenant(runtime, sla["tenant"], engine)
    assert clocks(runtime.db, sla)["P1"].resolution_due_at == ny(3, 12, 17)
    with runtime.db.session(sla["tenant"]) as session:
        assert [(v.numerator, v.denominator) for v in engine.values(
            session, sla["tenant"], "sla_resolution_met_pct", "person", MARCH)] == [(2.0, 5.0)]
        for event in events:
            session.add(TicketEvent(tenant_id=event.tenant_id, connection_id=event.connection_id,
                                    ticket_id=event.ticket_id, kind=event.kind, at=event.at,
                                    to_value=event.to_value, source="audit"))
    plugin.recompute_metrics(runtime, tenant_id=sla["tenant"], connection_id=sla["connection"],
                             entity="ticket_event", external_ids=keys)
    assert clocks(runtime.db, sla)["P1"].resolution_due_at == ny(3, 13, 17)
    with runtime.db.session(sla["tenant"]) as session:
        assert [(v.subject, v.numerator, v.denominator) for v in engine.values(
            session, sla["tenant"], "sla_resolution_met_pct", "person", MARCH)] == [(tess, 3.0, 5.0)]


def test_clocks_follow_the_targets(runtime: Podium, sla: dict[str, int]) -> None:
    """Without the Premium target VIP falls back to Standard (created on a Saturday: due
    Monday 10:00 and 17:00); without any target only the vendor's due time is left."""
    with runtime.db.session(sla["tenant"]) as session:
        sla_clock.update_clocks(session, sla["tenant"], now=NOW)
        for target in session.scalars(select(SlaTarget).where(SlaTarget.sla == "Premium")):
            session.delete(target)
        assert sla_clock.update_clocks(session, sla["tenant"], now=NOW) == {sla["VIP"]}
    vip = clocks(runtime.db, sla)["VIP"]
    assert (vip.sla, vip.response_due_at, vip.resolution_due_at) == ("Standard", ny(3, 18, 10), ny(3, 18, 17))
    with runtime.db.session(sla["tenant"]) as session:
        for target in session.scalars(select(SlaTarget)):
            session.delete(target)
        sla_clock.update_clocks(session, sla["tenant"], now=NOW)
    left = {name: (row.response_due_at, row.response_source, row.resolution_due_at, row.resolution_source, row.sla)
            for name, row in clocks(runtime.db, sla).items()}
    assert left == {"V1": (ny(3, 19, 9, 15), "vendor", None, None, None)}


# -- the clock itself ----------------------------------------------------------------------


def test_the_most_specific_target_wins() -> None:
    targets = [Target("any", None, None, 1, 8), Target("p1", None, "P1", 0.5, 4), Target("vip", "VIP", None, 1, 4),
               Target("vip-p1", "VIP", "P1", 0.25, 2)]
    assert match(targets, "Desk", "P3").sla == "any"
    assert match(targets, "Desk", "P1").sla == "p1"
    assert match(targets, "VIP", "P3").sla == "vip"
    assert match(targets, "VIP", "P1").sla == "vip-p1"
    assert match(targets[1:], "Desk", "P3") is None


def test_pauses_and_an_open_pause() -> None:
    calendar = BusinessCalendar("America/New_York")  # Mon–Fri 08:00–17:00
    changes = [(ny(3, 12, 12), "In Progress"), (ny(3, 12, 10), WAITING), (ny(3, 12, 11), WAITING)]
    pauses = pauses_of(changes, {WAITING})
    assert pauses == [(ny(3, 12, 10), ny(3, 12, 12))]
    assert due_at(calendar, ny(3, 12, 8), 4, pauses) == ny(3, 12, 14)
    assert due_at(calendar, ny(3, 12, 8), 1, pauses) == ny(3, 12, 9)  # due before the pause: unaffected
    still = pauses_of([(ny(3, 12, 10), WAITING)], {WAITING})
    assert due_at(calendar, ny(3, 12, 8), 4, still) is None
    # A stage done before the pause ended is judged on the clock up to then.
    assert due_at(calendar, ny(3, 12, 8), 4, still, done=ny(3, 12, 11)) == ny(3, 12, 13)
