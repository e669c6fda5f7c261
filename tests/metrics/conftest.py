"""Fixtures for the metric tests: a Podium whose plugins include the built-in metrics.

The built-ins are loaded the way a third-party plugin is — a module with hookimpls — via
a one-line file in a plugins directory (entry points off, so an installed entry point for
the same module cannot register it twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from podium import jobs
from podium.db import Database
from podium.metrics.engine import MetricEngine
from podium.runtime import Podium
from tests.conftest import TEST_SECRET_KEY
from tests.metrics.world import NOW, World, build

SHIM = "from podium.metrics.builtin.plugin import *  # noqa: F403 - the hookimpls are the plugin\n"


def metrics_runtime(database_url: str, tmp_path: Path, **overrides: object) -> Podium:
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "podium_metrics.py").write_text(SHIM)
    return Podium.from_env(instance_path=tmp_path / "instance", database_url=database_url,
                           secret_key=TEST_SECRET_KEY, redis_url=None, plugins_dir=plugins,
                           load_entry_points=False, **overrides)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Podium]:
    podium = metrics_runtime(database_url, tmp_path)
    jobs.use_runtime(podium)
    yield podium
    jobs.use_runtime(None)
    if "db" in podium.__dict__:
        podium.db.dispose()


@pytest.fixture
def db(runtime: Podium) -> Database:
    return runtime.db


@pytest.fixture
def engine(runtime: Podium) -> MetricEngine:
    return MetricEngine(runtime, clock=lambda: NOW)


@pytest.fixture
def world(db: Database) -> World:
    with db.session() as session:
        return build(session)
