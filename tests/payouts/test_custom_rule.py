"""A third party's rule type, from a plugin in the plugins directory, used in a plan file end to end:
validated with its own schema (errors name the line), evaluated, explained, closed."""

from __future__ import annotations

import pytest
from podium.payouts import close, statements
from podium.payouts.plan import PlanError

from tests.payouts.conftest import D, World

SPOT_BONUS = '''
from fractions import Fraction
from marshmallow import Schema, fields, validate
from podium import hookimpl
from podium.payouts import PayoutRule
from podium.payouts.fields import Amount, MetricKey
from podium.payouts.money import exponent


class SpotConfig(Schema):
    metric = MetricKey(load_default="csat_positive_pct")
    per_point_above = Amount(required=True, validate=validate.Range(min=0))
    above = fields.Float(required=True)


class SpotBonus(PayoutRule):
    """Pays a set amount per point of a metric above a level (a third party's idea)."""

    key = "spot_bonus"
    label = "Spot bonus"
    config_schema = SpotConfig

    def metrics_used(self):
        return [(self.config["metric"], {}, "person")]

    def evaluate(self, context):
        rate = self.config["per_point_above"] * 10 ** exponent(context.currency)
        lines = []
        for person in context.participants:
            reading = context.metric(self.config["metric"], grain="person", subject=person.person_id)
            points = max(Fraction(0), (reading.value or 0) - Fraction(str(self.config["above"])))
            lines.append(self.line(context, person.person_id, points * rate,
                                   f"{float(points):g} points above {self.config['above']:g} × {rate / 100} USD",
                                   readings=(reading.ref,)))
        return lines


@hookimpl
def podium_register_payout_rules(registry):
    registry.add(SpotBonus)
'''

PLAN = """\
plan: spot
title: Spot bonus
currency: USD
period: monthly
participants:
  all: true
rules:
  - type: spot_bonus
    per_point_above: 12.5
    above: 95
  - type: limits
    cap: 40
"""


@pytest.fixture
def plugin_sources() -> dict[str, str]:
    return {"acme_spot_bonus": SPOT_BONUS}


def test_a_plugin_rule_type_works_in_a_plan_file_end_to_end(world: World) -> None:
    """CSAT 98.4% is 3.4 points above 95: 3.4 × 12.50 = 42.50; the built-in cap takes it to 40.00."""
    assert world.podium.plugins.payout_rules.owner("spot_bonus") == "acme_spot_bonus"
    with pytest.raises(PlanError) as caught:
        world.engine.load(PLAN.replace("    above: 95\n", ""), "spot.yaml")
    assert str(caught.value) == "spot.yaml, line 8, field rules[0].above: This field is required but missing."
    world.apply("spot.yaml", D(2025, 3, 1), text=PLAN)
    ana = world.person("Ana")
    march = world.period("2025-03", "monthly")
    world.value("csat_positive_pct", ana, march, 492, 500)
    result = world.evaluate("spot", "2025-03", "monthly")
    assert [(line.rule, line.amount_minor) for line in result.lines] == [("spot_bonus", 4250), ("limits", -250)]
    with world.session() as session:
        plan = world.plan(session, "spot")
        close.approve(session, world.engine, plan, march, "manager")
        close.close(session, world.engine, plan, march, "admin")
        statement = statements.build(session, world.engine, plan, march, ana)
    assert statement.total_minor == 4000
    assert "3.4 points above 95" in statements.render_html(statement)
