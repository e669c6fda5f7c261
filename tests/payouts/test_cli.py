"""``podium plans …`` and ``podium payouts …`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from podium.cli import Runtime, cli
from podium.runtime import Podium

from tests.conftest import TEST_SECRET_KEY
from tests.payouts.conftest import PLANS, World
from tests.payouts.test_close import ACK

ENGINEER = str(PLANS / "engineer_quarterly_scorecard.yaml")


def test_plans_and_payouts_commands_from_apply_to_payroll(world: World, runtime: Podium, tmp_path: Path) -> None:
    config = runtime.config
    runner = CliRunner()

    def run(*args: str) -> str:
        obj = Runtime({"instance_path": config.instance_path, "database_url": config.database_url,
                       "secret_key": TEST_SECRET_KEY, "plugins_dir": config.plugins_dir})
        result = runner.invoke(cli, list(args), obj=obj)
        assert result.exit_code == 0, result.output
        return result.stdout

    applied = run("plans", "apply", ENGINEER, "--effective-from", "2025-01-01")
    assert "plan 'engineer-quarterly' version 1, in force from 2025-01-01: applied" in applied
    assert "5 metric(s) materialised for its periods" in applied
    assert "unchanged" in run("plans", "apply", ENGINEER, "--effective-from", "2025-01-01")
    assert run("plans", "list").startswith("engineer-quarterly\tv1 from 2025-01-01\tquarterly\tUSD\t0 closed")

    ana, bo = world.person("Ana", role="Engineer L1"), world.person("Bo", role="Engineer L2")
    with world.session() as session:
        version_id = world.engine.version_for(session, world.plan(session, "engineer-quarterly"),
                                              world.period("FY2025-Q1", "quarterly").start).id
    q1 = world.period("FY2025-Q1", "quarterly")
    for person in (ana, bo):
        world.acknowledge(person, version_id, ACK)
        world.value("csat_positive_pct", person, q1, 39, 40)
    world.value("productive_utilization_pct", ana, q1, 148, 200)

    preview = run("payouts", "preview", "engineer-quarterly", "--period", "FY2025-Q1", "--person", "ana@acme.example")
    # utilisation 506.25 + CSAT 351.56 = 857.81; on the table (675 − 506.25) + 300 + (375 − 351.56) + 562.50
    assert "Ana: earned 857.81 USD, on the table 1,054.69 USD, projected 857.81 USD" in preview
    assert "next: CSAT needs 98% (now 97.5%)" in preview
    what_if = json.loads(run("payouts", "preview", "engineer-quarterly", "--period", "FY2025-Q1",
                             "--what-if", "csat_positive_pct=98", "--json"))
    assert [(c["person_id"], c["before_minor"], c["after_minor"]) for c in what_if["changes"]] == [
        (ana, 35156, 37500), (bo, 35156, 37500)]

    closed = run("payouts", "close", "engineer-quarterly", "--period", "FY2025-Q1", "--approve")
    assert "FY2025-Q1: closed, 2 people, total 1,209.37 USD" in closed
    payroll = tmp_path / "payroll.csv"
    run("payouts", "export", "engineer-quarterly", "--period", "FY2025-Q1", "-o", str(payroll))
    assert payroll.read_text().splitlines()[1].startswith(f"engineer-quarterly,FY2025-Q1,{ana},Ana,ana@acme.example,,857.81")
    statement = run("payouts", "statement", "engineer-quarterly", "--period", "FY2025-Q1",
                    "--person", "bo@acme.example", "--format", "csv")
    assert statement.splitlines()[-1].split(",")[9] == "351.56"
    report = json.loads(run("payouts", "restatement", "engineer-quarterly", "--period", "FY2025-Q1"))
    assert report["totals_then"] == {str(ana): 85781, str(bo): 35156}
    assert "1 closed" in run("plans", "list")
