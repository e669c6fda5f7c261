"""Live preview (earned, on the table, projected, next tiers) and what-if (nothing saved)."""

from __future__ import annotations

import pytest
from podium.models import MetricValue, PayoutPeriod, PlanVersion
from podium.payouts.engine import PayoutError
from sqlalchemy import func, select

from tests.payouts.conftest import D, World
from tests.payouts.test_close import scorecard_world


def test_preview_shows_earned_on_the_table_and_next_tiers(world: World) -> None:
    """Ana (see test_example_plans): earned 1,501.56. Each component's cap: utilisation 150% × 450 = 675.00,
    timeliness 100% × 300 = 300.00, CSAT 100% × 375 = 375.00, endpoints 150% × 375 = 562.50; on the table
    (675 − 506.25) + (300 − 200) + (375 − 351.56) + (562.50 − 468.75) = 385.94. CSAT at 39 of 40 needs
    10 more positive surveys in a row to reach 98% (49 of 50). The period is over, so the
    projection is what was earned."""
    _version, ana, _bo = scorecard_world(world)
    with world.session() as session:
        plan = world.plan(session, "engineer-quarterly")
        evaluation, people = world.engine.preview(session, plan, world.period("FY2025-Q1", "quarterly"),
                                                  person_ids=[ana])
    [me] = people
    assert (me.earned_minor, me.on_the_table_minor, me.projected_minor) == (150156, 38594, 150156)
    assert evaluation.as_of == D(2025, 3, 31)
    assert me.hints[2].startswith("CSAT needs 98% (now 97.5%): 10 more that count and none that do not")
    assert me.hints[2].endswith("→ 100% of this component, +23.44 USD")


def test_preview_projects_totals_to_the_period_end(world: World) -> None:
    """Help desk pool on 15 March: revenue so far 20,625.00 → pool 1,237.50; Eve has 40% of the hours
    (160 of 400): earned 495.00. 15 of 31 days are over, so sums are projected × 31/15: revenue 42,625.00,
    pool 2,557.50; rates (gates) stay as they are; Eve's share stays 40%: projected 1,023.00."""
    world.apply("helpdesk_team_pool.yaml", effective_from=D(2025, 3, 1))
    eve, fay = world.person("Eve"), world.person("Fay")
    for person in (eve, fay):
        world.member(person, "Help Desk")
    team, march = world.teams["Help Desk"], world.period("2025-03", "monthly")
    world.value("recurring_revenue", team, march, 2_062_500, 1, grain="team", params={"category": "managed_services"})
    world.value("mttr_business_hours", team, march, 4 * 3600, 1, grain="team")
    world.value("csat_positive_pct", team, march, 100, 100, grain="team")
    world.value("sla_response_met_pct", team, march, 100, 100, grain="team")
    world.value("hours_worked", eve, march, 160, 1)
    world.value("hours_worked", fay, march, 240, 1)
    with world.session() as session:
        plan = world.plan(session, "helpdesk-team-pool")
        _evaluation, people = world.engine.preview(session, plan, march, as_of=D(2025, 3, 15))
    eve_preview = next(p for p in people if p.person_id == eve)
    assert (eve_preview.earned_minor, eve_preview.projected_minor) == (49500, 102300)


def test_what_if_changes_metrics_or_plan_parameters_without_saving(world: World) -> None:
    """What if Ana's CSAT were 98%: the CSAT line goes from 351.56 to 375.00 (+23.44), nothing else moves.
    What if the target bonus were 3,000: every scorecard line doubles (Bo's 675.00 → 1,350.00)."""
    _version, ana, bo = scorecard_world(world)
    q1 = world.period("FY2025-Q1", "quarterly")
    with world.session() as session:
        counts = [session.scalar(select(func.count()).select_from(m)) for m in (MetricValue, PlanVersion, PayoutPeriod)]
        plan = world.plan(session, "engineer-quarterly")
        _before, after, changes = world.engine.what_if(session, plan, q1,
                                                       metric_values={f"csat_positive_pct@person:{ana}": 98})
        assert [(c.person_id, c.rule, c.before_minor, c.after_minor) for c in changes] == [
            (ana, "scorecard", 35156, 37500)]
        assert "what-if" in after.lines_of(ana)[2].explanation
        _before, _after, changes = world.engine.what_if(session, plan, q1,
                                                        plan_changes={"rules[0].target_amount": 3000})
        assert (bo, "scorecard", 67500, 135000) in [(c.person_id, c.rule, c.before_minor, c.after_minor)
                                                    for c in changes]
        with pytest.raises(PayoutError, match="rules\\[9\\].rate: the plan has no such field"):
            world.engine.what_if(session, plan, q1, plan_changes={"rules[9].rate": 1})
    with world.session() as session:
        assert [session.scalar(select(func.count()).select_from(m))
                for m in (MetricValue, PlanVersion, PayoutPeriod)] == counts
    assert world.evaluate("engineer-quarterly", "FY2025-Q1", "quarterly").totals()[ana] == 150156
