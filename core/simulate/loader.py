"""The canonical loader: a simulated world straight into the store, for one tenant.

Tests and demos that need data but no vendor use this instead of a sync. It goes through
the same doors real data does, so what it leaves behind is what a sync would: org data
through :mod:`podium.org.csvio` (validated, effective-dated, audited), identities linked
to people by e-mail through the resolver (so the audit trail holds real
``identity.link`` events), and vendor records as rows of a ``simulated`` Connection,
upserted in batches on their canonical unique keys — so loading the same world again
changes nothing.

Streams are consumed batch by batch (tickets with their events, time entries and
surveys, in one pass), so loading the large world needs no more memory than the small one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.db import upsert
from podium.models import Connection, Tenant, utcnow
from podium.org import csvio, identities
from podium.runtime import Podium
from podium.schemas.canonical import ENTITY_MODELS, REFERENCES, UPSERT_KEYS
from podium.simulate.catalog import CONNECTION_NAME
from podium.simulate.records import Record
from podium.simulate.world import World

VENDOR = "simulated"
ACTOR = "system:simulate"
T = TypeVar("T")
Progress = Callable[[str, int], None]
"""Called with (entity, records just stored) after each batch."""


class LoadError(RuntimeError):
    """A record refers to one the world never produced (a bug in the world)."""


@dataclass
class LoadReport:
    tenant_id: int
    connection_id: int
    records: Counter[str] = field(default_factory=Counter)
    """Records written per canonical entity (inserted or updated)."""
    org: dict[str, csvio.ImportResult] = field(default_factory=dict)
    linked: int = 0
    """Identities linked to people by e-mail in this run."""


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def tenant_for(podium: Podium, world: World, slug: str | None = None) -> int:
    """The id of tenant ``slug`` (default: the world's), created with the world's settings."""
    slug = slug or world.tenant["slug"]
    with podium.db.session() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.slug == slug)).first()
        if tenant is None:
            tenant = Tenant(**{**world.tenant, "slug": slug})
            session.add(tenant)
            session.flush()
        return tenant.id


def _connection(podium: Podium, session: Session, world: World) -> int:
    existing = session.scalars(
        select(Connection).where(Connection.vendor == VENDOR, Connection.name == CONNECTION_NAME)
    ).first()
    if existing is not None:
        return existing.id
    config = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in dataclasses.asdict(world.config).items()}
    connection = Connection(
        vendor=VENDOR, name=CONNECTION_NAME, config_encrypted=podium.secrets.encrypt(config), status="ok"
    )
    session.add(connection)
    session.flush()
    return connection.id


class _Writer:
    """Turns canonical records into rows (references resolved) and upserts them."""

    def __init__(self, tenant_id: int, connection_id: int, report: LoadReport, progress: Progress | None) -> None:
        self.tenant_id, self.connection_id = tenant_id, connection_id
        self.report, self.progress = report, progress
        self.lookups: dict[str, dict[str, int]] = {}

    def remember(self, session: Session, entity: str, external_ids: Iterable[str] | None = None) -> None:
        """Load external id → row id of ``entity`` (all of them, or just ``external_ids``)."""
        model = ENTITY_MODELS[entity]
        statement = select(model.external_id, model.id).where(model.connection_id == self.connection_id)
        if external_ids is not None:
            statement = statement.where(model.external_id.in_(list(external_ids)))
            self.lookups[entity] = {}
        self.lookups.setdefault(entity, {}).update(dict(session.execute(statement).all()))

    def write(self, session: Session, entity: str, records: list[Record]) -> None:
        if not records:
            return
        model = ENTITY_MODELS[entity]
        columns = model.__table__.c
        now = utcnow()
        rows = []
        for record in records:
            row: dict[str, Any] = dict(record.data)
            for name, (target, column) in REFERENCES[entity].items():
                external_id = row.pop(name)
                row[column] = self._resolve(entity, target, external_id) if external_id is not None else None
            row["tenant_id"] = self.tenant_id
            if "connection_id" in columns:
                row["connection_id"] = self.connection_id
            if "synced_at" in columns:
                row["synced_at"] = now
            rows.append(row)
        upsert(session, model, rows, UPSERT_KEYS[entity])
        self.report.records[entity] += len(rows)
        if self.progress:
            self.progress(entity, len(rows))

    def _resolve(self, entity: str, target: str, external_id: str) -> int:
        try:
            return self.lookups[target][external_id]
        except KeyError:
            raise LoadError(f"{entity} refers to {target} {external_id!r}, which the world did not produce") from None


ORG_BEFORE_RECORDS = ("people", "teams", "calendars", "holidays")
"""Org data that refers to nothing synced: imported before a vendor's records."""
ORG_AFTER_RECORDS = ("memberships", "facts", "responsibilities", "availability", "mappings")
"""Org data that names clients or linked people: imported once the records are in."""


def load_org(
    podium: Podium, tenant_id: int, world: World, kinds: Iterable[str], *, connection: str | None = None
) -> dict[str, Any]:
    """Import the world's org data of ``kinds`` through the CSV importer (audited, all or nothing).

    ``connection`` names the connection whose clients the responsibilities refer to, for
    a world whose records arrived through a vendor simulator rather than :func:`load_world`.
    """
    results: dict[str, Any] = {}
    with podium.db.session(tenant_id) as session:
        for kind in kinds:
            rows = world.org_rows(kind)
            if connection is not None:
                rows = [{**row, "connection": connection} if "connection" in row else row for row in rows]
            results[kind] = csvio.import_rows(session, kind, rows, actor=ACTOR, source="simulate")
    return results


def load_world(
    podium: Podium,
    world: World,
    *,
    tenant_slug: str | None = None,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> LoadReport:
    """Store ``world`` for tenant ``tenant_slug`` (created if missing); safe to repeat."""
    db = podium.db
    tenant_id = tenant_for(podium, world, tenant_slug)
    with db.session(tenant_id) as session:
        report = LoadReport(tenant_id, _connection(podium, session, world))
    writer = _Writer(tenant_id, report.connection_id, report, progress)

    def import_org(*kinds: str) -> None:
        report.org.update(load_org(podium, tenant_id, world, kinds))

    import_org(*ORG_BEFORE_RECORDS)
    with db.session(tenant_id) as session:
        writer.write(session, "identity", list(world.identities()))
        writer.write(session, "client", list(world.client_records()))
        report.linked = len(identities.link_by_email(session, ACTOR).linked)
        writer.remember(session, "identity")
        writer.remember(session, "client")
    import_org(*ORG_AFTER_RECORDS)

    with db.session(tenant_id) as session:
        writer.write(session, "agreement", list(world.agreement_records()))
        writer.write(session, "endpoint", list(world.endpoints()))
        writer.remember(session, "endpoint")
    for batch in _batches(world.invoices(), batch_size):
        with db.session(tenant_id) as session:
            writer.write(session, "invoice", batch)
    with db.session(tenant_id) as session:
        writer.remember(session, "invoice")
    for batch in _batches(world.payments(), batch_size):
        with db.session(tenant_id) as session:
            writer.write(session, "payment", batch)
    for batch in _batches(world.endpoint_statuses(), batch_size * 5):
        with db.session(tenant_id) as session:
            writer.write(session, "endpoint_status", batch)

    for project in world.projects:
        record, tickets, events, entries = world.project_records(project)
        with db.session(tenant_id) as session:
            writer.write(session, "project", [record])
            writer.remember(session, "project", [record.data["external_id"]])
            _write_work(session, writer, tickets, events, entries, [])
    for stories in _batches(world.stories(), batch_size):
        with db.session(tenant_id) as session:
            _write_work(
                session,
                writer,
                [s.ticket for s in stories],
                [e for s in stories for e in s.events],
                [e for s in stories for e in s.time_entries],
                [s.survey for s in stories if s.survey],
            )
    for batch in _batches(world.daily_entries(), batch_size * 5):
        with db.session(tenant_id) as session:
            writer.write(session, "time_entry", batch)
    db.analyze(*(ENTITY_MODELS[entity].__tablename__ for entity in report.records))
    return report


def _write_work(
    session: Session,
    writer: _Writer,
    tickets: list[Record],
    events: list[Record],
    entries: list[Record],
    surveys: list[Record],
) -> None:
    """Tickets first, then what refers to them (the batch's ticket ids are looked up once)."""
    writer.write(session, "ticket", tickets)
    writer.remember(session, "ticket", [t.data["external_id"] for t in tickets])
    writer.write(session, "ticket_event", events)
    writer.write(session, "time_entry", entries)
    writer.write(session, "survey", surveys)
