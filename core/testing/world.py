"""A Podium with a tenant and data, for testing plugins against the real engine.

Nothing here is a stand-in: the runtime is the one the server runs, its plugins are
loaded by the real plugin manager, figures come from :class:`MetricEngine` and payouts
from :class:`PayoutEngine`. Only the clock is pinned (:attr:`PodiumWorld.now`), because a
metric may read it (an untouched ticket becomes overdue) and a test must not depend on
the day it runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import migrate
from podium.metrics.engine import MetricEngine, Value
from podium.models import Connection, Identity, Person, Tenant, Ticket
from podium.payouts.engine import Evaluation, PayoutEngine
from podium.payouts.versions import apply_plan
from podium.runtime import Podium
from podium.simulate import World

TEST_SECRET_KEY = "podium-testing-not-a-secret"
"""The instance secret of test runtimes (a copied database decrypts with it)."""

SHIM = '''"""Loads {module} as a plugins-dir plugin (written by podium.testing)."""
import importlib

_module = importlib.import_module({module!r})
globals().update({{name: value for name, value in vars(_module).items() if hasattr(value, "podium_impl")}})
'''


def installed_plugin_modules() -> set[str]:
    """Modules that entry points in the group ``podium`` already load."""
    return {ep.value.split(":")[0] for ep in importlib.metadata.entry_points(group="podium")}


def plugin_shims(directory: Path, modules: Iterable[str]) -> Path:
    """A plugins directory that loads ``modules`` (dotted names) like plugin files.

    A plugin under development is usually not pip-installed yet, so it has no entry
    point; a one-line file per module in the plugins directory makes the real plugin
    manager load it all the same. Modules an installed entry point already loads are
    skipped, so the same test passes before and after ``pip install -e .``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    installed = installed_plugin_modules()
    for module in modules:
        if module not in installed:
            (directory / f"{module.replace('.', '_')}.py").write_text(SHIM.format(module=module))
    return directory


def migrated_sqlite(path: Path) -> str:
    """Create a migrated SQLite database at ``path``; returns its URL."""
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return url


def runtime(database_url: str, instance_path: Path, *, plugin_modules: Iterable[str] = (),
            **overrides: Any) -> Podium:
    """A Podium on ``database_url`` (migrated) with the installed plugins and ``plugin_modules``.

    ``overrides`` are :class:`podium.config.Config` settings (``load_plugins``,
    ``block_plugins``, ``load_entry_points`` …). No Redis: jobs run in the process.
    """
    modules = list(plugin_modules)
    if modules and "plugins_dir" not in overrides:
        overrides["plugins_dir"] = plugin_shims(instance_path / "plugin-shims", modules)
    return Podium.from_env(instance_path=instance_path, database_url=database_url, secret_key=TEST_SECRET_KEY,
                           redis_url=None, **overrides)


@dataclass
class PodiumWorld:
    """One tenant of a Podium, with shortcuts to compute its metrics and pay its plans.

    Build it with :meth:`empty` (a new tenant, for hand-made records) or :meth:`simulated`
    (the simulated MSP, for realistic data).
    """

    podium: Podium
    tenant_id: int
    now: dt.datetime
    """The engines' clock: what "now" is for every figure and payout computed here."""
    world: World | None = None
    """The simulated MSP behind the data (:meth:`simulated`), else None."""
    _connection_id: int | None = field(default=None, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @classmethod
    def empty(cls, podium: Podium, *, now: dt.datetime, slug: str = "acme", time_zone: str = "UTC",
              currency: str = "USD") -> PodiumWorld:
        """A new tenant with nothing in it."""
        with podium.db.session() as session:
            tenant = Tenant(slug=slug, name=slug.title(), time_zone=time_zone, currency=currency)
            session.add(tenant)
            session.flush()
            return cls(podium, tenant.id, now)

    @classmethod
    def simulated(cls, podium: Podium, world: World) -> PodiumWorld:
        """The tenant :func:`podium.simulate.loader.load_world` stored ``world`` in; its
        clock is the world's "now" (local midnight after its last day)."""
        with podium.db.session() as session:
            tenant_id = session.scalars(select(Tenant.id).where(Tenant.slug == world.tenant["slug"])).one()
        return cls(podium, tenant_id, world.now, world)

    # -- engines -------------------------------------------------------------------------

    @property
    def metrics(self) -> MetricEngine:
        return MetricEngine(self.podium, clock=lambda: self.now)

    @property
    def payouts(self) -> PayoutEngine:
        return PayoutEngine(self.podium, metric_engine=self.metrics)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction scoped to this tenant (committed when the block ends)."""
        with self.podium.db.session(self.tenant_id) as session:
            yield session

    # -- metrics -------------------------------------------------------------------------

    def compute(self, key: str, period: str, *, grain: str = "person",
                params: dict[str, Any] | None = None) -> dict[str, Value]:
        """Figures of metric ``key`` by subject (person ids as strings at the person grain)
        for ``period`` in the engine's text form (``month:2025-01``, ``custom:2025-01-06..2025-01-13``)."""
        engine = self.metrics
        with self.session() as session:
            values = engine.compute(session, self.tenant_id, key, grain, engine.period(session, self.tenant_id, period),
                                    params)
        return {value.subject: value for value in values}

    def person_id(self, email: str) -> int:
        with self.session() as session:
            return session.scalars(select(Person.id).where(Person.email == email.lower())).one()

    # -- payouts -------------------------------------------------------------------------

    def apply_plan(self, text: str, *, source: str = "plan.yaml", effective_from: dt.date | None = None) -> str:
        """Validate and apply a plan file (a new version); returns the plan's key."""
        engine = self.payouts
        definition = engine.load(text, source)
        with self.session() as session:
            apply_plan(session, engine, self.tenant_id, definition, "test", source_name=source,
                       effective_from=effective_from)
        return definition.key

    def evaluate(self, plan: str, period: str) -> Evaluation:
        """Every line of plan ``plan`` for its period labelled ``period`` (``2025-01``)."""
        engine = self.payouts
        with self.session() as session:
            row = engine.plan(session, plan)
            return engine.evaluate(session, row, engine.pay_period(session, row, period))

    # -- hand-made records ---------------------------------------------------------------

    def connection_id(self) -> int:
        """The tenant's one test connection, created on first use (records belong to one)."""
        if self._connection_id is None:
            with self.session() as session:
                connection = Connection(vendor="test", name="test", status="ok",
                                        config_encrypted=self.podium.secrets.encrypt({}))
                session.add(connection)
                session.flush()
                self._connection_id = connection.id
        return self._connection_id

    def add(self, record: Any) -> int:
        """Store a model instance (tenant, connection and external id filled in); returns its id."""
        if hasattr(record, "connection_id") and record.connection_id is None:
            record.connection_id = self.connection_id()
        if hasattr(record, "external_id") and record.external_id is None:
            record.external_id = f"t{next(self._ids)}"
        with self.session() as session:
            session.add(record)
            session.flush()
            return record.id

    def technician(self, name: str, *, email: str | None = None) -> tuple[int, int]:
        """A person and the vendor identity linked to them: ``(person_id, identity_id)``."""
        email = email or f"{name.lower().replace(' ', '.')}@example.test"
        person_id = self.add(Person(display_name=name, email=email))
        identity_id = self.add(Identity(display_name=name, email=email, person_id=person_id, link_method="email"))
        return person_id, identity_id

    def ticket(self, *, created_at: dt.datetime, **values: Any) -> int:
        """A ticket (an open service-desk incident unless ``values`` say otherwise)."""
        defaults = {"number": f"T{next(self._ids)}", "summary": "test ticket", "status": "New",
                    "status_category": "open", "board": "Service Desk", "type": "Incident"}
        return self.add(Ticket(created_at=created_at, **{**defaults, **values}))
