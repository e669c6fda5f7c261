"""Deletions: the nightly id reconciliation, against the ConnectWise simulator over real HTTP.

A window scan only sees records that still exist, so a ticket deleted in ConnectWise would
stay in Podium forever; :func:`podium.sync.reconcile_ids` lists every id ConnectWise still
has and deletes the rest. These tests delete records in the simulator's own store and check
that exactly those leave Podium — on SQLite and PostgreSQL — that a vendor error or an empty
listing deletes nothing, and that the scheduler queues the job once a night.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from podium import hookimpl
from podium.config import Config
from podium.connections import update_config
from podium.dbqueue import DbQueueWorker
from podium.jobs import pending_jobs
from podium.models import Connection, SyncRun, SyncState, Ticket, TicketEvent, TimeEntry, utcnow
from podium.runtime import Podium
from podium.scheduler import Scheduler, reconcile_hour
from podium.schemas.canonical import ENTITY_MODELS
from podium.sync import reconcile_ids, sync_connection, sync_entity
from podium_connectwise.simulator import WorldStore
from sqlalchemy import func, select

from tests.connectwise.live import serve_live

if TYPE_CHECKING:
    from tests.connectwise.conftest_connector import Kit

pytest_plugins = ("tests.connectwise.conftest_connector",)
"""The ConnectWise connector's fixtures: a small world served by the simulator, a runtime that loads it."""

SYNCED = ("identity", "client", "project", "ticket", "ticket_event", "time_entry")
KEPT = ("identity", "client", "project", "time_entry")


class Changes:
    """A plugin recording ``podium_records_changed`` calls (what the metric engine is told)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    @hookimpl
    def podium_records_changed(self, entity: str, external_ids: list[str]) -> None:
        self.calls.append((entity, list(external_ids)))


def sync(podium: Podium, tenant_id: int, connection_id: int, *entities: str) -> None:
    results = [sync_entity(podium, tenant_id, connection_id, entity) for entity in entities]
    assert all(r.ok for r in results), [r.error for r in results]


def stored_ids(podium: Podium, tenant_id: int, entity: str) -> set[str]:
    model = ENTITY_MODELS[entity]
    with podium.db.session(tenant_id) as session:
        return set(session.scalars(select(model.external_id)))


def store_records(store: WorldStore, resource: str) -> list[dict[str, Any]]:
    table = store.tables[resource]
    with store.engine.connect() as conn:
        return [row.record for row in conn.execute(select(table.c.record).order_by(table.c.id))]


def ticket_with_time_and_history(podium: Podium, tenant_id: int, store: WorldStore) -> str:
    """A service ticket that has time entries and ticket events in Podium."""
    charged = {str(e["chargeToId"]) for e in store_records(store, "time_entries") if e["chargeToType"] == "ServiceTicket"}
    with podium.db.session(tenant_id) as session:
        with_events = set(session.scalars(select(Ticket.external_id).join(TicketEvent, TicketEvent.ticket_id == Ticket.id)))
    service = {str(t["id"]) for t in store_records(store, "service_tickets")}
    return min(service & charged & with_events, key=int)


def run_row(podium: Podium, tenant_id: int, run_id: int | None) -> SyncRun:
    with podium.db.session(tenant_id) as session:
        return session.get_one(SyncRun, run_id)


def scan_state(podium: Podium, tenant_id: int, entity: str) -> tuple[Any, ...]:
    with podium.db.session(tenant_id) as session:
        state = session.scalars(select(SyncState).where(SyncState.entity == entity)).one()
        return state.status, state.watermark, state.last_error


def test_a_ticket_deleted_in_connectwise_leaves_podium_and_nothing_else_does(
    cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_store: WorldStore
) -> None:
    sync(cw_podium, cw_tenant, cw_connection, *SYNCED)
    gone = ticket_with_time_and_history(cw_podium, cw_tenant, cw_store)
    tickets = stored_ids(cw_podium, cw_tenant, "ticket")
    kept = {entity: stored_ids(cw_podium, cw_tenant, entity) for entity in KEPT}
    with cw_podium.db.session(cw_tenant) as session:
        other_events = session.scalar(select(func.count()).select_from(TicketEvent).join(Ticket).where(
            Ticket.external_id != gone))
    state = scan_state(cw_podium, cw_tenant, "ticket")
    cw_store.delete("service_tickets", int(gone))
    changes = Changes()
    cw_podium.plugins.pm.register(changes, name="changes")

    result = reconcile_ids(cw_podium, cw_tenant, cw_connection, "ticket")

    assert result.ok, result.error
    assert (result.fetched, result.deleted, result.upserted) == (len(tickets) - 1, 1, 0)
    assert stored_ids(cw_podium, cw_tenant, "ticket") == tickets - {gone}
    assert {entity: stored_ids(cw_podium, cw_tenant, entity) for entity in KEPT} == kept
    with cw_podium.db.session(cw_tenant) as session:
        # Its time entries stay (work was done), no longer linked; its history goes with it.
        assert session.scalar(select(func.count()).select_from(TimeEntry).where(TimeEntry.ticket_id.is_(None))) > 0
        assert session.scalar(select(func.count()).select_from(TicketEvent)) == other_events
    assert changes.calls == [("ticket", [gone])]
    run = run_row(cw_podium, cw_tenant, result.run_id)
    assert (run.entity, run.status, run.trigger, run.deleted) == ("ticket:reconcile", "succeeded", "scheduler", 1)
    assert scan_state(cw_podium, cw_tenant, "ticket") == state  # the scan's window is not the reconciliation's

    again = reconcile_ids(cw_podium, cw_tenant, cw_connection, "ticket", trigger="cli")
    assert again.ok and again.deleted == 0 and changes.calls == [("ticket", [gone])]


def test_a_vendor_error_while_listing_deletes_nothing(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_store: WorldStore
) -> None:
    with serve_live(cw_store) as live:
        connection_id = cw.connection(cw_podium, cw_tenant, cw.config(live))
        sync(cw_podium, cw_tenant, connection_id, "identity", "client", "project", "ticket")
    tickets = stored_ids(cw_podium, cw_tenant, "ticket")
    cw_store.delete("service_tickets", int(min(tickets, key=int)))
    state = scan_state(cw_podium, cw_tenant, "ticket")
    # Service tickets are listed; the project tickets' page is refused for ten minutes.
    with serve_live(cw_store, rate_limit_per_minute=1, rate_window_seconds=600) as limited:
        with cw_podium.db.session(cw_tenant) as session:
            update_config(cw_podium, session.get_one(Connection, connection_id), {"site": limited.site})
        result = reconcile_ids(cw_podium, cw_tenant, connection_id, "ticket")

    assert result.status == "failed" and "429" in result.error and result.deleted == 0
    assert stored_ids(cw_podium, cw_tenant, "ticket") == tickets
    assert run_row(cw_podium, cw_tenant, result.run_id).status == "failed"
    assert scan_state(cw_podium, cw_tenant, "ticket") == state


def test_an_empty_listing_is_refused_rather_than_deleting_everything(
    cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_store: WorldStore
) -> None:
    sync(cw_podium, cw_tenant, cw_connection, "identity", "client", "project")
    projects = stored_ids(cw_podium, cw_tenant, "project")
    assert projects
    for project in store_records(cw_store, "projects"):
        cw_store.delete("projects", project["id"])

    result = reconcile_ids(cw_podium, cw_tenant, cw_connection, "project")

    assert result.status == "stopped" and "listed no project records" in result.error
    assert stored_ids(cw_podium, cw_tenant, "project") == projects


def test_reconciliation_is_due_once_a_night_and_not_before_a_first_sync(
    cw_podium: Podium, cw_tenant: int, cw_connection: int
) -> None:
    scheduler = Scheduler(cw_podium)
    noon = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)

    def due(now: dt.datetime) -> list[str]:
        return [d.entity for d in scheduler.due_reconciliations(now) if d.connection_id == cw_connection]

    def ran(entity: str, started: dt.datetime) -> None:
        with cw_podium.db.session(cw_tenant) as session:
            session.add(SyncRun(connection_id=cw_connection, entity=entity, started_at=started, status="succeeded",
                                trigger="scheduler"))

    assert due(noon) == []  # nothing synced yet, nothing to reconcile
    ran("ticket", noon - dt.timedelta(days=1))
    ran("identity", noon - dt.timedelta(hours=8))  # first synced after last night's 03:00
    assert due(noon) == ["ticket"]
    ran("ticket:reconcile", noon - dt.timedelta(hours=8, minutes=55))  # 03:05: tonight's is done
    assert due(noon) == []
    assert due(noon + dt.timedelta(hours=15)) == ["identity", "ticket"]  # 03:00 the next night
    # A reconciliation is not a scan: the ticket scan is still due on its own interval.
    assert "ticket" in [d.entity for d in scheduler.due(noon - dt.timedelta(hours=8, minutes=50))]


def test_the_scheduler_queues_a_nightly_job_that_the_worker_runs(
    cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_store: WorldStore
) -> None:
    results = sync_connection(cw_podium, cw_tenant, cw_connection)
    assert all(r.ok for r in results), [r.error for r in results]
    now = utcnow()
    with cw_podium.db.session(cw_tenant) as session:  # tickets were first synced two days ago
        session.add(SyncRun(connection_id=cw_connection, entity="ticket", started_at=now - dt.timedelta(days=2),
                            status="succeeded", trigger="scheduler"))
    gone = ticket_with_time_and_history(cw_podium, cw_tenant, cw_store)
    cw_store.delete("service_tickets", int(gone))

    first, second = Scheduler(cw_podium).tick(now), Scheduler(cw_podium).tick(now)
    assert [e.created for e in first] == [True] and [e.id for e in second] == [e.id for e in first]
    [job] = pending_jobs(cw_podium)
    assert (job["type"], job["args"]["entity"], job["args"]["trigger"]) == ("reconcile_ids", "ticket", "scheduler")
    DbQueueWorker(cw_podium, schedule=False).work(burst=True)

    assert gone not in stored_ids(cw_podium, cw_tenant, "ticket")
    assert pending_jobs(cw_podium) == [] and Scheduler(cw_podium).tick(now) == []


def test_the_reconciliation_hour_is_read_from_the_environment_and_checked(tmp_path: Path) -> None:
    def hour(env: dict[str, str]) -> int:
        return reconcile_hour(Config.from_env(env, instance_path=tmp_path))

    assert hour({}) == 3
    assert hour({"PODIUM_RECONCILE_HOUR_UTC": "22"}) == 22
    with pytest.raises(ValueError, match="reconcile_hour_utc must be an hour from 0 to 23"):
        hour({"PODIUM_RECONCILE_HOUR_UTC": "24"})
