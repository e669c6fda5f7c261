"""``first_touch_pct`` on hand-made tickets (figures worked out below) and on the simulated
MSP (against a reference computed in Python from the same rows).

These tests use only the fixtures Podium's pytest plugin provides (``podium_tenant``,
``podium_world``): no conftest is needed once Podium and this package are installed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from podium.metrics import MetricParamsError
from podium.models import Client, Identity, Mapping, Ticket
from podium.testing import PodiumWorld
from sqlalchemy import select

UTC = dt.timezone.utc


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


def minutes(start: dt.datetime, later: int) -> dt.datetime:
    return start + dt.timedelta(minutes=later)


@pytest.fixture
def desk(podium_tenant: PodiumWorld) -> dict[str, int]:
    """Tenant "acme" (UTC; business hours Mon–Fri 08:00–17:00, the default calendar), clock
    at 2025-03-01 00:00 UTC.

    ====  =====  ==================  =============  ========  =========================
     #    owner  created             first response  priority  30-minute target
    ====  =====  ==================  =============  ========  =========================
    T1    Ana    Mon 01-06 09:00     +10 min         P1        met
    T2    Ana    Tue 01-07 09:00     +45 min         P1        missed
    T3    Ana    Wed 01-08 09:00     +30 min         P1        met (bound inclusive)
    T4    Ana    Thu 01-09 09:00     never           P1        missed (overdue)
    T5    Ana    Mon 01-13 09:00     +60 min         P4        missed
    T6    Ben    Fri 01-10 10:00     +5 min          P1        met
    T7    Ben    Fri 01-17 16:50     Mon 09:15       P1        missed (wall clock)
    T8    Ben    project ticket      +5 min          P1        not counted
    T9    —      Sat 01-11 10:00     +5 min          P1        met (company only)
    T10   Ben    Mon 02-03 09:00     +20 min         P1        met (February)
    T11   Ben    Fri 02-28 23:50     never           P1        not yet due at 00:00
    ====  =====  ==================  =============  ========  =========================
    """
    w = podium_tenant
    ana, ana_identity = w.technician("Ana")
    ben, ben_identity = w.technician("Ben")

    def ticket(owner: int | None, created: dt.datetime, response: int | dt.datetime | None, priority: str = "P1",
               **values: object) -> int:
        first = minutes(created, response) if isinstance(response, int) else response
        return w.ticket(created_at=created, first_response_at=first, owner_identity_id=owner, priority=priority,
                        **values)

    ticket(ana_identity, at(1, 6, 9), 10)
    ticket(ana_identity, at(1, 7, 9), 45)
    ticket(ana_identity, at(1, 8, 9), 30)
    ticket(ana_identity, at(1, 9, 9), None)
    ticket(ana_identity, at(1, 13, 9), 60, priority="P4")
    ticket(ben_identity, at(1, 10, 10), 5)
    ticket(ben_identity, at(1, 17, 16, 50), at(1, 20, 9, 15))
    ticket(ben_identity, at(1, 14, 9), 5, is_project=True)
    ticket(None, at(1, 11, 10), 5)
    ticket(ben_identity, at(2, 3, 9), 20)
    ticket(ben_identity, at(2, 28, 23, 50), None)
    return {"ana": ana, "ben": ben}


def figures(world: PodiumWorld, period: str, **params: object) -> dict[str, tuple[float, float]]:
    return {subject: (v.numerator, v.denominator)
            for subject, v in world.compute("first_touch_pct", period, params=params or None).items()}


def test_wall_clock_figures_by_hand(podium_tenant: PodiumWorld, desk: dict[str, int]) -> None:
    ana, ben = str(desk["ana"]), str(desk["ben"])
    # Ana: T1, T3 met of T1–T5 → 2/5 = 40 %; Ben: T6 met, T7 missed → 1/2 (T8 is a project ticket).
    assert figures(podium_tenant, "month:2025-01") == {ana: (2.0, 5.0), ben: (1.0, 2.0)}
    company = podium_tenant.compute("first_touch_pct", "month:2025-01", grain="company")[""]  # one subject
    # 2 + 1 + T9 (no owner: it counts for the company) of 5 + 2 + 1.
    assert (company.numerator, company.denominator) == (4.0, 8.0) and company.value == 50.0


def test_parameters_change_the_definition(podium_tenant: PodiumWorld, desk: dict[str, int]) -> None:
    ana, ben = str(desk["ana"]), str(desk["ben"])
    # 60 minutes: T2 (45) and T5 (60, inclusive) are now in time.
    assert figures(podium_tenant, "month:2025-01", target_minutes=60)[ana] == (4.0, 5.0)
    # Only P1: T5 leaves Ana's denominator.
    assert figures(podium_tenant, "month:2025-01", priorities=["P1"])[ana] == (2.0, 4.0)
    # Business hours (08:00–17:00): T7 took 10 min on Friday + 75 min on Monday = 85 → still
    # missed at 30 and met at 90, where wall clock (64 h 25 min) misses it.
    assert figures(podium_tenant, "month:2025-01", business_hours=True)[ben] == (1.0, 2.0)
    assert figures(podium_tenant, "month:2025-01", business_hours=True, target_minutes=90)[ben] == (2.0, 2.0)
    assert figures(podium_tenant, "month:2025-01", target_minutes=90)[ben] == (1.0, 2.0)
    with pytest.raises(MetricParamsError, match="target_minutes"):
        podium_tenant.compute("first_touch_pct", "month:2025-01", params={"target_minutes": 0})


def test_an_untouched_ticket_counts_once_its_target_has_passed(podium_tenant: PodiumWorld,
                                                               desk: dict[str, int]) -> None:
    ben = str(desk["ben"])
    # At 00:00 T11 is 10 minutes old: not counted yet, February is T10 alone.
    assert figures(podium_tenant, "month:2025-02") == {ben: (1.0, 1.0)}
    podium_tenant.now = at(3, 1, 0, 21)  # 31 minutes old: missed
    assert figures(podium_tenant, "month:2025-02") == {ben: (1.0, 2.0)}


def test_matches_a_python_reference_on_the_simulated_msp(podium_world: PodiumWorld) -> None:
    """Every technician's January figure, recounted in Python from the stored tickets (the
    tenant's default scope: no merged or child tickets, none of the MSP's own company,
    none on boards mapped to the "alert" kind)."""
    zone = ZoneInfo(podium_world.world.tenant["time_zone"])
    start = dt.datetime(2025, 1, 1, tzinfo=zone)
    end = dt.datetime(2025, 2, 1, tzinfo=zone)
    met: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    with podium_world.session() as session:
        people = select(Identity.id, Identity.person_id).where(Identity.is_person.is_(True))
        person_of = dict(session.execute(people).all())
        internal = set(session.scalars(select(Client.id).where(Client.is_internal.is_(True))))
        alert_boards = set(session.scalars(select(Mapping.vendor_value).where(
            Mapping.kind == "board", Mapping.podium_value == "alert", Mapping.confirmed.is_(True))))
        for t in session.scalars(select(Ticket).where(Ticket.is_project.is_(False), Ticket.merged.is_(False),
                                                      Ticket.parent_external_id.is_(None))):
            person = person_of.get(t.owner_identity_id)
            if person is None or not start <= t.created_at < end or t.client_id in internal or t.board in alert_boards:
                continue
            touched = t.first_response_at
            if touched is None and podium_world.now - t.created_at <= dt.timedelta(minutes=30):
                continue
            counted[str(person)] += 1
            met[str(person)] += touched is not None and touched - t.created_at <= dt.timedelta(minutes=30)
    computed = podium_world.compute("first_touch_pct", "month:2025-01")
    assert sum(counted.values()) > 100, "the simulated month should have plenty of tickets"
    assert {s: (v.numerator, v.denominator) for s, v in computed.items()} == {
        s: (float(met[s]), float(counted[s])) for s in counted}
