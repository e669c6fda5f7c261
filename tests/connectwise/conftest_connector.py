"""Fixtures of the ConnectWise connector tests: a small world served by the real simulator,
and a Podium runtime that loads the connector through its plugin manager.

The world is rendered once per session into a SQLite file; each test serves its own
copy over a real socket (tests change records freely), while Podium's own database is
the suite's ``database_url`` (SQLite and PostgreSQL). The connector is registered the
way every plugin is: through its ``podium`` entry point (``connectwise =
podium_connectwise.plugin``), with the allow-list keeping every other plugin out.

Test modules load this file as a plugin (``pytest_plugins``), since
``tests/connectwise/conftest.py`` belongs to the simulator's tests; helpers come as the
``cw`` fixture (a :class:`Kit`), so nothing here is imported before pytest loads it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from podium.connections import create_connection
from podium.http import SourceContext
from podium.models import Tenant
from podium.runtime import Podium
from podium.simulate import World, WorldConfig
from podium_connectwise.connector import ConnectWiseManage
from podium_connectwise.schema import ConnectWiseConfigSchema
from podium_connectwise.simulator import WorldStore
from podium_connectwise.simulator.render import load_world as render_world

from tests.connectwise.live import CREDENTIALS, Live, serve_live

SMALL_WORLD = WorldConfig(technicians=6, clients=6, days=62, tickets_per_tech_day=0.5)
"""About 80 tickets with escalations, reopens, surveys, projects, invoices and payments."""
TIER_TEAMS = {"Help Desk*": 1, "Escalations*": 2, "Projects*": 3}
"""How the simulated MSP's board teams map to support tiers (docs/connectwise.md)."""
SECRET_KEY = "test-secret-key-for-the-connectwise-connector"
NAME = "Summit Ridge CW"


@pytest.fixture(scope="session")
def cw_world() -> World:
    return World(SMALL_WORLD)


@pytest.fixture(scope="session")
def cw_rendered(tmp_path_factory: pytest.TempPathFactory, cw_world: World) -> Path:
    """The small world rendered once as a ConnectWise store (a SQLite file to copy)."""
    path = tmp_path_factory.mktemp("cw-world") / "connectwise.db"
    store = WorldStore(f"sqlite:///{path}")
    render_world(store, cw_world)
    store.close()
    return path


@pytest.fixture
def cw_store(tmp_path: Path, cw_rendered: Path) -> Iterator[WorldStore]:
    """This test's own copy of the rendered world."""
    path = tmp_path / "connectwise.db"
    shutil.copy(cw_rendered, path)
    store = WorldStore(f"sqlite:///{path}")
    yield store
    store.close()


@pytest.fixture
def cw_live(cw_store: WorldStore) -> Iterator[Live]:
    """The simulator serving ``cw_store`` over a real socket."""
    with serve_live(cw_store) as live:
        yield live


@dataclass
class Kit:
    """Builds what a connector test needs: runtimes, tenants, configs, connections, sources."""

    database_url: str
    tmp_path: Path
    runtimes: list[Podium] = field(default_factory=list)

    def podium(self, **overrides: Any) -> Podium:
        """A runtime on the test's database whose plugin manager loads the ConnectWise
        connector's entry point (and nothing else). Retries do not back off (the simulator's
        ``Retry-After`` still applies) and the request budget is far above what a test sends,
        unless ``overrides`` say otherwise."""
        settings: dict[str, Any] = {
            "instance_path": self.tmp_path / f"instance-{len(self.runtimes)}",
            "database_url": self.database_url,
            "secret_key": SECRET_KEY,
            "redis_url": None,
            "load_entry_points": True,
            "load_plugins": ("connectwise",),
            "sync_overlap_seconds": 0,
            "sync_batch_size": 40,
            "request_budget_per_minute": 1_000_000,
            "http_retry_attempts": 3,
            "http_retry_backoff": 0,
            "http_retry_jitter": 0,
            "http_retry_max_wait": 5,
        }
        runtime = Podium.from_env(**(settings | overrides))
        assert runtime.plugins.plugins["connectwise"].status == "loaded"
        self.runtimes.append(runtime)
        return runtime

    @staticmethod
    def tenant(podium: Podium, slug: str = "cw-test") -> int:
        with podium.db.session() as session:
            tenant = Tenant(slug=slug, name="CW test MSP", time_zone="America/Chicago", currency="USD")
            session.add(tenant)
            session.flush()
            return tenant.id

    @staticmethod
    def config(live: Live, **overrides: Any) -> dict[str, Any]:
        """A connection config for the simulator ``live`` (plain http is allowed: it is local)."""
        return {
            "site": live.site,
            "company_id": CREDENTIALS.company_id,
            "public_key": CREDENTIALS.public_key,
            "private_key": CREDENTIALS.private_key,
            "client_id": CREDENTIALS.client_id,
            "allow_http": True,
            "tier_teams": TIER_TEAMS,
            **overrides,
        }

    def source(self, live: Live, context: SourceContext | None = None, **overrides: Any) -> ConnectWiseManage:
        """The connector itself, on a validated config, outside any sync."""
        return ConnectWiseManage(ConnectWiseConfigSchema().load(self.config(live, **overrides)), context)

    @staticmethod
    def connection(podium: Podium, tenant_id: int, config: dict[str, Any], name: str = NAME) -> int:
        with podium.db.session(tenant_id) as session:
            return create_connection(podium, session, tenant_id, "connectwise", name, config).id

    def close(self) -> None:
        for runtime in self.runtimes:
            runtime.db.dispose()


@pytest.fixture
def cw(database_url: str, tmp_path: Path) -> Iterator[Kit]:
    kit = Kit(database_url, tmp_path)
    yield kit
    kit.close()


@pytest.fixture
def cw_podium(cw: Kit) -> Podium:
    return cw.podium()


@pytest.fixture
def cw_tenant(cw: Kit, cw_podium: Podium) -> int:
    return cw.tenant(cw_podium)


@pytest.fixture
def cw_connection(cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live) -> int:
    return cw.connection(cw_podium, cw_tenant, cw.config(cw_live))
