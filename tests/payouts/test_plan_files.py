"""Plan files: the examples validate; malformed files are rejected naming file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from podium.cli import Runtime, cli
from podium.payouts.engine import PayoutEngine
from podium.payouts.plan import PlanError
from podium.runtime import Podium

from tests.payouts.conftest import PLANS, write_plugins
from tests.payouts.metric_plugins import PLUGINS

VALID = """\
plan: tiny
title: Tiny plan
currency: USD
period: monthly
participants:
  all: true
rules:
  - type: weighted_scorecard
    target_amount: 100
    components:
      - metric: csat_positive_pct
        weight: 1
        threshold: 90
        target: 98
"""


@pytest.fixture
def engine(tmp_path: Path, sqlite_url: str) -> PayoutEngine:
    return PayoutEngine(Podium.from_env(instance_path=tmp_path / "instance", database_url=sqlite_url,
                                        secret_key="k", plugins_dir=write_plugins(tmp_path / "plugins", PLUGINS)))


def problems(engine: PayoutEngine, text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(PlanError) as caught:
        engine.load(textwrap.dedent(text), "plan.yaml")
    assert all(p.source == "plan.yaml" for p in caught.value.problems)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_the_example_plans_validate(engine: PayoutEngine) -> None:
    keys = {}
    for file in sorted(PLANS.glob("*.yaml")):
        definition = engine.load(file.read_text(), file.name)
        keys[definition.key] = [rule.type for rule in definition.rules]
    assert keys == {
        "budget-attainment": ["budget_attainment"],
        "engineer-quarterly": ["weighted_scorecard", "eligibility", "clawback", "limits"],
        "helpdesk-team-pool": ["team_pool", "gates"],
    }


@pytest.mark.parametrize(("change", "expected"), [
    (("        threshold: 90\n", "        threshhold: 90\n"),
     [(11, "rules[0].components[0].threshold", "This field is required but missing."),
      (13, "rules[0].components[0].threshhold", "This is not a field here")]),
    (("        weight: 1\n", "        weight: 0.8\n"),
     [(10, "rules[0].components", "The component weights add up to 0.8, not 1.")]),
    (("        target: 98\n", "        target: 90\n"),
     [(14, "rules[0].components[0].target", "The target must differ from the threshold.")]),
    (("  - type: weighted_scorecard\n", "  - type: weighted_scorcard\n"),
     [(8, "rules[0].type", "There is no rule type 'weighted_scorcard'; registered rule types: accelerator, ")]),
    (("      - metric: csat_positive_pct\n", "      - metric: csat_pct\n"),
     [(11, "rules[0].components[0].metric", "There is no metric 'csat_pct'; registered metrics: ")]),
    (("currency: USD\n", ""), [(1, "currency", "This field is required but missing.")]),
    (("currency: USD\n", "currency: usd\n"), [(3, "currency", "Give the ISO 4217 code in capitals, e.g. USD.")]),
    (("period: monthly\n", "period: weekly\n"), [(4, "period", "Must be one of: monthly, quarterly")]),
    (("    target_amount: 100\n", "    target_amount: 100.005\n"),
     [(9, "rules[0].target_amount", "USD has 2 decimal places; 100.005 has more.")]),
    (("    target_amount: 100\n", "    target_amount: 100\n    percent_of_base_salary: 5\n"),
     [(8, "rules[0]", "Give exactly one of target_amount or percent_of_base_salary.")]),
    (("  all: true\n", "  all: true\n  all: false\n"), [(7, "participants.all", "'all' is given twice; say it once.")]),
    (("title: Tiny plan\n", "title: [Tiny plan\n"), [(3, "", "This is not valid YAML")]),
])
def test_a_malformed_plan_names_the_line_and_field(engine: PayoutEngine, change: tuple[str, str],
                                                   expected: list[tuple[int, str, str]]) -> None:
    found = problems(engine, VALID.replace(*change))
    assert [(line, field) for line, field, _ in found] == [(line, field) for line, field, _ in expected]
    for (_line, _field, message), (_l, _f, wanted) in zip(found, expected, strict=True):
        assert message.startswith(wanted), message


def test_rule_order_and_cross_checks_are_errors(engine: PayoutEngine) -> None:
    text = VALID + (
        "  - type: limits\n"
        "  - type: clawback\n"
        "    reopened_within_days: 14\n"
        "    per_ticket: 25\n"
        "  - type: limits\n"
    )
    assert problems(engine, text) == [
        (19, "rules[3].name", "Two rules are named 'limits' (rules[1] too); give one of them a name: of its own."),
        (16, "rules[2]", "A clawback must come before the limits rule: the floor applies after clawbacks."),
    ]


def test_cli_validate_reports_each_problem_and_fails(tmp_path: Path, engine: PayoutEngine) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(VALID)
    bad.write_text(VALID.replace("target: 98", "target: ninety-eight"))
    runner = CliRunner()
    config = engine.podium.config
    result = runner.invoke(cli, ["plans", "validate", str(good), str(bad)],
                           obj=Runtime({"instance_path": config.instance_path, "plugins_dir": config.plugins_dir}))
    assert result.exit_code == 1
    assert f"{good}: ok — plan 'tiny', monthly, USD, 1 rule(s): weighted_scorecard" in result.stdout
    assert (f"{bad}, line 14, field rules[0].components[0].target: Give a number, or 'baseline' with an optional"
            in result.stderr)


def test_the_plans_in_the_docs_validate(engine: PayoutEngine) -> None:
    """Every complete plan shown in docs/plans.md is a valid plan file (docs that cannot rot)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "plans.md").read_text()
    blocks = [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]
    plans = [block for block in blocks if block.startswith("plan:") and "…" not in block]
    assert len(plans) == 3
    assert sorted(engine.load(block, "docs/plans.md").key for block in plans) == [
        "budget-attainment", "engineer-quarterly", "helpdesk-team-pool"]


CSAT_ONLY = '''
from podium import hookimpl
from podium.metrics.builtin.csat import CsatPositive

@hookimpl
def podium_register_metrics(registry):
    registry.add(CsatPositive)
'''


def test_a_rule_reading_an_unregistered_metric_by_default_is_an_error(tmp_path: Path, sqlite_url: str) -> None:
    """A Podium whose only metric is CSAT (no entry points, so not even the built-in
    catalogue): a profit-funded pool reads ``gross_profit`` by default, which nothing registers."""
    plugins = write_plugins(tmp_path / "plugins", {"builtin_payout_rules": PLUGINS["builtin_payout_rules"],
                                                   "csat_only": CSAT_ONLY})
    engine = PayoutEngine(Podium.from_env(instance_path=tmp_path / "instance", database_url=sqlite_url,
                                          secret_key="k", plugins_dir=plugins, load_entry_points=False))
    text = VALID + "  - {type: team_pool, team: Help Desk, funded_by: profit, rate: 0.1}\n"
    message = ("This rule reads the metric 'gross_profit', which no plugin registers (name another with metric:, "
               "or install the plugin that provides it).")
    assert problems(engine, text) == [(15, "rules[1]", message)]


def test_the_rules_default_metrics_are_all_in_the_built_in_catalogue(engine: PayoutEngine) -> None:
    """No stand-ins: a profit-funded pool, an after-hours differential and an RCA prerequisite
    validate against the built-in catalogue alone."""
    text = VALID + ("  - {type: team_pool, team: Help Desk, funded_by: profit, rate: 0.1}\n"
                    "  - {type: after_hours_differential, per_hour: 15}\n"
                    "  - {type: rca_prerequisite}\n")
    definition = engine.load(text, "plan.yaml")
    assert [rule.type for rule in definition.rules] == ["weighted_scorecard", "team_pool", "after_hours_differential",
                                                        "rca_prerequisite"]
    registry = engine.podium.plugins.metrics  # what the plan was checked against
    assert {key: registry.get(key).__module__ for key in ("gross_profit", "after_hours_hours", "rca_documented_pct")} == {
        "gross_profit": "podium.metrics.builtin.money", "after_hours_hours": "podium.metrics.builtin.after_hours",
        "rca_documented_pct": "podium.metrics.builtin.documentation"}
