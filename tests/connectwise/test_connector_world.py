"""The key property: the world synced through the simulator equals the world loaded directly.

The canonical loader (:mod:`podium.simulate.loader`) stores the world's records as they
are; the sync stores what the connector made of the simulator's ConnectWise JSON over
real HTTP, driven by the real engine. Both land in the same database (SQLite and
PostgreSQL), in two tenants, and every table is compared row by row on the fields both
paths supply. The intended differences are the ones docs/connectwise.md lists:

* identity ``raw``: the connector keeps ConnectWise's licence class and member type;
* ticket SLA due times and configuration: ConnectWise's ticket record carries neither
  (Podium's calendars compute due times; configurations cost a request per ticket);
* ticket ``created_at`` is compared to the second: ConnectWise keeps whole seconds, and
  the world gives duplicate tickets sub-second creation times;
* project billable amount and currency, agreement revenue category: not in ConnectWise's
  records (the category is Podium's ``agreement_type`` mapping);
* ticket events: a reassignment is an owner change between two different people; the
  world also lists a first assignment (from nobody) and, in tiny worlds, a hand-over to
  the same person as reassignments.
"""

from __future__ import annotations

from typing import Any

from podium.models import Identity, Ticket, TicketEvent
from podium.runtime import Podium
from podium.schemas.canonical import ENTITY_MODELS
from podium.simulate import World
from podium.simulate.loader import load_world
from podium.stored_records import StoredRecords
from podium.sync import sync_connection
from podium_connectwise.connector import ConnectWiseManage as cw_source
from sqlalchemy import select

IGNORED = {
    "identity": {"raw"},
    "ticket": {"sla_response_due_at", "sla_resolution_due_at", "configuration_external_id"},
    "project": {"billable_minor", "currency"},
    "agreement": {"category"},
}
ENTITIES = ("identity", "client", "project", "ticket", "time_entry", "survey", "agreement", "invoice", "payment")

pytest_plugins = ("tests.connectwise.conftest_connector",)
"""The connector's fixtures (tests/connectwise/conftest.py belongs to the simulator's tests)."""


def records(podium: Podium, tenant_id: int, connection_id: int, entity: str) -> dict[str, dict[str, Any]]:
    model = ENTITY_MODELS[entity]
    with podium.db.session(tenant_id) as session:
        ids = session.scalars(select(model.external_id).where(model.connection_id == connection_id)).all()
    return StoredRecords(podium.db, tenant_id, connection_id)(entity, ids)


def comparable(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in record.items() if k not in IGNORED.get(entity, set())}
    if entity == "ticket":
        values["created_at"] = values["created_at"].replace(microsecond=0)
    return values


def events(podium: Podium, tenant_id: int, connection_id: int) -> set[tuple[Any, ...]]:
    with podium.db.session(tenant_id) as session:
        rows = session.execute(
            select(Ticket.external_id, TicketEvent.kind, TicketEvent.at, Identity.external_id,
                   TicketEvent.from_value, TicketEvent.to_value, TicketEvent.source)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .outerjoin(Identity, Identity.id == TicketEvent.actor_identity_id)
            .where(TicketEvent.connection_id == connection_id)
        ).all()
    return {tuple(row) for row in rows}


def test_synced_world_equals_loaded_world_and_a_second_sync_changes_nothing(
    cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_world: World
) -> None:
    results = sync_connection(cw_podium, cw_tenant, cw_connection)
    assert [r.status for r in results] == ["succeeded"] * len(results), [r.error for r in results if not r.ok]
    assert all(r.quarantined == 0 and r.deferred == 0 for r in results)

    report = load_world(cw_podium, cw_world, tenant_slug="loaded")
    synced_by_entity = {}
    for entity in ENTITIES:
        loaded = records(cw_podium, report.tenant_id, report.connection_id, entity)
        synced = synced_by_entity[entity] = records(cw_podium, cw_tenant, cw_connection, entity)
        assert loaded, f"the world has no {entity} records: the comparison would prove nothing"
        assert set(synced) == set(loaded), entity
        for external_id, record in loaded.items():
            assert comparable(entity, synced[external_id]) == comparable(entity, record), (entity, external_id)

    loaded_events = events(cw_podium, report.tenant_id, report.connection_id)
    synced_events = events(cw_podium, cw_tenant, cw_connection)
    not_reassignments = {e for e in loaded_events if e[1] == "reassignment" and e[4] in (None, e[5])}
    assert not_reassignments and synced_events == loaded_events - not_reassignments
    assert {"status_change", "reassignment", "reopen", "escalation"} <= {e[1] for e in synced_events}

    # Nothing changed since: every incremental window is empty and the store stays as it is.
    again = sync_connection(cw_podium, cw_tenant, cw_connection)
    assert all(r.ok for r in again)
    assert {r.entity: r.fetched for r in again if r.entity in cw_source.incremental} == dict.fromkeys(
        cw_source.incremental, 0
    )
    for entity in ENTITIES:
        assert records(cw_podium, cw_tenant, cw_connection, entity) == synced_by_entity[entity], entity
    assert events(cw_podium, cw_tenant, cw_connection) == synced_events
