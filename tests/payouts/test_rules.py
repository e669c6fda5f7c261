"""Each built-in rule type at its edges, to the cent. Amounts in comments are derived by hand."""

from __future__ import annotations

import datetime as dt

from podium.models import (
    Client,
    ClientResponsibility,
    Connection,
    Invoice,
    Payment,
    SnapshotLine,
)
from podium.payouts import close
from sqlalchemy import select

from tests.payouts.conftest import D, World, amounts

HEAD = """\
plan: {key}
title: {key}
currency: USD
period: {period}
participants:
{participants}
rules:
"""


def plan_text(key: str, rules: str, *, period: str = "monthly", participants: str = "  all: true") -> str:
    return HEAD.format(key=key, period=period, participants=participants) + rules


def apply(world: World, key: str, rules: str, start: dt.date, **kwargs: str) -> int:
    return world.apply(f"{key}.yaml", start, text=plan_text(key, rules, **kwargs))


def test_scorecard_edges_threshold_stepped_lower_is_better_and_cap(world: World) -> None:
    """target 1,000; 50% at threshold, stepped; CSAT 90/98/100 (weight .5), MTTR 8/4 h, lower is better (.5).
    Ana: CSAT exactly 90% pays the threshold step 50% → 250.00; MTTR 6 h is between 8 and 4, stepped: 50% → 250.00.
    Bo: CSAT 89.99% is below the threshold → 0.00; MTTR exactly 4 h (target) → 100% → 500.00.
    Cy: CSAT 100% is the stretch → 150% → 750.00; MTTR 3 h, better than the target with no stretch: capped at
    100% → 500.00."""
    apply(world, "edges", """\
  - type: weighted_scorecard
    target_amount: 1000
    interpolate: stepped
    payout_at_threshold: 50
    components:
      - {metric: csat_positive_pct, weight: 0.5, threshold: 90, target: 98, stretch: 100}
      - {metric: mttr_business_hours, weight: 0.5, threshold: 8, target: 4}
""", D(2025, 3, 1))
    march = world.period("2025-03", "monthly")
    ana, bo, cy = (world.person(name) for name in ("Ana", "Bo", "Cy"))
    for person, (positive, surveys), hours in ((ana, (9, 10), 6), (bo, (8999, 10000), 4), (cy, (5, 5), 3)):
        world.value("csat_positive_pct", person, march, positive, surveys)
        world.value("mttr_business_hours", person, march, hours * 3600 * 2, 2)
    result = world.evaluate("edges", "2025-03", "monthly")
    assert result.totals() == {ana: 50000, bo: 50000, cy: 125000}
    assert [line.amount_minor for line in result.lines_of(cy)] == [75000, 50000]
    ana_csat = result.lines_of(ana)[0]
    assert ana_csat.potential_minor == 75000
    assert ana_csat.hint is not None and ana_csat.hint.startswith("CSAT positive needs 98% (now 90%)")
    assert "+250.00 USD" in ana_csat.hint


def test_tier_weighting_gives_levels_their_own_weights(world: World) -> None:
    """target 1,000; CSAT at target (100%), utilisation below threshold (0%).
    Default weights .5/.5 → 500.00; L1 weighs CSAT .75 → 750.00; L3 weighs it .25 → 250.00."""
    apply(world, "tiers", """\
  - type: weighted_scorecard
    target_amount: 1000
    weights_by: level
    components:
      - {metric: csat_positive_pct, weight: 0.5, weights: {L1: 0.75, L3: 0.25}, threshold: 90, target: 98}
      - {metric: productive_utilization_pct, weight: 0.5, weights: {L1: 0.25, L3: 0.75}, threshold: 60, target: 72}
""", D(2025, 3, 1))
    march = world.period("2025-03", "monthly")
    people = [world.person("Nil"), world.person("One", level="L1"), world.person("Three", level="L3")]
    for person in people:
        world.value("csat_positive_pct", person, march, 98, 100)
        world.value("productive_utilization_pct", person, march, 50, 100)
    totals = world.evaluate("tiers", "2025-03", "monthly").totals()
    assert [totals[p] for p in people] == [50000, 75000, 25000]


def test_accelerator_bands_retroactive_and_marginal(world: World) -> None:
    """target 1,000; bands 0% @ 0.5, 50% @ 1.0 retroactive, 100% @ 1.5 (QuotaPath's template).
    40% attainment: 40 × 0.5 = 20% → 200.00. 60%: the full rate applies back to 0: 60% → 600.00.
    120%: 100 × 1.0 + 20 × 1.5 = 130% → 1,300.00."""
    apply(world, "accel", """\
  - type: accelerator
    metric: project_billables_attainment_pct
    grain: company
    target_amount: 1000
    bands:
      - {from: 0, rate: 0.5}
      - {from: 50, rate: 1.0, retroactive: true}
      - {from: 100, rate: 1.5}
""", D(2025, 1, 1))
    ana = world.person("Ana")
    paid = []
    for month, attainment in (("2025-01", 40), ("2025-02", 60), ("2025-03", 120)):
        world.value("project_billables_attainment_pct", "", world.period(month, "monthly"), attainment, 100,
                    grain="company")
        paid.append(world.evaluate("accel", month, "monthly").totals()[ana])
    assert paid == [20000, 60000, 130000]


def test_team_pool_zero_revenue_mid_period_move_and_shares(world: World) -> None:
    """March 2025 (31 days). Fay moves from Help Desk to Projects on 11 March (10 + 21 days).
    Help Desk, a fixed 1,000.00 split equally by days on the team: Eve 31, Fay 10 →
      Eve 100,000 × 31/41 = 75,609.76 → 75,609 (+1 for the larger remainder, .76) = 75,610; Fay 24,390.
    Projects, 1,000.00 by shares (Lead 2, others 1) × days: Fay 1 × 21, Gus (Lead) 2 × 31 = 62 →
      Fay 100,000 × 21/83 = 25,301.20 → 25,301; Gus 74,698.79 → 74,698 +1 (remainder .79) = 74,699.
    Support, funded by 6% of zero revenue: everyone on it gets 0.00, with the reason."""
    apply(world, "pools", """\
  - {type: team_pool, name: help_desk, team: Help Desk, funded_by: fixed, amount: 1000}
  - {type: team_pool, name: projects, team: Projects, funded_by: fixed, amount: 1000, split: shares,
     shares: {Lead: 2}}
  - {type: team_pool, name: support, team: Support, funded_by: recurring_revenue, category: managed_services,
     rate: 0.06}
""", D(2025, 3, 1), participants="  teams: [Help Desk, Projects, Support]")
    eve, fay, gus, hal = world.person("Eve"), world.person("Fay"), world.person("Gus", role="Lead"), world.person("Hal")
    world.member(eve, "Help Desk")
    world.member(fay, "Help Desk", valid_to=D(2025, 3, 11))
    world.member(fay, "Projects", valid_from=D(2025, 3, 11))
    world.member(gus, "Projects")
    world.member(hal, "Support")
    result = world.evaluate("pools", "2025-03", "monthly")
    assert result.errors == []
    assert amounts(result, eve) == [("help_desk", "earning", 75610)]
    assert amounts(result, fay) == [("help_desk", "earning", 24390), ("projects", "earning", 25301)]
    assert amounts(result, gus) == [("projects", "earning", 74699)]
    assert amounts(result, hal) == [("support", "earning", 0)]
    assert "10 of 31 days on the team" in result.lines_of(fay)[0].explanation
    assert "0.00 USD = 0.00 USD; nothing to split" in result.lines_of(hal)[0].explanation


def test_eligibility_acknowledgment_proration_min_days_pay_date_and_leave(world: World) -> None:
    """FY2025-Q1 (90 days); each person earns 300.00 (CSAT at target × 30% of 1,000).
    Ana: acknowledged, employed all quarter → 300.00.
    Bo: started 15 Feb: employed 45 of 90 days → −150.00 → 150.00 (proration across a start date).
    Cy: started 10 Mar: 22 days, fewer than 30 → forfeits 300.00.
    Dee: left 20 Mar, before the pay date (31 Mar + 15 days) → forfeits.
    Eve: 10 full days of PTO (≥ 5, so it counts as leave): 80/90 → −33.33 → 266.67.
    Fay: acknowledged on 5 Jan, after the period started → forfeits."""
    version = apply(world, "elig", """\
  - type: weighted_scorecard
    target_amount: 1000
    components:
      - {metric: csat_positive_pct, weight: 0.3, threshold: 90, target: 98}
      - {metric: productive_utilization_pct, weight: 0.7, threshold: 60, target: 72}
  - type: eligibility
    acknowledgment_required: true
    min_days_employed: 30
    employed_on_pay_date: true
    prorate_leave: true
    leave_min_days: 5
""", D(2025, 1, 1), period="quarterly")
    ana, bo = world.person("Ana"), world.person("Bo", employed_from=D(2025, 2, 15))
    cy, dee = world.person("Cy", employed_from=D(2025, 3, 10)), world.person("Dee", employed_to=D(2025, 3, 20))
    eve, fay = world.person("Eve"), world.person("Fay")
    world.pto(eve, [D(2025, 2, 3) + dt.timedelta(days=i) for i in range(10)])
    world.pto(ana, [D(2025, 2, 3) + dt.timedelta(days=i) for i in range(4)])
    q1 = world.period("FY2025-Q1", "quarterly")
    before = dt.datetime(2024, 12, 20, tzinfo=dt.UTC)
    for person in (ana, bo, cy, dee, eve, fay):
        world.acknowledge(person, version, before if person != fay else dt.datetime(2025, 1, 5, tzinfo=dt.UTC))
        world.value("csat_positive_pct", person, q1, 98, 100)
    result = world.evaluate("elig", "FY2025-Q1", "quarterly")
    totals = result.totals()
    assert [totals[p] for p in (ana, bo, cy, dee, eve, fay)] == [30000, 15000, 0, 0, 26667, 0]
    assert amounts(result, eve)[-1] == ("eligibility", "proration", -3333)
    assert "employed 45 of 90 days" in result.lines_of(bo)[-1].explanation
    assert "fewer than the 30 required" in result.lines_of(cy)[-1].explanation
    assert "Not employed on the pay date 2025-03-31" in result.lines_of(dee)[-1].explanation
    assert "No signed acknowledgment of this plan before 2025-01-01" in result.lines_of(fay)[-1].explanation


def test_clawback_crosses_the_period_boundary_hits_the_floor_and_carries_forward(world: World) -> None:
    """Monthly; 100.00 for CSAT at target, 50.00 back per reopened ticket, floor 0, carried forward.
    March: 100.00, closed. A ticket resolved in March and two more reopen in April (the metric anchors at the
    reopen): April 100.00 − 3 × 50.00 = −50.00; the floor raises it to 0.00 and carries 50.00 forward.
    May: 100.00, less the 50.00 carried in = 50.00. March's closed lines never change."""
    apply(world, "claw", """\
  - type: weighted_scorecard
    target_amount: 100
    components:
      - {metric: csat_positive_pct, weight: 1, threshold: 90, target: 98}
  - {type: clawback, reopened_within_days: 14, per_ticket: 50}
  - {type: limits, floor: 0, absorbed: carry_forward}
""", D(2025, 3, 1))
    ana = world.person("Ana")
    for month in ("2025-03", "2025-04", "2025-05"):
        world.value("csat_positive_pct", ana, world.period(month, "monthly"), 98, 100)
    world.value("reopened_tickets", ana, world.period("2025-04", "monthly"), 3, 3, params={"within_days": 14})
    for month in ("2025-03", "2025-04"):
        with world.session() as session:
            plan = world.plan(session, "claw")
            close.approve(session, world.engine, plan, world.period(month, "monthly"), "manager")
            close.close(session, world.engine, plan, world.period(month, "monthly"), "admin")
    with world.session() as session:
        lines = list(session.scalars(select(SnapshotLine).order_by(SnapshotLine.period_id, SnapshotLine.seq)))
        assert [(line.kind, line.amount_minor) for line in lines] == [
            ("earning", 10000), ("earning", 10000), ("clawback", -15000), ("floor", 5000)]
        assert lines[-1].inputs["carry_forward_minor"] == 5000
    may = world.evaluate("claw", "2025-05", "monthly")
    assert amounts(may, ana) == [("weighted_scorecard", "earning", 10000), ("limits", "carry_in", -5000)]
    assert may.totals() == {ana: 5000}


def test_paid_when_collected_pays_each_partial_payment_when_it_arrives(world: World) -> None:
    """5% of what is collected on the invoices of Ana's client. A 10,000.00 invoice of March is paid 4,000.00
    on 20 March and 6,000.00 on 5 May: March pays 200.00, April nothing, May 300.00 — computed by the metric
    engine from the payment records themselves."""
    apply(world, "collected", "  - {type: paid_when_collected, rate: 0.05}\n", D(2025, 3, 1))
    ana = world.person("Ana")
    with world.session() as session:
        books = Connection(vendor="books", name="Books", config_encrypted="-", status="ok")
        session.add(books)
        session.flush()
        client = Client(connection_id=books.id, external_id="C1", name="Client One")
        session.add(client)
        session.flush()
        session.add(ClientResponsibility(client_id=client.id, person_id=ana, valid_from=D(2024, 1, 1)))
        invoice = Invoice(connection_id=books.id, external_id="I1", client_id=client.id, number="1001",
                          invoice_date=D(2025, 3, 2), total_minor=1_000_000, balance_minor=0, currency="USD")
        session.add(invoice)
        session.flush()
        for external_id, paid_at, amount in (("P1", dt.datetime(2025, 3, 20, 15, tzinfo=dt.UTC), 400_000),
                                             ("P2", dt.datetime(2025, 5, 5, 15, tzinfo=dt.UTC), 600_000)):
            session.add(Payment(connection_id=books.id, external_id=external_id, invoice_id=invoice.id,
                                paid_at=paid_at, amount_minor=amount, currency="USD"))
    paid = [world.evaluate("collected", month, "monthly").totals()[ana] for month in ("2025-03", "2025-04", "2025-05")]
    assert paid == [20000, 0, 30000]


def test_phase_in_baseline_sets_targets_and_pays_nothing(world: World) -> None:
    """Baseline January: nothing paid. February: threshold baseline − 3, target baseline + 2 from Ana's
    January CSAT of 90%: 87 and 92; February's 92% is exactly the target → 100% of 400.00."""
    world.apply("phase.yaml", D(2025, 1, 1), text=plan_text("phase", """\
  - type: weighted_scorecard
    target_amount: 400
    components:
      - {metric: csat_positive_pct, weight: 1, threshold: baseline - 3, target: baseline + 2}
""").replace("rules:\n", "phase_in:\n  baseline_period: 2025-01\nrules:\n"))
    ana = world.person("Ana")
    world.value("csat_positive_pct", ana, world.period("2025-01", "monthly"), 90, 100)
    world.value("csat_positive_pct", ana, world.period("2025-02", "monthly"), 92, 100)
    january = world.evaluate("phase", "2025-01", "monthly")
    assert amounts(january, ana) == [("phase_in", "earning", 0)]
    february = world.evaluate("phase", "2025-02", "monthly")
    assert february.totals() == {ana: 40000}
    assert "threshold 87%, target 92%" in february.lines_of(ana)[0].explanation


def test_after_hours_rca_prerequisite_and_cap(world: World) -> None:
    """After-hours: 6.5 h × 15.50 = 100.75. RCA documented 1 of 2 (50% < 100% required): only half of what was
    earned is kept: −100.75 × 50% = −50.375 → −50.38 (halves away from zero), leaving 50.37. The cap of 40.00
    takes the rest: 40.00 − 50.37 = −10.37."""
    apply(world, "extras", """\
  - {type: after_hours_differential, per_hour: 15.50}
  - {type: rca_prerequisite, otherwise_pay_pct: 50}
  - {type: limits, cap: 40}
""", D(2025, 3, 1))
    ana = world.person("Ana")
    march = world.period("2025-03", "monthly")
    world.value("after_hours_hours", ana, march, 6.5, 3)
    world.value("rca_documented_pct", ana, march, 1, 2)
    result = world.evaluate("extras", "2025-03", "monthly")
    assert amounts(result, ana) == [("after_hours_differential", "earning", 10075),
                                    ("rca_prerequisite", "gate", -5038), ("limits", "cap", -1037)]
    assert result.totals() == {ana: 4000}
