"""Podium's pytest fixtures for plugin authors (entry point ``pytest11``: ``podium``).

Installed with Podium, so any project in the same environment can write::

    def test_my_metric(podium_world):
        figures = podium_world.compute("my_metric_pct", "month:2025-01")

Fixtures (function scope unless said otherwise; override the ``*_config`` ones in a
``conftest.py``):

``podium_plugin_modules`` (session)
    Dotted module names to load as plugins besides the installed ones — your plugin
    before it is pip-installed (default: none). Modules an entry point already loads are
    not loaded twice.
``podium_world_config`` (session)
    The :class:`podium.simulate.WorldConfig` ``podium_world`` loads (default: 6
    technicians, 8 clients, 45 days from Monday 2025-01-06, seed 7).
``podium_database_url``
    A fresh, migrated SQLite database in the test's temporary folder.
``podium_app``
    A :class:`podium.runtime.Podium` on that database with the plugins loaded.
``podium_tenant``
    A :class:`podium.testing.PodiumWorld` of one empty tenant ("acme", UTC, USD), clock
    at 2025-03-01 00:00 UTC, for records a test writes by hand.
``podium_world``
    A :class:`podium.testing.PodiumWorld` of the simulated MSP (loaded once per session,
    copied for each test, so every test may change it).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from podium.runtime import Podium
    from podium.simulate import World, WorldConfig
    from podium.testing.world import PodiumWorld

EMPTY_TENANT_NOW = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def podium_plugin_modules() -> list[str]:
    return []


@pytest.fixture(scope="session")
def podium_world_config() -> WorldConfig:
    from podium.simulate import preset

    return preset("default", technicians=6, clients=8, days=45)


@pytest.fixture(scope="session")
def _podium_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file each test copies (migrating is the slow part)."""
    from podium.testing.world import migrated_sqlite

    path = tmp_path_factory.mktemp("podium-template") / "podium.db"
    migrated_sqlite(path)
    return path


@pytest.fixture(scope="session")
def _podium_world_template(tmp_path_factory: pytest.TempPathFactory, _podium_sqlite_template: Path,
                           podium_world_config: WorldConfig) -> tuple[Path, World]:
    """The migrated database with the simulated MSP loaded, once per session."""
    from podium.simulate import World
    from podium.simulate.loader import load_world
    from podium.testing.world import runtime

    folder = tmp_path_factory.mktemp("podium-world")
    path = folder / "podium.db"
    shutil.copy(_podium_sqlite_template, path)
    world = World(podium_world_config)
    loader = runtime(f"sqlite:///{path}", folder / "instance", load_entry_points=False)
    load_world(loader, world)
    loader.db.dispose()
    return path, world


@pytest.fixture
def podium_database_url(tmp_path: Path, _podium_sqlite_template: Path) -> str:
    path = tmp_path / "podium.db"
    shutil.copy(_podium_sqlite_template, path)
    return f"sqlite:///{path}"


def _runtime(url: str, tmp_path: Path, modules: list[str]) -> Podium:
    from podium.testing.world import runtime

    return runtime(url, tmp_path / "instance", plugin_modules=modules)


@pytest.fixture
def podium_app(podium_database_url: str, tmp_path: Path, podium_plugin_modules: list[str]) -> Iterator[Podium]:
    app = _runtime(podium_database_url, tmp_path, podium_plugin_modules)
    yield app
    if "db" in app.__dict__:
        app.db.dispose()


@pytest.fixture
def podium_tenant(podium_app: Podium) -> PodiumWorld:
    from podium.testing.world import PodiumWorld

    return PodiumWorld.empty(podium_app, now=EMPTY_TENANT_NOW)


@pytest.fixture
def podium_world(tmp_path: Path, _podium_world_template: tuple[Path, World],
                 podium_plugin_modules: list[str]) -> Iterator[PodiumWorld]:
    from podium.testing.world import PodiumWorld

    template, world = _podium_world_template
    path = tmp_path / "world.db"
    shutil.copy(template, path)
    app = _runtime(f"sqlite:///{path}", tmp_path, podium_plugin_modules)
    yield PodiumWorld.simulated(app, world)
    if "db" in app.__dict__:
        app.db.dispose()
