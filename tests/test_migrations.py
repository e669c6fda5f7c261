"""The migrations build exactly the models' schema, on SQLite and on PostgreSQL, and undo it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import podium
import podium.models
import pytest
from alembic.script import ScriptDirectory
from podium import migrate
from podium.db import normalise_url
from podium.models.base import Base
from sqlalchemy import create_engine, inspect, text

from tests.conftest import throwaway_pg_database


# Same variable as tests/conftest.py; psycopg wants the plain libpq form of the URL.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'podium.db'}"
    else:
        with throwaway_pg_database() as url:
            yield url


def _tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --- tests ----------------------------------------------------------------------------


def test_upgrade_check_downgrade(empty_db: str) -> None:
    assert migrate.current(empty_db) is None

    migrate.upgrade(empty_db)

    assert migrate.current(empty_db) == migrate.head() == migrate.INITIAL_REVISION
    assert _tables(empty_db) == set(Base.metadata.tables) | {"alembic_version"}
    migrate.check(empty_db)  # models == migrations

    migrate.upgrade(empty_db)  # already at head: a no-op, not an error
    assert migrate.current(empty_db) == migrate.head()

    migrate.downgrade(empty_db, "base")

    assert migrate.current(empty_db) is None
    assert _tables(empty_db) == {"alembic_version"}


def test_check_detects_drift(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    engine = create_engine(normalise_url(empty_db))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
            connection.execute(text("DROP INDEX ix_tickets_tenant_resolved_at"))
    finally:
        engine.dispose()

    with pytest.raises(migrate.SchemaMismatch) as caught:
        migrate.check(empty_db)

    rendered = str(caught.value)
    assert "stray" in rendered
    assert "ix_tickets_tenant_resolved_at" in rendered


def test_check_refuses_a_database_behind_head(tmp_path: Path) -> None:
    with pytest.raises(migrate.NotAtHead):
        migrate.check(f"sqlite:///{tmp_path / 'empty.db'}")


def test_check_without_url_uses_a_scratch_database() -> None:
    migrate.check()


def test_scripts_are_packaged_with_podium() -> None:
    config = migrate.alembic_config("sqlite://")
    assert config.get_main_option("script_location") == "podium:migrations"
    assert config.config_file_name is None  # no alembic.ini at runtime
    scripts = ScriptDirectory.from_config(config)
    package_dir = Path(podium.__file__).resolve().parent
    assert Path(scripts.dir).resolve() == package_dir / "migrations"
    assert [rev.revision for rev in scripts.walk_revisions()] == [migrate.INITIAL_REVISION]


def test_every_model_table_is_registered_by_importing_podium_models() -> None:
    # Guards the package __init__: a model module it forgets would be missing from 0001.
    modules = {
        table.name: mapper.class_.__module__
        for mapper in Base.registry.mappers
        for table in [mapper.local_table]
    }
    package_dir = Path(podium.models.__file__).parent
    for path in package_dir.glob("*.py"):
        if path.stem in {"__init__", "base"}:
            continue
        assert f"podium.models.{path.stem}" in set(modules.values()), path.name
