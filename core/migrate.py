"""Schema migrations, driven from code: no ``alembic.ini`` is needed at runtime.

The Alembic scripts ship inside the package (``podium:migrations``), so ``podium init``
works from an installed wheel exactly as from the repository. ``env.py`` takes the
connection (or URL) from ``Config.attributes`` and the engine from :mod:`podium.db`, so
migrations run with the same SQLite pragmas as the application.

Regenerating the initial migration (pre-release only)
-----------------------------------------------------
While Podium is unreleased there is exactly one revision, ``0001``; whoever adds or
changes a table regenerates it instead of stacking revisions:

1. From the repository, with the editable install (``pip install -e '.[dev]'``), run::

       .venv/bin/python -m podium.migrate regenerate

   It deletes ``core/migrations/versions/0001_initial.py``, upgrades nothing, and
   autogenerates a fresh ``0001`` against an empty temporary SQLite database (batch
   mode, so the same file also runs on PostgreSQL).
2. Read the new file over: every table present, CHECK constraints and partial indexes
   rendered, no stray ``podium.models`` imports.
3. Run ``.venv/bin/python -m pytest tests/test_migrations.py`` — it applies the file
   on SQLite and PostgreSQL and runs :func:`check` (models == migrations).

Once released, never edit a shipped revision: add ``0002_…`` with
``python -m podium.migrate revision -m "what changed"`` and review it the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, pool

from podium.db import make_engine, normalise_url

SCRIPT_LOCATION = "podium:migrations"
INITIAL_REVISION = "0001"


class SchemaMismatch(RuntimeError):
    """The database (at head) and the SQLAlchemy models disagree: a migration is missing."""

    def __init__(self, diffs: list[Any]) -> None:
        self.diffs = diffs
        lines = "\n".join(f"  {diff!r}" for diff in diffs)
        super().__init__(f"models and migrations differ ({len(diffs)} difference(s)):\n{lines}")


class NotAtHead(RuntimeError):
    """The database is not at the latest migration, so it cannot be compared to the models."""


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` built in code, pointing at the packaged migration scripts.

    ``url`` or an open ``connection`` is handed to ``env.py`` through ``attributes``.
    """
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.attributes["url"] = normalise_url(url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render Podium's column types as plain SQLAlchemy types in migration files.

    Migrations must not import model code (which changes over time); ``UTCDateTime`` is
    a bind/result conversion over ``DateTime(timezone=True)``, so the latter is what the
    schema holds.
    """
    from podium.models.base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def context_options(dialect_name: str) -> dict[str, Any]:
    """The ``context.configure`` options shared by ``env.py`` and :func:`check`."""
    return {
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",
        "render_item": _render_item,
    }


@contextlib.contextmanager
def _connection(url: str) -> Iterator[Connection]:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (what ``podium init`` runs)."""
    with _connection(url) as connection:
        command.upgrade(alembic_config(url, connection=connection), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision``."""
    with _connection(url) as connection:
        command.downgrade(alembic_config(url, connection=connection), revision)


def current(url: str) -> str | None:
    """The revision the database is at, or ``None`` for an unmigrated database."""
    with _connection(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    """The latest revision shipped with this Podium."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def check(url: str | None = None) -> None:
    """Raise :class:`SchemaMismatch` if the models differ from what the migrations build.

    With ``url`` the database there must already be at head (:class:`NotAtHead`
    otherwise) and is compared as it is. Without it, a temporary SQLite database is
    migrated to head and compared — the check CI runs.
    """
    if url is None:
        with tempfile.TemporaryDirectory(prefix="podium-check-") as folder:
            scratch = f"sqlite:///{Path(folder) / 'check.db'}"
            upgrade(scratch)
            check(scratch)
        return

    import podium.models  # noqa: F401 - registers every table on Base.metadata
    from podium.models.base import Base

    latest = head()
    with _connection(url) as connection:
        context = MigrationContext.configure(connection, opts=context_options(connection.dialect.name))
        at = context.get_current_revision()
        if at != latest:
            raise NotAtHead(f"database is at {at!r}, the migrations' head is {latest!r}; run upgrade first")
        diffs = compare_metadata(context, Base.metadata)
    if diffs:
        raise SchemaMismatch(diffs)


def revision(message: str, *, rev_id: str | None = None) -> None:
    """Autogenerate a new revision against a scratch SQLite database migrated to head."""
    with tempfile.TemporaryDirectory(prefix="podium-revision-") as folder:
        scratch = f"sqlite:///{Path(folder) / 'revision.db'}"
        upgrade(scratch)
        with _connection(scratch) as connection:
            scripts = command.revision(
                alembic_config(scratch, connection=connection),
                message=message,
                autogenerate=True,
                rev_id=rev_id,
            )
    for script in scripts if isinstance(scripts, list) else [scripts]:
        if script is not None:
            print(f"wrote {script.path}")


def regenerate() -> None:
    """Pre-release only: rewrite ``0001_initial.py`` from the current models."""
    scripts = ScriptDirectory.from_config(alembic_config())
    others = [rev.revision for rev in scripts.walk_revisions() if rev.revision != INITIAL_REVISION]
    if others:
        raise SystemExit(f"refusing to regenerate {INITIAL_REVISION}: later revisions exist {others}")
    for path in Path(scripts.versions).glob(f"{INITIAL_REVISION}_*.py"):
        path.unlink()
    revision("initial", rev_id=INITIAL_REVISION)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m podium.migrate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("regenerate", help="pre-release: rewrite 0001_initial.py from the models")
    rev = sub.add_parser("revision", help="autogenerate a new revision")
    rev.add_argument("-m", "--message", required=True)
    up = sub.add_parser("upgrade", help="migrate a database to head")
    up.add_argument("url")
    ch = sub.add_parser("check", help="fail if models and migrations differ")
    ch.add_argument("url", nargs="?")
    args = parser.parse_args(argv)
    if args.cmd == "regenerate":
        regenerate()
    elif args.cmd == "revision":
        revision(args.message)
    elif args.cmd == "upgrade":
        upgrade(args.url)
    elif args.cmd == "check":
        check(args.url)
        print("models and migrations agree")


if __name__ == "__main__":
    main()
