"""Engines, sessions, tenant scoping and idempotent upserts for both backends.

Tenant isolation is enforced here, not left to each query: a session opened for a tenant
adds ``tenant_id = :tenant`` to every ORM SELECT, UPDATE and DELETE that touches a
tenant-scoped table, and refuses to flush a row that belongs to another tenant. Raw SQL
(the metric engine's selectables) binds the tenant explicitly; PostgreSQL row-level
security is the backstop (design §7).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from podium.models.base import Base, TenantScoped


class TenantViolation(RuntimeError):
    """A row of one tenant was about to be written through another tenant's session."""


def normalise_url(url: str) -> str:
    """Accept the ``postgresql://`` and ``postgres://`` forms people paste; use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, open transactions (see _sqlite_begin).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, waiting out busy_timeout; a deferred
            # transaction that upgrades to writing while another writer is active fails with
            # "database is locked" at once. The web process, the job thread and the CLI all
            # write, so the embedded default serialises transactions instead of failing them.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """One engine and its session factory; the object the app, workers and CLI share."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self, tenant_id: int | None = None) -> Iterator[Session]:
        """A unit of work, committed on success and rolled back on error.

        With ``tenant_id`` every ORM query in it is limited to that tenant. Without it the
        session is unscoped, which only start-up, migrations and cross-tenant admin tasks
        (the scheduler listing connections) may use.
        """
        session = self.sessions()
        session.info["tenant_id"] = tenant_id
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def analyze(self, *tables: str) -> None:
        """Refresh the query planner's statistics of ``tables`` after a bulk write.

        A first sync (or a world load) fills tables faster than PostgreSQL's autovacuum
        re-analyses them; until it does, the planner believes they are empty and picks
        nested loops that turn a 0.1 s metric query into seconds. SQLite's planner likewise
        reads ``sqlite_stat1``, which only ``ANALYZE`` writes.
        """
        with self.sessions() as session, session.begin():
            analyze(session, *tables)


def analyze(session: Session, *tables: str) -> None:
    """``ANALYZE`` each of ``tables`` inside ``session``'s transaction (both PostgreSQL and
    SQLite allow it there, and count the transaction's own new rows): see :meth:`Database.analyze`."""
    preparer = session.get_bind().dialect.identifier_preparer
    for table in tables:
        session.execute(text(f"ANALYZE {preparer.quote(table)}"))


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
        )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _context: Any, _instances: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        return
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantViolation(
                f"{type(obj).__name__} of tenant {obj.tenant_id} written in a session of tenant {tenant_id}"
            )


def batched(rows: Sequence[dict[str, Any]], size: int) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def upsert(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` or update them on a conflict of ``conflict`` columns; idempotent.

    ``update`` names the columns to overwrite (default: every column given but the
    conflict columns; never the tenant or the connection, which identify the row). Every
    row must have the same keys. In a tenant's session each row is stamped with that
    tenant, and a row of another tenant is refused — core INSERTs bypass the ORM flush
    guard, so the check is made here. Columns with an ``onupdate`` default (``synced_at``)
    are refreshed on update. Returns the number of rows sent.
    """
    if not rows:
        return 0
    table = model.__table__
    tenant_id = session.info.get("tenant_id")
    if tenant_id is not None and "tenant_id" in table.c:
        rows = [_stamped(row, tenant_id) for row in rows]
    columns = list(rows[0].keys())
    identity = set(conflict) | {"tenant_id", "connection_id"}
    update_columns = [c for c in (update if update is not None else columns) if c not in identity]
    refreshed = {
        column.name: column.onupdate.arg(None)
        for column in table.columns
        if column.onupdate is not None and column.name not in update_columns and column.name not in identity
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    if update_columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict),
            set_={**{c: statement.excluded[c] for c in update_columns}, **refreshed},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    # One statement executed for many parameter sets: SQLAlchemy batches it within each
    # driver's limits ("insertmanyvalues" on PostgreSQL, executemany on SQLite) and
    # compiles it once, where a multi-row VALUES clause is compiled per bound value.
    session.execute(statement, list(rows))
    return len(rows)


def _stamped(row: dict[str, Any], tenant_id: int) -> dict[str, Any]:
    if row.get("tenant_id", tenant_id) != tenant_id:
        raise TenantViolation(f"row of tenant {row['tenant_id']} upserted in a session of tenant {tenant_id}")
    return {**row, "tenant_id": tenant_id}
