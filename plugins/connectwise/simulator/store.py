"""The simulated ConnectWise database: one table per resource, records kept as JSON.

A world of 300 technicians and a year of tickets is millions of records, and a
connector pages through all of them; serving that from Python lists would make each
page cost the size of the world. Each resource is therefore a table keyed by
``(parent_id, id)`` with the record's JSON beside an indexed ``last_updated`` copy of
``_info.lastUpdated``, and a request becomes one SQL statement: ``conditions`` compile
to ``json_extract``-style paths (SQLAlchemy's JSON paths, so SQLite and PostgreSQL
alike), forward-only paging is a keyset ``id > pageId ORDER BY id LIMIT n`` on the
primary key — constant time per page however deep — and the JSON text goes back to
the client without being parsed and re-encoded.

Tests and the live mode change records through :meth:`WorldStore.update`, which moves
``_info.lastUpdated`` forward the way an edit in ConnectWise does.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)

from .conditions import compile_conditions
from .params import ListQuery
from .resources import RESOURCES, Field, Kind, Resource, undeclared

TOP_LEVEL = 0
"""``parent_id`` of records that belong to no parent record."""

Row = tuple[str, int | None, dict[str, Any]]
"""(resource name, parent record id or None, record) — what a renderer yields to :meth:`WorldStore.load`."""


class InvalidRecord(ValueError):
    """A record that does not match its resource's declared fields (a renderer or test bug)."""


def utc_stamp(moment: dt.datetime | None = None) -> str:
    """ConnectWise's timestamp format: ISO-8601 UTC, whole seconds, ``Z``."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class WorldStore:
    """A ConnectWise world in a database (a SQLite file or any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, json_serializer=_compact)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.metadata = MetaData()
        self.tables: dict[str, Table] = {name: self._table(name) for name in RESOURCES}
        self.member_hashes = Table(
            "cw_member_hashes", self.metadata,
            Column("identifier", String(64), primary_key=True),
            Column("member_hash", String(128), nullable=False),
        )
        self.meta_table = Table(
            "cw_meta", self.metadata,
            Column("key", String(64), primary_key=True),
            Column("value", Text, nullable=False),
        )
        self.metadata.create_all(self.engine)

    def _table(self, name: str) -> Table:
        table = Table(
            f"cw_{name}", self.metadata,
            Column("parent_id", Integer, primary_key=True, autoincrement=False),
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("last_updated", String(20)),
            Column("record", JSON, nullable=False),
        )
        Index(f"ix_cw_{name}_last_updated", table.c.last_updated)
        return table

    def close(self) -> None:
        self.engine.dispose()

    # -- building -------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(self.meta_table.c.key).limit(1)).first() is None

    def reset(self) -> None:
        """Drop every record (before a rebuild from a different seed or preset)."""
        with self.engine.begin() as conn:
            for table in reversed(self.metadata.sorted_tables):
                conn.execute(delete(table))

    def load(self, rows: Iterable[Row], *, batch_size: int = 5000) -> dict[str, int]:
        """Insert rendered records in batches; returns how many went into each resource.

        Records without ids (the audit trail) are numbered per parent in arrival order.
        Every record is checked against its resource's declaration first.
        """
        counts: dict[str, int] = defaultdict(int)
        batches: dict[str, list[dict[str, Any]]] = defaultdict(list)
        sequence: dict[tuple[str, int], int] = defaultdict(int)
        with self.engine.begin() as conn:
            for name, parent_id, record in rows:
                resource = RESOURCES[name]
                row = self._row(resource, parent_id, record)
                if not resource.has_ids:
                    sequence[name, row["parent_id"]] += 1
                    row["id"] = sequence[name, row["parent_id"]]
                batch = batches[name]
                batch.append(row)
                counts[name] += 1
                if len(batch) >= batch_size:
                    conn.execute(insert(self.tables[name]), batch)
                    batch.clear()
            for name, batch in batches.items():
                if batch:
                    conn.execute(insert(self.tables[name]), batch)
        return dict(counts)

    def _row(self, resource: Resource, parent_id: int | None, record: dict[str, Any]) -> dict[str, Any]:
        problems = undeclared(resource, record)
        if problems:
            raise InvalidRecord(f"{resource.name} record {record.get('id')}: {'; '.join(problems)}")
        if (parent_id is None) != (resource.parent is None):
            raise InvalidRecord(f"{resource.name} records {'need' if resource.parent else 'have no'} parent id")
        return {
            "parent_id": TOP_LEVEL if parent_id is None else parent_id,
            "id": record.get("id"),
            "last_updated": record.get("_info", {}).get("lastUpdated"),
            "record": record,
        }

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self.engine.begin() as conn:
            for key, value in values.items():
                conn.execute(delete(self.meta_table).where(self.meta_table.c.key == key))
                conn.execute(insert(self.meta_table).values(key=key, value=value))

    def meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(self.meta_table.c.value).where(self.meta_table.c.key == key)).scalar()

    # -- member hashes (ConnectWise's Hosted API credential for a signed-in member) ------

    def issue_member_hashes(self, identifiers: Iterable[str]) -> None:
        """Give each member a fresh random hash, as ConnectWise does for a browser session."""
        rows = [{"identifier": i.lower(), "member_hash": secrets.token_urlsafe(32)} for i in identifiers]
        with self.engine.begin() as conn:
            conn.execute(delete(self.member_hashes))
            if rows:
                conn.execute(insert(self.member_hashes), rows)

    def member_hash(self, identifier: str) -> str | None:
        """The hash a pod host page hands to the pod for ``identifier`` (None: no such member)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(self.member_hashes.c.member_hash).where(self.member_hashes.c.identifier == identifier.lower())
            ).scalar()

    def find_member(self, identifier: str) -> dict[str, Any] | None:
        table = self.tables["members"]
        expr = func.lower(self._column(table, Field("identifier", ("identifier",), Kind.STR)))
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.record).where(expr == identifier.lower()).limit(1)).scalar()

    # -- reading ----------------------------------------------------------------------

    def page(self, resource: Resource, query: ListQuery, parent_id: int | None = None) -> list[tuple[int, str]]:
        """One page of ``(id, record JSON text)`` for a list request."""
        table = self.tables[resource.name]
        stmt = select(table.c.id, cast(table.c.record, Text)).where(self._where(resource, query.conditions, parent_id))
        if query.forward_only:
            if query.page_id is not None:
                stmt = stmt.where(table.c.id > query.page_id)
            stmt = stmt.order_by(table.c.id).limit(query.page_size)
        else:
            stmt = stmt.order_by(*self._order(table, query), table.c.id).offset(query.offset).limit(query.page_size)
        with self.engine.connect() as conn:
            return [(row[0], row[1]) for row in conn.execute(stmt)]

    def count(self, resource: Resource, conditions: str | None, parent_id: int | None = None) -> int:
        table = self.tables[resource.name]
        stmt = select(func.count()).select_from(table).where(self._where(resource, conditions, parent_id))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def get(self, resource: Resource, record_id: int, parent_id: int | None = None) -> dict[str, Any] | None:
        table = self.tables[resource.name]
        stmt = select(table.c.record).where(
            table.c.parent_id == (TOP_LEVEL if parent_id is None else parent_id), table.c.id == record_id,
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()

    def exists(self, resource: Resource, record_id: int) -> bool:
        """Whether a top-level record exists (a child resource's parent, before listing it)."""
        table = self.tables[resource.name]
        stmt = select(table.c.id).where(table.c.parent_id == TOP_LEVEL, table.c.id == record_id)
        with self.engine.connect() as conn:
            return conn.execute(stmt).first() is not None

    def _where(self, resource: Resource, conditions: str | None, parent_id: int | None) -> ColumnElement[bool]:
        table = self.tables[resource.name]
        clause = table.c.parent_id == (TOP_LEVEL if parent_id is None else parent_id)
        if conditions:
            clause = clause & compile_conditions(conditions, resource, lambda f: self._column(table, f))
        return clause

    def _order(self, table: Table, query: ListQuery) -> list[ColumnElement[Any]]:
        keys = []
        for key in query.order_by:
            expr = self._column(table, key.field)
            if key.field.kind is Kind.STR:
                expr = func.lower(expr)
            keys.append(expr.desc().nulls_last() if key.descending else expr.asc().nulls_first())
        return keys

    @staticmethod
    def _column(table: Table, field: Field) -> ColumnElement[Any]:
        """The SQL value of a field: an indexed column where there is one, else a JSON path."""
        if field.path == ("id",):
            return table.c.id
        if field.path == ("_info", "lastUpdated"):
            return table.c.last_updated
        value = table.c.record[field.path]
        if field.kind is Kind.INT:
            return value.as_integer()
        if field.kind is Kind.FLOAT:
            return value.as_float()
        if field.kind is Kind.BOOL:
            return value.as_boolean()
        return value.as_string()

    # -- changing ---------------------------------------------------------------------

    def update(
        self,
        name: str,
        record_id: int,
        changes: Mapping[str, Any] | Callable[[dict[str, Any]], None],
        *,
        parent_id: int | None = None,
        at: dt.datetime | None = None,
        updated_by: str = "PodiumSim",
    ) -> dict[str, Any]:
        """Change a record as an edit in ConnectWise would, moving ``_info.lastUpdated`` to ``at`` (now).

        ``changes`` maps top-level fields to new values (None removes the field, as
        ConnectWise omits empty ones), or is a function that edits the record in place.
        """
        resource = RESOURCES[name]
        record = self.get(resource, record_id, parent_id)
        if record is None:
            raise KeyError(f"{name} {record_id} does not exist")
        if callable(changes):
            changes(record)
        else:
            for key, value in changes.items():
                if value is None:
                    record.pop(key, None)
                else:
                    record[key] = value
        info = record.setdefault("_info", {})
        info["lastUpdated"] = utc_stamp(at)
        info["updatedBy"] = updated_by
        self._write(resource, record_id, parent_id, record, replace=True)
        return record

    def insert(self, name: str, record: dict[str, Any], *, parent_id: int | None = None) -> dict[str, Any]:
        """Add a record; one without an ``id`` gets the next free one."""
        resource = RESOURCES[name]
        table = self.tables[name]
        if "id" not in record:
            with self.engine.connect() as conn:
                record = {"id": int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1,
                          **record}
        self._write(resource, record["id"], parent_id, record, replace=False)
        return record

    def replace(self, name: str, record_id: int, record: dict[str, Any], *, parent_id: int | None = None) -> None:
        self._write(RESOURCES[name], record_id, parent_id, record, replace=True)

    def delete(self, name: str, record_id: int, *, parent_id: int | None = None) -> bool:
        table = self.tables[name]
        with self.engine.begin() as conn:
            result = conn.execute(delete(table).where(
                table.c.parent_id == (TOP_LEVEL if parent_id is None else parent_id), table.c.id == record_id,
            ))
        return result.rowcount > 0

    def _write(self, resource: Resource, record_id: int, parent_id: int | None, record: dict[str, Any],
               *, replace: bool) -> None:
        row = self._row(resource, parent_id, record)
        table = self.tables[resource.name]
        with self.engine.begin() as conn:
            if replace:
                conn.execute(update(table).where(
                    table.c.parent_id == row["parent_id"], table.c.id == record_id,
                ).values(last_updated=row["last_updated"], record=record))
            else:
                conn.execute(insert(table), [row])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the server's threads read while a test or the live mode writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
