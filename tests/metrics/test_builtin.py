"""Every built-in metric against figures computed by hand from the world in ``world.py``.

March 2024, New York. Person 1 is Ana, person 2 is Ben; team 1 is Help Desk (Ana all
month, Ben from 03-16), team 2 Projects (Ben 03-04 … 03-15); client 1 is Acme, 3 is
Beta. The arithmetic is written next to each expectation. Each test runs on SQLite and
on PostgreSQL (the ``database_url`` fixture), with the same expectations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from podium.db import Database
from podium.metrics.engine import MetricEngine
from podium.metrics.periods import Period
from tests.metrics.world import World

MARCH = Period("month", dt.date(2024, 3, 1), dt.date(2024, 4, 1))
APRIL = Period("month", dt.date(2024, 4, 1), dt.date(2024, 5, 1))


def figures(engine: MetricEngine, db: Database, world: World, key: str, grain: str,
            period: Period = MARCH, **params: Any) -> dict[str, tuple[float, float, float | None]]:
    """subject → (numerator, denominator, value)."""
    with db.session(world.tenant_id) as session:
        values = engine.compute(session, world.tenant_id, key, grain, period, params or None)
    return {v.subject: (v.numerator, v.denominator, v.value) for v in values}


def value_of(found: dict[str, tuple[float, float, float | None]], subject: str) -> float | None:
    return found[subject][2]


def approx(value: float) -> Any:
    return pytest.approx(value, abs=1e-6)


def test_fcr_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # Ana resolved T1 (one entry, hers → 1), T2 (two entries → 0), T5 (reopened 3 days after → 0).
    # Ben: T3 (Ana and Ben logged time → 0), T4 (one entry, reopened after 18 days → 1),
    # T8 (resolved by a workflow, owned by Ben; no time at all → 0). T10's resolver is unlinked.
    person = figures(engine, db, world, "fcr_pct", "person")
    assert person == {"1": (1, 3, approx(100 / 3)), "2": (1, 3, approx(100 / 3))}
    # Help Desk: Ana's three + Ben's T4 and T8 (after he joined) → 2/5; Projects: T3 → 0/1.
    assert figures(engine, db, world, "fcr_pct", "team") == {"1": (2, 5, 40.0), "2": (0, 1, 0.0)}
    # The company also counts T10 (no one to credit): 2/7. Out of scope: T6 (alert board), T7 (own company).
    assert value_of(figures(engine, db, world, "fcr_pct", "company"), "") == approx(200 / 7)
    # A 20-day window makes T4's reopen (18 days after its first resolution) count against it.
    assert figures(engine, db, world, "fcr_pct", "person", reopen_window_days=20)["2"][:2] == (0, 3)


def test_mttr_business_hours(engine: MetricEngine, db: Database, world: World) -> None:
    # T1: Fri 16:00 → Mon 10:00 across a weekend and the DST change: 1 h + 1 h = 2 h.
    # T2 4 h; T5 1 h (first resolution, not the later re-resolution). Ana: 7 h / 3.
    # T3 Wed 09:00 → Thu 11:00 = 8 + 2 = 10 h; T4 2 h (first resolution from its history); T8 0.5 h.
    person = figures(engine, db, world, "mttr_business_hours", "person")
    assert person == {"1": (7 * 3600, 3, approx(7 / 3)), "2": (12.5 * 3600, 3, approx(12.5 / 3))}
    # Company: + T10 2 h → 21.5 h / 7 tickets.
    assert value_of(figures(engine, db, world, "mttr_business_hours", "company"), "") == approx(21.5 / 7)
    # Shared credit: T3 splits between Ana and Ben (5 h over 0.5 ticket each); T8 and T10 have
    # no time, so they stay with their resolver (Ben; nobody).
    shared = figures(engine, db, world, "mttr_business_hours", "person", credit="shared")
    assert shared == {"1": (12 * 3600, 3.5, approx(12 / 3.5)), "2": (7.5 * 3600, 2.5, approx(3.0))}
    # Only a ticket type that does not exist: no tickets, so no figures.
    assert figures(engine, db, world, "mttr_business_hours", "person", ticket_types=["Change"]) == {}


def test_reopen_rate_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # T5 reopened 3 days after Ana first resolved it; T4's reopen came 18 days after (outside 14).
    person = figures(engine, db, world, "reopen_rate_pct", "person")
    assert person == {"1": (1, 3, approx(100 / 3)), "2": (0, 3, 0.0)}
    assert figures(engine, db, world, "reopen_rate_pct", "person", reopen_window_days=30)["2"][:2] == (1, 3)


def test_sla_met_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # Response — Ana: T1 met (16:30 ≤ 17:00), T2 met (vendor flag), T5 met, T9 still open and
    # past its 10:00 due time on 03-27: a breach, counted in March while the ticket is open.
    # Ben: T3 breached (vendor flag), T8 met (owner Ben; its resolver is a workflow account).
    person = figures(engine, db, world, "sla_response_met_pct", "person")
    assert person == {"1": (3, 4, 75.0), "2": (1, 2, 50.0)}
    # Help Desk: Ana 3/4 + Ben's T8 (03-26) → 4/5; Projects: T3's breach (due 03-13) → 0/1.
    assert figures(engine, db, world, "sla_response_met_pct", "team") == {"1": (4, 5, 80.0), "2": (0, 1, 0.0)}
    # Resolution: T1 first resolved 10:00, due 09:30 → breach; T2 13:00 ≤ 17:00 → met.
    assert figures(engine, db, world, "sla_resolution_met_pct", "person") == {"1": (1, 2, 50.0)}


def test_sla_breach_counts_when_it_happens(engine: MetricEngine, db: Database, world: World) -> None:
    # Before T9's due time passes the open ticket does not count at all.
    early = MetricEngine(engine.podium, clock=lambda: dt.datetime(2024, 3, 27, 13, 30, tzinfo=dt.timezone.utc))
    with db.session(world.tenant_id) as session:
        values = early.compute(session, world.tenant_id, "sla_response_met_pct", "person", MARCH, None, ["1"])
    assert (values[0].numerator, values[0].denominator) == (3, 3)


def test_csat_positive_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # Ana: S1 (3 of 1–3), S2 (4 of 1–5 = 0.75, unattributed → its ticket's resolver), S7
    # (03-31 23:30 New York = 04-01 03:30 UTC: still March). Ben: S3 (2 of 1–5), S6 (5 of 5
    # but the vendor says negative). S4 has no ticket and no person: company only. S5 is on
    # an alert-board ticket: out of scope.
    assert figures(engine, db, world, "csat_positive_pct", "person") == {"1": (3, 3, 100.0), "2": (0, 2, 0.0)}
    assert figures(engine, db, world, "csat_positive_pct", "company") == {"": (4, 6, approx(400 / 6))}
    assert figures(engine, db, world, "csat_positive_pct", "client") == {"1": (3, 3, 100.0), "3": (0, 2, 0.0)}
    # S8, 04-01 00:30 New York, is April's.
    assert figures(engine, db, world, "csat_positive_pct", "person", APRIL) == {"1": (0, 1, 0.0)}
    # A stricter threshold makes S2 (0.75) negative.
    assert figures(engine, db, world, "csat_positive_pct", "person", positive_threshold=0.8)["1"][:2] == (2, 3)


def test_productive_utilization_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # Ana: 40 h/week on a 40 h calendar = 8 h a business day. March has 21 weekdays, minus
    # Good Friday = 20 → 160 h, minus 8 h PTO (03-15) and 2 h internal duty (03-20) = 150 h.
    # Productive (billable + productive work types): e1 1.5, e2 1, e3 0.5, e4 2, e5 1, e7 4.5
    # = 10.5 h; the Admin entry is internal, e8 is rejected, "Mystery" is mapped but unconfirmed.
    # Ben: 32 h/week = 6.4 h a day, employed from 03-04: 19 business days = 121.6 h; his PTO
    # on Good Friday takes nothing more. Productive 1 + 1 + 6 = 8 h.
    person = figures(engine, db, world, "productive_utilization_pct", "person")
    assert person == {"1": (10.5, 150, 7.0), "2": (8, approx(121.6), approx(800 / 121.6))}
    # Help Desk: Ana + Ben from 03-16 (9 business days = 57.6 h; 7 h productive).
    # Projects: Ben 03-04 … 03-15 (10 days = 64 h; 1 h).
    team = figures(engine, db, world, "productive_utilization_pct", "team")
    assert team == {"1": (17.5, approx(207.6), approx(1750 / 207.6)), "2": (1, approx(64), approx(100 / 64))}
    # Clients have worked hours but no capacity: no data, not 0 %.
    assert figures(engine, db, world, "productive_utilization_pct", "client") == {
        "1": (4, 0, None), "3": (6, 0, None),
    }
    # Billed-hours basis: no entry has billed hours, so the actual hours stand in.
    assert figures(engine, db, world, "productive_utilization_pct", "person", hours_basis="billed")["1"][0] == 10.5


def test_time_entry_timeliness_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # Ana: e1 30 min late → on time; e2 2 h → late; e3 logged before its end (clamped) → on
    # time; e4 exactly 60 min → on time; e5 has no entry time → not counted; e6 a day → late;
    # e7, e9 at their end → on time; e8 rejected → not counted. 5 of 7.
    person = figures(engine, db, world, "time_entry_timeliness_pct", "person")
    assert person == {"1": (5, 7, approx(500 / 7)), "2": (3, 3, 100.0)}
    # Within 30 minutes e4 is late as well; within 180 only e6 is.
    assert figures(engine, db, world, "time_entry_timeliness_pct", "person", within_minutes=30)["1"][:2] == (4, 7)
    assert figures(engine, db, world, "time_entry_timeliness_pct", "person", within_minutes=180)["1"][:2] == (6, 7)
    # The company also has the unlinked identity's entry (on time): 9 of 11.
    assert figures(engine, db, world, "time_entry_timeliness_pct", "company") == {"": (9, 11, approx(900 / 11))}


def test_endpoint_metrics(engine: MetricEngine, db: Database, world: World) -> None:
    # Acme (through its linked RMM twin): E1 patch ✓ av ✓ backup ✗, E2 patch ✗ av ✓ backup
    # unknown → 3 of 5 checks. Beta: E3 all ✓ → 3 of 3 (its April failure is April's).
    assert figures(engine, db, world, "endpoint_integrity_pct", "client") == {"1": (3, 5, 60.0), "3": (3, 3, 100.0)}
    # Ana answers for Acme (share 1) and half of Beta: (3 + 1.5) / (5 + 1.5); Ben for half of Beta.
    person = figures(engine, db, world, "endpoint_integrity_pct", "person")
    assert person == {"1": (4.5, 6.5, approx(450 / 6.5)), "2": (1.5, 1.5, 100.0)}
    # Help Desk answers for Beta as a team; Projects for nothing.
    assert figures(engine, db, world, "endpoint_integrity_pct", "team") == {"1": (3, 3, 100.0)}
    assert figures(engine, db, world, "patch_compliance_pct", "client") == {"1": (1, 2, 50.0), "3": (1, 1, 100.0)}
    assert figures(engine, db, world, "backup_success_pct", "client") == {"1": (0, 1, 0.0), "3": (1, 1, 100.0)}
    assert figures(engine, db, world, "av_coverage_pct", "company") == {"": (3, 3, 100.0)}
    assert figures(engine, db, world, "endpoint_integrity_pct", "client", APRIL) == {"3": (0, 3, 0.0)}


def test_gross_margin_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # Revenue 1,000,000 + 500,000 − 50,000 (credit note) = 1,450,000 (the EUR invoice is left out).
    # Agreement cost: Acme 310,000 a month, all March; Beta 62,000 a month for 03-16 … 03-25
    # (cancelled 03-26): 10/31 → 20,000. Labour: Ana's 13.5 live hours × $50 = 67,500 (Ben has
    # no compensation on file). Margin 1,052,500.
    assert figures(engine, db, world, "gross_margin_pct", "company") == {
        "": (1_052_500, 1_450_000, approx(1_052_500 / 14_500)),
    }
    assert value_of(figures(engine, db, world, "gross_margin_pct", "company", include_labour=False), "") == approx(
        1_120_000 / 14_500
    )
    # Acme: 1,000,000 − 310,000 − labour on Acme tickets (e1, e2, e3, e5: 4 h → 20,000) = 670,000.
    # Beta: 450,000 − 20,000 − 10,000 (e4) = 420,000. Ana: Acme + half of Beta.
    client = figures(engine, db, world, "gross_margin_pct", "client")
    assert client == {"1": (670_000, 1_000_000, 67.0), "3": (420_000, 450_000, approx(420_000 / 4_500))}
    assert figures(engine, db, world, "gross_margin_pct", "person")["1"] == (880_000, 1_225_000,
                                                                            approx(880_000 / 12_250))


def test_gross_margin_attainment_pct(engine: MetricEngine, db: Database, world: World) -> None:
    # The Q1 budget of 2,730,000 over 91 days is 30,000 a day: 930,000 for March.
    assert figures(engine, db, world, "gross_margin_attainment_pct", "company") == {
        "": (1_052_500, approx(930_000), approx(1_052_500 / 9_300)),
    }
    # Budgets are company-wide: a person has a margin but no target — no data, not 0.
    assert figures(engine, db, world, "gross_margin_attainment_pct", "person")["1"] == (880_000, 0, None)
    quarter = Period("quarter", dt.date(2024, 1, 1), dt.date(2024, 4, 1))
    assert figures(engine, db, world, "gross_margin_attainment_pct", "company", quarter)[""][1] == approx(2_730_000)


def test_project_metrics(engine: MetricEngine, db: Database, world: World) -> None:
    # P1 (Ana) finished 03-18, due 03-20 → on time; P2 (Ben) finished 03-12, due 03-10 → late;
    # P3 has no estimated end; P4 is not finished.
    assert figures(engine, db, world, "projects_on_time_pct", "company") == {"": (1, 2, 50.0)}
    assert figures(engine, db, world, "projects_on_time_pct", "person") == {"1": (1, 1, 100.0), "2": (0, 1, 0.0)}
    # Billables of P1 + P2 + P3 = 350,000 against the March budget of 500,000.
    assert figures(engine, db, world, "project_billables_attainment_pct", "company") == {"": (350_000, 500_000, 70.0)}
