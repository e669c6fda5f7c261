"""Fixtures for payout tests: a runtime with the metric plugins payouts need, and a small
world builder — people, teams, facts, and metric values stored the way the metric
engine materialises them (a definition version, a tracked entry and a ``metric_values``
row), read back through the real engine by the real reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from podium.metrics.definitions import definition_for
from podium.metrics.query import ratio
from podium.models import (
    Acknowledgment,
    Availability,
    MetricTracked,
    MetricValue,
    Person,
    PersonFact,
    Plan,
    Team,
    TeamMembership,
    Tenant,
)
from podium.payouts.engine import PayoutEngine
from podium.payouts.periods import PayPeriod, parse
from podium.payouts.versions import apply_plan
from podium.runtime import Podium
from sqlalchemy import select

from tests.conftest import TEST_SECRET_KEY
from tests.payouts.metric_plugins import PLUGINS

PLANS = Path(__file__).parent / "plans"
D = dt.date
LONG_AGO = D(2024, 1, 1)
"""When the facts of people in these tests start: before every period they are paid for."""


def write_plugins(directory: Path, plugins: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in plugins.items():
        (directory / f"{name}.py").write_text(source)
    return directory


@pytest.fixture
def plugin_sources() -> dict[str, str]:
    """Extra plugin files a test adds to the plugins directory (override to add rules)."""
    return {}


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, plugin_sources: dict[str, str]) -> Iterator[Podium]:
    plugins = write_plugins(tmp_path / "plugins", {**PLUGINS, **plugin_sources})
    podium = Podium.from_env(instance_path=tmp_path / "instance", database_url=database_url,
                             secret_key=TEST_SECRET_KEY, redis_url=None, plugins_dir=plugins)
    yield podium
    if "db" in podium.__dict__:
        podium.db.dispose()


@pytest.fixture
def payouts(runtime: Podium) -> PayoutEngine:
    return PayoutEngine(runtime)


class World:
    """Builds a tenant's org and metric values for one test, in its own transactions."""

    def __init__(self, podium: Podium, engine: PayoutEngine, currency: str = "USD") -> None:
        self.podium = podium
        self.engine = engine
        with podium.db.session() as session:
            tenant = Tenant(slug="acme", name="Acme IT", time_zone="UTC", currency=currency)
            session.add(tenant)
            session.flush()
            self.tenant_id = tenant.id
        self.teams: dict[str, int] = {}

    def session(self) -> Any:
        return self.podium.db.session(self.tenant_id)

    def person(self, name: str, *, role: str | None = None, level: str | None = None, salary: int | None = None,
               employed_from: dt.date | None = None, employed_to: dt.date | None = None,
               since: dt.date = LONG_AGO) -> int:
        with self.session() as session:
            person = Person(display_name=name, email=f"{name.lower()}@acme.example", employed_from=employed_from,
                            employed_to=employed_to)
            session.add(person)
            session.flush()
            for kind, value in (("role", role), ("level", level)):
                if value is not None:
                    session.add(PersonFact(person_id=person.id, kind=kind, value_text=value, valid_from=since))
            if salary is not None:
                session.add(PersonFact(person_id=person.id, kind="compensation", value_int=salary * 100,
                                       currency="USD", valid_from=since))
            return person.id

    def salary(self, person_id: int, annual: int, valid_from: dt.date, valid_to: dt.date | None = None) -> None:
        with self.session() as session:
            session.add(PersonFact(person_id=person_id, kind="compensation", value_int=annual * 100, currency="USD",
                                   valid_from=valid_from, valid_to=valid_to))

    def team(self, name: str) -> int:
        if name not in self.teams:
            with self.session() as session:
                team = Team(name=name)
                session.add(team)
                session.flush()
                self.teams[name] = team.id
        return self.teams[name]

    def member(self, person_id: int, team: str, valid_from: dt.date = LONG_AGO,
               valid_to: dt.date | None = None) -> None:
        team_id = self.team(team)
        with self.session() as session:
            session.add(TeamMembership(person_id=person_id, team_id=team_id, valid_from=valid_from, valid_to=valid_to))

    def pto(self, person_id: int, days: list[dt.date], hours: float = 8.0) -> None:
        with self.session() as session:
            for day in days:
                session.add(Availability(person_id=person_id, day=day, kind="pto", hours=hours))

    def value(self, key: str, subject: Any, period: PayPeriod | tuple[dt.date, dt.date], numerator: float,
              denominator: float, *, grain: str = "person", params: dict[str, Any] | None = None,
              kind: str | None = None) -> None:
        """Store a metric value as the engine materialises it (definition, tracked, value)."""
        start, end = (period.start, period.end) if isinstance(period, PayPeriod) else period
        kind = kind or (period.metric_kind if isinstance(period, PayPeriod) else "month")
        with self.session() as session:
            metric = self.engine.metrics.metric(key, params)
            definition = definition_for(session, self.tenant_id, metric)
            tracked = session.scalars(select(MetricTracked).where(
                MetricTracked.definition_id == definition.id, MetricTracked.grain == grain,
                MetricTracked.period_kind == kind, MetricTracked.used_by == "test")).one_or_none()
            if tracked is None:
                session.add(MetricTracked(definition_id=definition.id, grain=grain, period_kind=kind, since=start,
                                          used_by="test"))
            elif tracked.since > start:
                tracked.since = start
            session.add(MetricValue(
                definition_id=definition.id, metric_key=key, version=definition.version, grain=grain,
                subject=str(subject), period_kind=kind, period_start=start, period_end=end, numerator=numerator,
                denominator=denominator, value=ratio(numerator, denominator, metric.factor), records=1,
            ))

    def apply(self, file: str | Path, effective_from: dt.date | None = None, text: str | None = None) -> int:
        path = Path(file) if Path(file).is_absolute() else PLANS / file
        with self.session() as session:
            definition = self.engine.load(text if text is not None else path.read_text(), path.name)
            version, _ = apply_plan(session, self.engine, self.tenant_id, definition, "test", source_name=path.name,
                                    effective_from=effective_from)
            return version.id

    def acknowledge(self, person_id: int, version_id: int, at: dt.datetime) -> None:
        with self.session() as session:
            session.add(Acknowledgment(plan_version_id=version_id, person_id=person_id, acknowledged_at=at,
                                       recorded_by="test"))

    def plan(self, session: Any, key: str) -> Plan:
        return self.engine.plan(session, key)

    def period(self, label: str, kind: str) -> PayPeriod:
        return parse(label, kind)

    def evaluate(self, key: str, label: str, kind: str, **kwargs: Any) -> Any:
        with self.session() as session:
            return self.engine.evaluate(session, self.plan(session, key), self.period(label, kind), **kwargs)


@pytest.fixture
def world(runtime: Podium, payouts: PayoutEngine) -> World:
    return World(runtime, payouts)


def amounts(evaluation: Any, person_id: int) -> list[tuple[str, str, int]]:
    """``(rule, kind, amount)`` of a person's lines, for compact assertions."""
    return [(line.rule, line.kind, line.amount_minor) for line in evaluation.lines_of(person_id)]
