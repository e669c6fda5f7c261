"""Shared fixtures: real SQLite, real PostgreSQL, real Redis.

``database_url`` is parametrised over both backends, so every test that asks for a
database runs twice. A backend that cannot be reached fails the run under ``make test`` and in CI
(``PODIUM_REQUIRE_SERVICES`` or ``CI`` set: the suite must not go green by skipping) and is
skipped with a reason when a developer runs a single test file without them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from podium import migrate
from podium.db import Database
from podium.models import Base, Tenant
from podium.runtime import Podium
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("PODIUM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
TEST_SECRET_KEY = "test-secret-key-for-podium-suite"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    if reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CI") or os.environ.get("PODIUM_REQUIRE_SERVICES"):
        pytest.fail(message + " (the suite must test against it: `make services` starts it)")
    pytest.skip(message)


def _pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


@contextlib.contextmanager
def throwaway_pg_database(prefix: str = "podium_test") -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    require_service("PostgreSQL", PG_ADMIN_URL, 5432)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session, dropped at the end."""
    with throwaway_pg_database() as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "podium.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """An empty, migrated SQLite database, for tests about one backend's behaviour only."""
    path = tmp_path / "podium.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def podium(database_url: str, tmp_path: Path) -> Iterator[Podium]:
    """A Podium runtime on a fresh database, with an instance folder of its own."""
    runtime = Podium.from_env(
        instance_path=tmp_path / "instance",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
    )
    yield runtime
    if "db" in runtime.__dict__:
        runtime.db.dispose()


@pytest.fixture
def db(podium: Podium) -> Database:
    return podium.db


@pytest.fixture
def tenant_id(db: Database) -> int:
    """One tenant, the usual starting point of a test."""
    with db.session() as session:
        tenant = Tenant(slug="acme", name="Acme IT", time_zone="America/New_York", currency="USD")
        session.add(tenant)
        session.flush()
        return tenant.id


@pytest.fixture
def redis_url() -> str:
    """A real Redis database reserved for tests, emptied before each test."""
    require_service("Redis", REDIS_URL, 6379)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL
