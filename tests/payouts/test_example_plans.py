"""The three plans of ``shared/plans`` (as Podium plan files in ``tests/payouts/plans``), each
on a small hand-checked dataset, paid to the cent. Every expected figure is derived in
the test's docstring or comments.
"""

from __future__ import annotations

import datetime as dt

from tests.payouts.conftest import D, World, amounts

Q1_2025 = (D(2025, 1, 1), D(2025, 4, 1))  # 90 days
ACK = dt.datetime(2024, 12, 15, 12, tzinfo=dt.UTC)


def test_engineer_quarterly_scorecard_pays_to_the_cent(world: World) -> None:
    """Engineer quarterly bonus, FY2025-Q1, target bonus 1,500.00.

    Ana (Engineer L1, acknowledged 2024-12-15):
      utilisation 148/200 h = 74%: between target 72 (100%) and stretch 80 (150%):
        100 + 50 × (74-72)/(80-72) = 112.5% × 30% × 1,500 = 506.25
      timeliness 90/100 = 90%: between threshold 80 (0%) and target 95 (100%):
        (90-80)/(95-80) = 66.67% × 20% × 1,500 = 200.00
      CSAT 39/40 = 97.5%: (97.5-90)/(98-90) = 93.75% × 25% × 1,500 = 351.5625 → 351.56 (one rounding)
      endpoint integrity 970/1000 = 97%: 100 + 50 × (97-95)/(99-95) = 125% × 25% × 1,500 = 468.75
      one reopened ticket: −25.00
      total 506.25 + 200.00 + 351.56 + 468.75 − 25.00 = 1,501.56
    Bo (Engineer L2, acknowledged):
      utilisation 90% is above stretch: capped at 150% × 30% × 1,500 = 675.00
      timeliness exactly at target 95%: 100% × 20% × 1,500 = 300.00
      CSAT 89/100 = 89%, below the threshold 90: 0.00
      endpoint integrity: no data: 0.00
      three reopened tickets: 3 × −25.00 = −75.00; total 975.00 − 75.00 = 900.00
    Cy (Engineer L1, never acknowledged): utilisation exactly at target 72% earns 450.00, forfeited
      (−450.00); one reopen −25.00 makes −25.00; the floor raises it to 0.00 (+25.00).
    Di (Engineer L3) is not a participant.
    """
    version = world.apply("engineer_quarterly_scorecard.yaml", effective_from=D(2025, 1, 1))
    ana = world.person("Ana", role="Engineer L1")
    bo = world.person("Bo", role="Engineer L2")
    cy = world.person("Cy", role="Engineer L1")
    di = world.person("Di", role="Engineer L3")
    world.acknowledge(ana, version, ACK)
    world.acknowledge(bo, version, ACK)
    q1 = world.period("FY2025-Q1", "quarterly")
    assert (q1.start, q1.end) == Q1_2025
    for person, utilisation, timely, csat, endpoints, reopens in (
        (ana, (148, 200), (90, 100), (39, 40), (970, 1000), 1),
        (bo, (180, 200), (95, 100), (89, 100), None, 3),
        (cy, (144, 200), None, None, None, 1),
        (di, (200, 200), (100, 100), (10, 10), (10, 10), 0),
    ):
        world.value("productive_utilization_pct", person, q1, *utilisation)
        if timely:
            world.value("time_entry_timeliness_pct", person, q1, *timely, params={"within_minutes": 60})
        if csat:
            world.value("csat_positive_pct", person, q1, *csat)
        if endpoints:
            world.value("endpoint_integrity_pct", person, q1, *endpoints)
        if reopens:
            world.value("reopened_tickets", person, q1, reopens, reopens, params={"within_days": 14})

    result = world.evaluate("engineer-quarterly", "FY2025-Q1", "quarterly")

    assert result.errors == []
    assert [p.person_id for p in result.participants] == [ana, bo, cy]
    assert amounts(result, ana) == [
        ("scorecard", "earning", 50625),
        ("scorecard", "earning", 20000),
        ("scorecard", "earning", 35156),
        ("scorecard", "earning", 46875),
        ("clawback", "clawback", -2500),
    ]
    assert amounts(result, bo) == [
        ("scorecard", "earning", 67500),
        ("scorecard", "earning", 30000),
        ("scorecard", "earning", 0),
        ("scorecard", "earning", 0),
        ("clawback", "clawback", -7500),
    ]
    assert amounts(result, cy) == [
        ("scorecard", "earning", 45000),
        ("scorecard", "earning", 0),
        ("scorecard", "earning", 0),
        ("scorecard", "earning", 0),
        ("eligibility", "eligibility", -45000),
        ("clawback", "clawback", -2500),
        ("limits", "floor", 2500),
    ]
    assert result.totals() == {ana: 150156, bo: 90000, cy: 0}
    csat_line = result.lines_of(ana)[2]
    assert "CSAT 97.5% (39 of 40)" in csat_line.explanation
    assert "93.75%" in csat_line.explanation and "351.56 USD" in csat_line.explanation


def test_helpdesk_team_pool_pays_to_the_cent(world: World) -> None:
    """Help desk monthly team pool, March 2025.

    The team's managed-services revenue is 41,250.00: the pool is 6% = 2,475.00.
    Split by hours worked (Eve 160 h, Fay 150.5 h, Gus 89.5 h; 400 h in all), in cents:
      Eve 247,500 × 160/400 = 99,000 exactly
      Fay 247,500 × 150.5/400 = 93,121.875 → floor 93,121, remainder .875
      Gus 247,500 × 89.5/400 = 55,378.125 → floor 55,378, remainder .125
      the floors sum to 247,499; the one cent left goes to the largest remainder (Fay): 93,122.
    Gates (team): MTTR 90 h over 20 tickets = 4.5 h < 5; CSAT 198/200 = 99% ≥ 99 (exactly at the
    bound, which is inclusive); SLA response 96/100 = 96% ≥ 95. All hold: 990.00, 931.22, 553.78.

    April: the same pool, but CSAT is 197/200 = 98.5%, one survey short: nothing is paid.
    Hal joined the Help Desk on 15 April and is not in March's pool.
    """
    world.apply("helpdesk_team_pool.yaml", effective_from=D(2025, 3, 1))
    eve, fay, gus = (world.person(name) for name in ("Eve", "Fay", "Gus"))
    for person in (eve, fay, gus):
        world.member(person, "Help Desk")
    hal = world.person("Hal")
    world.member(hal, "Help Desk", valid_from=D(2025, 4, 15))
    help_desk = world.teams["Help Desk"]
    march, april = world.period("2025-03", "monthly"), world.period("2025-04", "monthly")
    for month, csat in ((march, 198), (april, 197)):
        world.value("recurring_revenue", help_desk, month, 4_125_000, 1, grain="team",
                    params={"category": "managed_services"})
        world.value("mttr_business_hours", help_desk, month, 90 * 3600, 20, grain="team")
        world.value("csat_positive_pct", help_desk, month, csat, 200, grain="team")
        world.value("sla_response_met_pct", help_desk, month, 96, 100, grain="team")
        for person, hours in ((eve, 160), (fay, 150.5), (gus, 89.5)):
            world.value("hours_worked", person, month, hours, 10)

    result = world.evaluate("helpdesk-team-pool", "2025-03", "monthly")

    assert result.errors == []
    assert [p.person_id for p in result.participants] == [eve, fay, gus]
    assert result.totals() == {eve: 99000, fay: 93122, gus: 55378}
    assert sum(result.totals().values()) == 247500
    pool_line = result.lines_of(fay)[0]
    assert "6% of the team's managed services revenue 41,250.00 USD = 2,475.00 USD" in pool_line.explanation
    assert "150.5 of 400 h" in pool_line.explanation
    assert result.lines_of(fay)[1].explanation.startswith("All gates hold: MTTR 4.5 h")

    april_result = world.evaluate("helpdesk-team-pool", "2025-04", "monthly")
    assert hal in [p.person_id for p in april_result.participants]
    assert sum(april_result.totals().values()) == 0
    gate = april_result.lines_of(eve)[1]
    assert gate.kind == "gate" and gate.amount_minor == -99000
    assert "CSAT 98.5% (197 of 200) — needs at least 99%" in gate.explanation
    assert "1 more that count" not in (gate.hint or "")
    assert "CSAT needs 99%" in (gate.hint or "")


def test_company_budget_attainment_pays_to_the_cent(world: World) -> None:
    """Company budget attainment, FY2025-Q1 and Q2; 5% of base salary at 100% attainment.

    Q1 measures: gross margin 520,000/500,000 = 104%, project billables 48,000/50,000 = 96%,
    projects on time 9/10 = 90%. Weighted: 0.5 × 104 + 0.3 × 96 + 0.2 × 90 = 98.8%.
    The curve between (85, 0) and (100, 100): (98.8 − 85)/15 × 100 = 92% of the incentive.
      Hana, 80,000 a year: quarter base 80,000 × 3/12 = 20,000; 5% = 1,000; × 92% = 920.00.
      Ivan, 60,000 until 1 Feb, then 72,000 (31 and 59 of 90 days):
        base 60,000 × 3/12 × 31/90 + 72,000 × 3/12 × 59/90 = 5,166.67 + 11,800 = 16,966.67;
        5% × 92% × 16,966.666… = 780.4666… → 780.47 (one rounding, at the end).
    Q2 measures 115%, 112%, 100%: 57.5 + 33.6 + 20 = 111.1%; between (110, 150) and (120, 200):
      150 + 50 × 1.1/10 = 155.5%: Hana 1,000 × 155.5% = 1,555.00 (the accelerator above budget).
    Q3 measures 130% each: above the last point, capped at 200%: Hana 2,000.00.
    """
    world.apply("company_budget_attainment.yaml", effective_from=D(2025, 1, 1))
    hana = world.person("Hana", salary=80_000)
    ivan = world.person("Ivan")
    world.salary(ivan, 60_000, D(2024, 1, 1), D(2025, 2, 1))
    world.salary(ivan, 72_000, D(2025, 2, 1))
    for label, (gm, bill, on_time) in (("FY2025-Q1", ((520_000, 500_000), (48_000, 50_000), (9, 10))),
                                       ("FY2025-Q2", ((575_000, 500_000), (56_000, 50_000), (10, 10))),
                                       ("FY2025-Q3", ((650_000, 500_000), (65_000, 50_000), (13, 10)))):
        quarter = world.period(label, "quarterly")
        world.value("gross_margin_attainment_pct", "", quarter, *gm, grain="company")
        world.value("project_billables_attainment_pct", "", quarter, *bill, grain="company")
        world.value("projects_on_time_pct", "", quarter, *on_time, grain="company")

    q1 = world.evaluate("budget-attainment", "FY2025-Q1", "quarterly")
    assert q1.errors == []
    assert q1.totals() == {hana: 92000, ivan: 78047}
    line = q1.lines_of(ivan)[0]
    assert "Weighted attainment 98.8%" in line.explanation and "pays 92%" in line.explanation
    assert "60,000.00 USD a year for 31 of 90 days then 72,000.00 USD a year for 59 of 90 days" in line.explanation

    assert world.evaluate("budget-attainment", "FY2025-Q2", "quarterly").totals()[hana] == 155500
    assert world.evaluate("budget-attainment", "FY2025-Q3", "quarterly").totals()[hana] == 200000
