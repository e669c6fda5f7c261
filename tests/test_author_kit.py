"""The author kit: what a third party gets to write, test and ship a Podium plugin.

* ``examples/podium-example-plugin`` — a separate package, pip-installed by ``make install``
  — shows up in ``podium plugins list`` and the API, and its metric and rule type pay in a
  plan (figures by hand, on SQLite and PostgreSQL);
* a metric plugin that raises is isolated: the others compute, the error names the plugin;
* the hook API version is enforced as documented;
* ``podium plugins new`` writes a project whose generated tests pass on the fixtures
  Podium exports through ``pytest11``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from podium import HOOK_API_VERSION
from podium.app import create_app
from podium.cli import cli
from podium.metrics.definitions import definition_for
from podium.metrics.engine import MetricFailed
from podium.models import MetricTracked, MetricValue
from podium.runtime import Podium
from podium.testing import PodiumWorld, runtime
from sqlalchemy import select

from tests.test_auth import Caller, add_token

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


def desk(world: PodiumWorld) -> dict[str, int]:
    """First responses (minutes after creation) of each technician's tickets.

    With a 15-minute target: Ana January 4/4 (15 is in time), February 4/5 = 80 %;
    Ben January 1/2 = 50 %, February 1/1.
    """
    people = {}
    for name, tickets in {
        "Ana": {at(1, 6): 5, at(1, 7): 10, at(1, 8): 14, at(1, 9): 15,
                at(2, 3): 5, at(2, 4): 10, at(2, 5): 16, at(2, 6): 3, at(2, 7): 7},
        "Ben": {at(1, 13): 20, at(1, 14): 5, at(2, 10): 5},
    }.items():
        person, identity = world.technician(name)
        people[name] = person
        for created, after in tickets.items():
            world.ticket(created_at=created, first_response_at=created + dt.timedelta(minutes=after),
                         owner_identity_id=identity)
    return people


@pytest.fixture
def kit(database_url: str, tmp_path: Path) -> PodiumWorld:
    """A tenant on each backend, its clock mid-February, with the installed plugins."""
    app = runtime(database_url, tmp_path / "instance")
    return PodiumWorld.empty(app, now=dt.datetime(2025, 2, 15, tzinfo=UTC))


# -- the example package, installed ------------------------------------------------------------


def test_the_example_package_is_installed_with_its_entry_point() -> None:
    dist = importlib.metadata.distribution("podium-example-plugin")
    points = {ep.name: ep.value for ep in dist.entry_points if ep.group == "podium"}
    assert points == {"podium_example": "podium_example.plugin"}, "make install installs examples/ (Makefile)"
    assert Path(dist.locate_file("")).exists()


def test_podium_plugins_list_shows_what_it_registered(tmp_path: Path) -> None:
    env = {"PODIUM_INSTANCE": str(tmp_path / "instance")}
    listed = CliRunner().invoke(cli, ["plugins", "list"], env=env, catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    block = listed.output.split("podium_example  1.0.0  [loaded]  (entry point)\n", 1)[1].split("\n")[:3]
    assert block == ["    hooks: podium_register_metrics, podium_register_payout_rules",
                     "    metrics: first_touch_pct", "    payout_rules: streak_bonus"]


def test_the_api_lists_and_computes_the_example_metric(kit: PodiumWorld) -> None:
    people = desk(kit)
    admin = Caller(create_app(kit.podium, run_jobs=False).test_client(), add_token(kit.podium, kit.tenant_id, "admin"))
    catalogue = {m["key"]: m for m in admin.get("/api/v1/metrics").get_json()}
    metric = catalogue["first_touch_pct"]
    assert (metric["plugin"], metric["label"], metric["unit"], metric["anchor"]) == (
        "podium_example", "First touch within target", "percent", "tickets.created_at")
    assert {name: p["default"] for name, p in metric["params"].items()} == {
        "target_minutes": 30, "business_hours": False, "priorities": []}
    figures = admin.get("/api/v1/metrics/first_touch_pct?period=month:2025-01&params="
                        + json.dumps({"target_minutes": 15}))
    assert figures.status_code == 200, figures.get_json()
    by_subject = {v["subject"]: (v["numerator"], v["denominator"]) for v in figures.get_json()["values"]}
    assert by_subject == {str(people["Ana"]): (4.0, 4.0), str(people["Ben"]): (1.0, 2.0)}


PLAN = """\
plan: desk-speed
title: Service desk speed
currency: USD
period: monthly
participants:
  all: true
rules:
  - type: streak_bonus
    name: two_fast_months
    metric: first_touch_pct
    params:
      target_minutes: 15
    at_least: 80
    periods: 2
    amount: 200
  - type: limits
    cap: 150
"""


def test_a_plan_pays_on_the_example_metric_and_rule_type(kit: PodiumWorld) -> None:
    """Ana: January 100 %, February 80 % (exactly at the level) → 200.00, capped at 150.00
    by the built-in ``limits`` rule. Ben: February 100 % but January 50 % → a streak of
    one: nothing yet, 200.00 still on the table."""
    people = desk(kit)
    key = kit.apply_plan(PLAN, source="desk-speed.yaml", effective_from=dt.date(2025, 1, 1))
    result = kit.evaluate(key, "2025-02")
    assert not result.errors
    ana, ben = people["Ana"], people["Ben"]
    assert [(line.rule, line.kind, line.amount_minor) for line in result.lines_of(ana)] == [
        ("two_fast_months", "earning", 20000), ("limits", "cap", -5000)]
    assert result.totals() == {ana: 15000, ben: 0}
    assert result.lines_of(ana)[0].inputs["values"] == [80.0, 100.0]
    assert "2025-02: 80, 2025-01: 100; 2 of 2 periods in a row at or above 80" in result.lines_of(ana)[0].explanation

    engine = kit.payouts
    with kit.session() as session:
        plan = engine.plan(session, key)
        _, previews = engine.preview(session, plan, engine.pay_period(session, plan, "2025-02"),
                                     as_of=dt.date(2025, 2, 14))
    by_person = {p.person_id: p for p in previews}
    assert (by_person[ana].earned_minor, by_person[ana].on_the_table_minor) == (15000, 0)
    assert (by_person[ben].earned_minor, by_person[ben].on_the_table_minor) == (0, 20000)
    assert by_person[ben].hints == ["1 more period in a row at or above 80 pays 200.00 USD"]


# -- a metric plugin that raises ---------------------------------------------------------------

BROKEN_METRIC = """
from podium import hookimpl
from podium.metrics import Metric


class Fragile(Metric):
    key = "fragile_pct"
    label = "Fragile"
    anchor = "tickets.created_at"

    def select(self, tables):
        raise RuntimeError("vendor field renamed")


@hookimpl
def podium_register_metrics(registry):
    registry.add(Fragile)
"""


def test_a_metric_that_raises_is_isolated_and_named(database_url: str, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "acme_fragile.py").write_text(BROKEN_METRIC)
    app = runtime(database_url, tmp_path / "instance", plugins_dir=plugins)
    world = PodiumWorld.empty(app, now=dt.datetime(2025, 2, 15, tzinfo=UTC))
    people = desk(world)
    engine = world.metrics
    with pytest.raises(MetricFailed) as caught, world.session() as session:
        engine.track(session, world.tenant_id, "fragile_pct", "person", "month", "test", dt.date(2025, 1, 1))
    assert str(caught.value) == ("metric: 'fragile_pct' from plugin 'acme_fragile' failed: "
                                 "RuntimeError: vendor field renamed")

    # Tracked while it still worked (say): a refresh computes every other metric.
    with world.session() as session:
        fragile = definition_for(session, world.tenant_id, engine.metric("fragile_pct"))
        session.add(MetricTracked(definition_id=fragile.id, grain="person", period_kind="month",
                                  since=dt.date(2025, 1, 1), used_by="test"))
        engine.track(session, world.tenant_id, "first_touch_pct", "person", "month", "test", dt.date(2025, 1, 1),
                     {"target_minutes": 15})
    caplog.set_level(logging.ERROR, logger="podium.metrics.engine")
    with world.session() as session:
        session.execute(MetricValue.__table__.delete())
        engine.refresh(session, world.tenant_id)
    with world.session() as session:
        stored = {(v.metric_key, v.subject, v.period_start.month): (v.numerator, v.denominator)
                  for v in session.scalars(select(MetricValue))}
    assert stored == {("first_touch_pct", str(people["Ana"]), 1): (4.0, 4.0),
                      ("first_touch_pct", str(people["Ana"]), 2): (4.0, 5.0),
                      ("first_touch_pct", str(people["Ben"]), 1): (1.0, 2.0),
                      ("first_touch_pct", str(people["Ben"]), 2): (1.0, 1.0)}
    assert [(f.key, f.plugin) for f in engine.failures if isinstance(f, MetricFailed)] == [
        ("fragile_pct", "acme_fragile")]
    assert "from plugin 'acme_fragile' failed: RuntimeError: vendor field renamed" in caplog.text

    # In a plan, the rule reading it fails with the plugin's name; the other rules still pay.
    plan = PLAN.replace("  - type: limits\n    cap: 150\n", "  - type: streak_bonus\n    name: fragile_streak\n"
                        "    metric: fragile_pct\n    at_least: 1\n    periods: 2\n    amount: 10\n")
    key = world.apply_plan(plan, effective_from=dt.date(2025, 1, 1))
    result = world.evaluate(key, "2025-02")
    assert result.totals()[people["Ana"]] == 20000
    assert len(result.errors) == 1 and "from plugin 'acme_fragile' failed" in result.errors[0]


# -- the hook API version ----------------------------------------------------------------------


@pytest.mark.parametrize(("declared", "loads"), [
    (HOOK_API_VERSION, True),
    (HOOK_API_VERSION.split(".")[0] + ".0", True),
    (HOOK_API_VERSION.split(".")[0] + ".99", False),
    (str(int(HOOK_API_VERSION.split(".")[0]) + 1) + ".0", False),
    ("one", False),
])
def test_a_plugin_for_another_hook_api_is_refused_with_a_reason(tmp_path: Path, declared: str, loads: bool) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "versioned.py").write_text(f"PODIUM_HOOK_API = {declared!r}\n" + BROKEN_METRIC)
    app = runtime(f"sqlite:///{tmp_path / 'p.db'}", tmp_path / "instance", plugins_dir=plugins,
                  load_entry_points=False)
    info = {p["name"]: p for p in app.plugins.describe()}["versioned"]
    assert (info["status"] == "loaded") is loads, info
    assert ("fragile_pct" in app.plugins.metrics) is loads
    if not loads:
        assert "hook API" in info["error"] or "is not a version" in info["error"]
        assert declared in info["error"]


def test_the_hook_api_policy_is_documented() -> None:
    guide = (ROOT / "docs" / "writing_plugins.md").read_text()
    assert f"`{HOOK_API_VERSION}`" in guide, "docs/writing_plugins.md states the current hook API version"
    assert "PODIUM_HOOK_API" in guide and "Deprecation" in guide
    assert "(writing_plugins.md)" in (ROOT / "docs" / "plugin_hooks.md").read_text()


# -- the fixtures and the project template -----------------------------------------------------


def test_the_fixtures_are_exported_and_do_not_shadow_the_suites_own(podium: Podium, podium_app: Podium,
                                                                     podium_tenant: PodiumWorld) -> None:
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert points.get("podium") == "podium.testing.pytest_plugin"
    assert podium is not podium_app and podium_tenant.podium is podium_app
    assert podium_app.config.database_url.startswith("sqlite:///")
    assert "first_touch_pct" in podium_app.plugins.metrics, "installed plugins load in podium_app"


def test_the_simulated_world_fixture_is_loaded(podium_world: PodiumWorld) -> None:
    """The simulated MSP from 2025-01-06 on; its dispatchers own most tickets."""
    assert podium_world.world is not None and podium_world.now == podium_world.world.now
    figures = podium_world.compute("first_touch_pct", "month:2025-01")
    assert len(figures) >= 3 and all(0 <= v.value <= 100 for v in figures.values())
    assert sum(v.denominator for v in figures.values()) > 100


def test_plugins_new_writes_a_project_whose_tests_pass(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"PODIUM_INSTANCE": str(tmp_path / "instance")}
    made = runner.invoke(cli, ["plugins", "new", "fast_fix", "--directory", str(tmp_path)], env=env)
    assert made.exit_code == 0, made.output
    project = tmp_path / "podium-fast-fix"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        "README.md", "podium_fast_fix/__init__.py", "podium_fast_fix/metric.py", "podium_fast_fix/plugin.py",
        "pyproject.toml", "tests/conftest.py", "tests/test_fast_fix.py"]
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points.podium]\nfast_fix = "podium_fast_fix.plugin"' in pyproject
    assert f'PODIUM_HOOK_API = "{HOOK_API_VERSION}"' in (project / "podium_fast_fix" / "plugin.py").read_text()

    # The generated tests, run as the author runs them: pytest in the project folder, the
    # package not installed (its conftest loads it through the plugins directory).
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                         env={**os.environ, "PODIUM_INSTANCE": str(tmp_path / "instance")},
                         capture_output=True, text=True, check=False, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout

    again = runner.invoke(cli, ["plugins", "new", "fast_fix", "--directory", str(tmp_path)], env=env)
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(cli, ["plugins", "new", "Fast-Fix", "--directory", str(tmp_path)], env=env)
    assert bad.exit_code != 0 and "name 'Fast-Fix'" in bad.output
