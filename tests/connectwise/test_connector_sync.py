"""The connector driven by the real sync engine against the simulator, over real HTTP.

Paging across page boundaries in both of ConnectWise's modes, the window conditions it
sends, 429s with ``Retry-After``, a sync stopped by the vendor and resumed from its
cursor, records changing while they are paged, incremental history from the audit trail
and from snapshots, each audit trail asked for once per connection sync, deletions found
by id reconciliation, one-record fetches, UI links
and org-data suggestions. Which requests reached the simulator is read from its own
request log (Werkzeug logs every request line).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import pytest
from podium import hookimpl
from podium.connections import update_config
from podium.http import Redactor, RetryPolicy, SourceContext
from podium.models import (
    Connection,
    Identity,
    Mapping,
    SyncRun,
    SyncState,
    Team,
    Ticket,
    TicketEvent,
)
from podium.org import csvio
from podium.runtime import Podium
from podium.sync import fetch_records, sync_connection, sync_entity
from podium_connectwise.connector import ConnectWiseManage
from podium_connectwise.schema import ConnectWiseConfigSchema
from podium_connectwise.simulator import WorldStore
from sqlalchemy import func, select

from tests.connectwise.live import Live, serve_live

ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""Werkzeug colours the request line of an error answer."""
REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')

if TYPE_CHECKING:
    from tests.connectwise.conftest_connector import Kit

pytest_plugins = ("tests.connectwise.conftest_connector",)
"""The connector's fixtures (tests/connectwise/conftest.py belongs to the simulator's tests)."""


class SimulatorLog:
    """The simulator's request lines, as Werkzeug logs them."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        caplog.set_level(logging.INFO, logger="werkzeug")

    def lines(self) -> list[tuple[str, str]]:
        """(status, unquoted target) of every request so far."""
        found = []
        for record in self.caplog.records:
            match = REQUEST_LINE.search(ANSI.sub("", record.getMessage())) if record.name == "werkzeug" else None
            if match:
                found.append((match["status"], unquote_plus(match["target"])))
        return found

    def clear(self) -> None:
        self.caplog.clear()


@pytest.fixture
def sim_log(caplog: pytest.LogCaptureFixture) -> SimulatorLog:
    return SimulatorLog(caplog)


def count(podium: Podium, tenant_id: int, model: Any) -> int:
    with podium.db.session(tenant_id) as session:
        return session.scalar(select(func.count()).select_from(model))


def sync(podium: Podium, tenant_id: int, connection_id: int, *entities: str) -> list[Any]:
    results = [sync_entity(podium, tenant_id, connection_id, entity) for entity in entities]
    assert all(r.ok for r in results), [r.error for r in results]
    return results


def wait_past(instant: dt.datetime) -> None:
    """Let the clock leave ``instant``'s second: a window ends at the second its scan starts,
    so a change made in that very second belongs to the next window (at most a second's wait)."""
    left = (instant.replace(microsecond=0) + dt.timedelta(seconds=1) - dt.datetime.now(dt.UTC))
    time.sleep(max(0.0, left.total_seconds()))


def watermark(podium: Podium, tenant_id: int, *entities: str) -> dt.datetime:
    """The latest watermark of ``entities``: a change after it is in every one's next window."""
    with podium.db.session(tenant_id) as session:
        return max(session.scalars(select(SyncState.watermark).where(SyncState.entity.in_(entities))))


def store_rows(store: WorldStore, resource: str) -> list[dict[str, Any]]:
    """Every record the simulator holds for ``resource`` (under any parent), by id."""
    table = store.tables[resource]
    with store.engine.connect() as conn:
        return [row.record for row in conn.execute(select(table.c.record).order_by(table.c.id))]


def store_ids(store: WorldStore, resource: str) -> set[str]:
    return {str(record["id"]) for record in store_rows(store, resource)}


# -- paging and conditions ------------------------------------------------------------------


def test_pages_cross_boundaries_in_both_paging_modes(
    cw: Kit, cw_live: Live, cw_store: WorldStore, sim_log: SimulatorLog
) -> None:
    """Entities page forward-only (keyset on id); lookups page navigably, following Link rel=next."""
    podium = cw.podium(sync_batch_size=2)
    tenant_id = cw.tenant(podium)
    connection_id = cw.connection(podium, tenant_id, cw.config(cw_live))
    sync(podium, tenant_id, connection_id, "identity")
    assert count(podium, tenant_id, Identity) == len(store_ids(cw_store, "members")) > 2 * 3
    targets = [target for status, target in sim_log.lines() if status == "200"]
    forward = [t for t in targets if "/system/members?" in t and "pageId=" in t]
    assert len(forward) >= 3, "members page forward-only past several page boundaries"
    window = [t for t in targets if "/system/members?" in t and "conditions=" in t]
    assert window and all(re.search(r"conditions=lastUpdated<\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\]", t) for t in window)

    source = cw.source(cw_live, SourceContext("test", None, RetryPolicy(max_attempts=1), Redactor(), page_size=3))
    sim_log.clear()
    statuses = list(source.api.every("service/boards/1/statuses"))
    assert [s["id"] for s in statuses] == sorted(s["id"] for s in store_rows(cw_store, "board_statuses")
                                                 if s["board"]["id"] == 1)
    pages = [t for _, t in sim_log.lines() if "/statuses?" in t]
    assert len(pages) == -(-len(statuses) // 3) > 1 and any("page=2" in t for t in pages)
    source.context.close()


def test_rate_limited_requests_wait_for_retry_after(
    cw: Kit, cw_store: WorldStore, sim_log: SimulatorLog
) -> None:
    podium = cw.podium(sync_batch_size=3)
    tenant_id = cw.tenant(podium)
    with serve_live(cw_store, rate_limit_per_minute=2, rate_window_seconds=1) as live:
        connection_id = cw.connection(podium, tenant_id, cw.config(live))
        sync(podium, tenant_id, connection_id, "identity")
    assert count(podium, tenant_id, Identity) == len(store_ids(cw_store, "members"))
    assert any(status == "429" for status, _ in sim_log.lines())
    assert any("Too many requests" in r.getMessage() and "retrying" in r.getMessage()
               for r in sim_log.caplog.records if r.name == "podium.http")


def test_a_sync_stopped_by_the_vendor_resumes_from_its_cursor(
    cw: Kit, cw_store: WorldStore
) -> None:
    """A 429 asking to wait ten minutes (past http_retry_max_wait) ends the run "failed" with
    its cursor kept; the next run, against the same data, fetches only what was left."""
    podium = cw.podium(sync_batch_size=2)
    tenant_id = cw.tenant(podium)
    members = store_ids(cw_store, "members")
    with serve_live(cw_store, rate_limit_per_minute=3, rate_window_seconds=600) as limited:
        connection_id = cw.connection(podium, tenant_id, cw.config(limited))
        first = sync_entity(podium, tenant_id, connection_id, "identity")
    assert first.status == "failed" and "429" in first.error and 0 < first.fetched < len(members)
    with podium.db.session(tenant_id) as session:
        state = session.scalars(select(SyncState).where(SyncState.entity == "identity")).one()
        assert state.cursor["stream"] == "system/members" and state.watermark is None
        assert state.last_error == first.error
    with serve_live(cw_store) as live:
        with podium.db.session(tenant_id) as session:
            update_config(podium, session.get(Connection, connection_id), {"site": live.site})
        second = sync_entity(podium, tenant_id, connection_id, "identity")
    assert second.ok and second.fetched == len(members) - first.fetched
    with podium.db.session(tenant_id) as session:
        assert set(session.scalars(select(Identity.external_id))) == members
        assert session.scalars(select(SyncState.watermark).where(SyncState.entity == "identity")).one()


def test_a_refused_audit_trail_fails_its_page_and_the_next_run_resumes(
    cw: Kit, cw_store: WorldStore
) -> None:
    """Audit trails are fetched a few at a time; one refused (a 429 asking to wait ten
    minutes) fails the run without landing any of its page, and the next run resumes there."""
    podium = cw.podium(sync_batch_size=10)
    tenant_id = cw.tenant(podium)
    tickets = store_ids(cw_store, "service_tickets") | store_ids(cw_store, "project_tickets")
    with serve_live(cw_store) as live:
        connection_id = cw.connection(podium, tenant_id, cw.config(live))
        sync(podium, tenant_id, connection_id, "identity", "client", "project")

    def point_at(site: str) -> None:
        with podium.db.session(tenant_id) as session:
            update_config(podium, session.get_one(Connection, connection_id), {"site": site})

    with serve_live(cw_store, rate_limit_per_minute=40, rate_window_seconds=600) as limited:
        point_at(limited.site)
        first = sync_entity(podium, tenant_id, connection_id, "ticket")
    assert first.status == "failed" and "429" in first.error and "audittrail" in first.error
    assert first.fetched % 10 == 0 and count(podium, tenant_id, Ticket) == first.upserted < len(tickets)
    with serve_live(cw_store) as live:
        point_at(live.site)
        second = sync_entity(podium, tenant_id, connection_id, "ticket")
    assert second.ok and second.fetched == len(tickets) - first.fetched
    with podium.db.session(tenant_id) as session:
        assert set(session.scalars(select(Ticket.external_id))) == tickets


class TicketEditor:
    """A plugin that edits two tickets in ConnectWise right after the first ticket page lands."""

    def __init__(self, store: WorldStore, early: int, late: int) -> None:
        self.store, self.early, self.late, self.done = store, early, late, False

    @hookimpl
    def podium_records_changed(self, entity: str, external_ids: list[str]) -> None:
        if entity == "ticket" and not self.done:
            self.done = True
            assert str(self.early) in external_ids and str(self.late) not in external_ids
            for ticket_id in (self.early, self.late):
                self.store.update("service_tickets", ticket_id, {"summary": f"edited while paging {ticket_id}"})


def test_records_changed_while_paging_are_neither_lost_nor_skipped(
    cw: Kit, cw_live: Live, cw_store: WorldStore
) -> None:
    podium = cw.podium(sync_batch_size=10)
    tenant_id = cw.tenant(podium)
    connection_id = cw.connection(podium, tenant_id, cw.config(cw_live))
    sync(podium, tenant_id, connection_id, "identity", "client")
    ids = sorted(int(i) for i in store_ids(cw_store, "service_tickets"))
    editor = TicketEditor(cw_store, ids[0], ids[-1])
    podium.plugins.pm.register(editor, name="ticket-editor")

    sync(podium, tenant_id, connection_id, "ticket")
    with podium.db.session(tenant_id) as session:
        summaries = dict(session.execute(select(Ticket.external_id, Ticket.summary)).all())
    assert editor.done
    wait_past(dt.datetime.now(dt.UTC))  # the edits' second is over before the next scan
    # Every ticket that did not change is there; the one edited ahead of the scan left the
    # window (it changed after the scan began) and waits for the next one.
    assert set(summaries) == {str(i) for i in ids[:-1]} | store_ids(cw_store, "project_tickets")
    assert not summaries[str(ids[0])].startswith("edited")

    second = sync(podium, tenant_id, connection_id, "ticket")[0]
    with podium.db.session(tenant_id) as session:
        summaries = dict(session.execute(select(Ticket.external_id, Ticket.summary)).all())
    assert second.fetched == 2
    assert summaries[str(ids[0])] == f"edited while paging {ids[0]}"
    assert summaries[str(ids[-1])] == f"edited while paging {ids[-1]}"


# -- incremental history ------------------------------------------------------------------------


def closed_ticket_and_another_technician(store: WorldStore) -> tuple[dict[str, Any], dict[str, Any]]:
    ticket = next(t for t in store_rows(store, "service_tickets")
                  if t.get("closedFlag") and t.get("owner") and t["board"]["name"] == "Service Desk")
    other = next(m for m in store_rows(store, "members")
                 if m["licenseClass"] == "F" and m["id"] != ticket["owner"]["id"])
    return ticket, other


def reopen(store: WorldStore, ticket: dict[str, Any], other: dict[str, Any], when: dt.datetime,
           *, trail: bool = True) -> None:
    """The ticket's owner reopens it and hands it to ``other``; with ``trail``, ConnectWise's
    audit entries for both changes are written too."""
    by = ticket["owner"]["identifier"]
    store.update("service_tickets", ticket["id"], {
        "status": {"id": 14, "name": "Reopened"}, "closedFlag": False, "closedDate": None, "closedBy": None,
        "dateResolved": None, "owner": {"id": other["id"], "identifier": other["identifier"]},
    }, at=when, updated_by=by)
    if not trail:
        return
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    # WorldStore.insert numbers records by "id", which audit entries lack; they are appended
    # to the ticket's trail the way WorldStore.load numbers them (per ticket, in order).
    table = store.tables["ticket_audit_trail"]
    with store.engine.begin() as conn:
        last = conn.execute(select(func.max(table.c.id)).where(table.c.parent_id == ticket["id"])).scalar() or 0
        for n, (sub_type, label, before, after) in enumerate(
            (("Status", "Status", "Closed", "Reopened"), ("Owner", "Ticket Owner", by, other["identifier"])), 1
        ):
            conn.execute(table.insert().values(parent_id=ticket["id"], id=last + n, last_updated=None, record={
                "text": f'{label} changed from "{before}" to "{after}"', "enteredDate": stamp, "enteredBy": by,
                "auditType": "Ticket", "auditSubType": sub_type, "auditSource": "Web",
            }))


def events_of(podium: Podium, tenant_id: int, ticket_id: int, when: dt.datetime) -> set[tuple[Any, ...]]:
    with podium.db.session(tenant_id) as session:
        return set(session.execute(
            select(TicketEvent.kind, TicketEvent.from_value, TicketEvent.to_value, TicketEvent.source,
                   Identity.external_id)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .outerjoin(Identity, Identity.id == TicketEvent.actor_identity_id)
            .where(Ticket.external_id == str(ticket_id), TicketEvent.at == when)
        ).all())


def test_an_incremental_sync_brings_only_changes_and_their_history(
    cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_store: WorldStore, sim_log: SimulatorLog
) -> None:
    sync(cw_podium, cw_tenant, cw_connection, "identity", "client", "project", "ticket", "ticket_event")
    ticket, other = closed_ticket_and_another_technician(cw_store)
    when = watermark(cw_podium, cw_tenant, "ticket", "ticket_event") + dt.timedelta(seconds=1)
    sim_log.clear()
    reopen(cw_store, ticket, other, when)
    wait_past(when)

    tickets, _events = sync(cw_podium, cw_tenant, cw_connection, "ticket", "ticket_event")
    assert (tickets.fetched, tickets.upserted) == (1, 1)
    windows = [t for _, t in sim_log.lines() if "/service/tickets?" in t]
    assert windows and all("lastUpdated>=[" in t and "lastUpdated<[" in t for t in windows)
    with cw_podium.db.session(cw_tenant) as session:
        stored = session.scalars(select(Ticket).where(Ticket.external_id == str(ticket["id"]))).one()
        assert (stored.status, stored.status_category, stored.closed, stored.resolved_at) == (
            "Reopened", "open", False, None)
    owner = str(ticket["owner"]["id"])
    assert events_of(cw_podium, cw_tenant, ticket["id"], when) == {
        ("status_change", "Closed", "Reopened", "audit", owner), ("reopen", "Closed", "Reopened", "audit", owner),
        ("reassignment", owner, str(other["id"]), "audit", owner),
    }


def test_past_the_audit_cap_history_comes_from_snapshot_differences(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live, cw_store: WorldStore, sim_log: SimulatorLog
) -> None:
    """With no audit-trail request allowed, a connection sync compares each changed ticket with
    what Podium stored of it (the engine hands the connector its stored records)."""
    connection_id = cw.connection(cw_podium, cw_tenant, cw.config(cw_live, audit_requests_per_sync=0))
    assert all(r.ok for r in sync_connection(cw_podium, cw_tenant, connection_id))
    ticket, other = closed_ticket_and_another_technician(cw_store)
    when = watermark(cw_podium, cw_tenant, "ticket", "ticket_event") + dt.timedelta(seconds=1)
    reopen(cw_store, ticket, other, when, trail=False)
    wait_past(when)

    results = sync_connection(cw_podium, cw_tenant, connection_id)

    assert all(r.ok for r in results), [r.error for r in results]
    assert not any("audittrail" in target for _, target in sim_log.lines())
    owner = str(ticket["owner"]["id"])
    assert events_of(cw_podium, cw_tenant, ticket["id"], when) == {
        ("status_change", "Closed", "Reopened", "snapshot", owner),
        ("reopen", "Closed", "Reopened", "snapshot", owner),
        ("reassignment", owner, str(other["id"]), "snapshot", owner),
    }


def test_a_connection_sync_asks_for_each_audit_trail_and_payment_list_once(
    cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_store: WorldStore, sim_log: SimulatorLog
) -> None:
    """Tickets (their resolver), ticket events and survey attribution read the same audit
    trails, invoices and payments the same payment lists: one connector serves the whole
    connection sync and keeps them."""
    results = sync_connection(cw_podium, cw_tenant, cw_connection)
    assert all(r.ok for r in results), [r.error for r in results]
    targets = [target for status, target in sim_log.lines() if status == "200"]
    trails = [t for t in targets if "/system/audittrail?" in t]
    payments = [t for t in targets if re.search(r"/finance/invoices/\d+/payments\?", t)]
    tickets = store_rows(cw_store, "service_tickets") + store_rows(cw_store, "project_tickets")
    assert len(trails) == len(set(trails)) == len(tickets)
    assert len(payments) == len(set(payments)) > 0


def test_without_an_audit_trail_the_resolver_is_closed_by_only_when_a_technician(
    cw: Kit, cw_live: Live, cw_store: WorldStore
) -> None:
    source = cw.source(cw_live, audit_requests_per_sync=0)
    by_workflow = next(t for t in store_rows(cw_store, "service_tickets") if t.get("closedBy") == "Workflow")
    assert source.fetch_one("ticket", str(by_workflow["id"]))["resolved_by_external_id"] is None
    technician = next(m for m in store_rows(cw_store, "members") if m["licenseClass"] == "F")
    cw_store.update("service_tickets", by_workflow["id"], {"closedBy": technician["identifier"]})
    assert source.fetch_one("ticket", str(by_workflow["id"]))["resolved_by_external_id"] == str(technician["id"])
    with_trail = cw.source(cw_live)
    resolver = with_trail.fetch_one("ticket", str(by_workflow["id"]))["resolved_by_external_id"]
    assert resolver is not None and resolver != str(technician["id"])  # the trail names who resolved it


# -- ids, single records, links, suggestions ------------------------------------------------------


def test_id_reconciliation_and_single_fetches_find_deletions(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_live: Live, cw_store: WorldStore
) -> None:
    sync(cw_podium, cw_tenant, cw_connection, "identity", "client", "project", "ticket")
    tickets = sorted(store_ids(cw_store, "service_tickets") | store_ids(cw_store, "project_tickets"), key=int)
    gone = tickets[len(tickets) // 2]
    cw_store.delete("service_tickets", int(gone))

    source = cw.source(cw_live)
    assert list(source.list_ids("ticket")) == [t for t in tickets if t != gone]
    assert set(source.list_ids("time_entry")) == store_ids(cw_store, "time_entries")
    assert set(source.list_ids("payment")) == store_ids(cw_store, "invoice_payments") != set()
    assert set(source.list_ids("survey")) == store_ids(cw_store, "survey_results") != set()

    kept = min(tickets, key=int)
    result = fetch_records(cw_podium, cw_tenant, cw_connection, "ticket", [kept, gone, kept])
    assert result.ok and (result.fetched, result.upserted, result.deleted) == (2, 1, 1)
    with cw_podium.db.session(cw_tenant) as session:
        present = set(session.scalars(select(Ticket.external_id)).all())
    assert kept in present and gone not in present

    survey = min(store_ids(cw_store, "survey_results"), key=int)
    assert source.fetch_one("survey", survey)["ticket_external_id"] == survey
    assert source.fetch_one("identity", "999999") is None
    member = source.fetch_one("identity", min(store_ids(cw_store, "members"), key=int))
    assert member["vendor_key"] and member["external_id"]


def test_record_urls_open_the_connectwise_ui(cw: Kit, cw_live: Live) -> None:
    config = ConnectWiseConfigSchema().load(cw.config(cw_live))
    source = ConnectWiseManage(config | {"site": "https://api-na.myconnectwise.net", "codebase": "v2025_1/"})
    assert source.record_url("ticket", "10001") == (
        "https://na.myconnectwise.net/v2025_1/services/system_io/Service/fv_sr100_request.rails"
        "?service_recid=10001&companyName=summitridge")
    assert source.record_url("client", "2") == (
        "https://na.myconnectwise.net/v2025_1/services/system_io/router/openrecord.rails?locale=en_US"
        "&companyName=summitridge&recordType=CompanyFV&recid=2")
    assert "recordType=ProjectHeaderFV&recid=1000" in source.record_url("project", "1000")
    assert source.record_url("time_entry", "1") is None and source.record_url("ticket", "../x") is None
    discovered = ConnectWiseManage(config)
    assert discovered.record_url("ticket", "5").startswith(f"{cw_live.site}/v2025_1/services/")


def test_suggestions_import_into_podiums_org_data_unconfirmed(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_connection: int, cw_live: Live
) -> None:
    sync(cw_podium, cw_tenant, cw_connection, "identity")
    source = cw.source(cw_live)
    rows = source.suggestions(None, time_zone="America/Chicago", today=dt.date(2025, 3, 1))
    with cw_podium.db.session(cw_tenant) as session:
        csvio.import_rows(session, "people", csvio.suggestions(session, "people"), actor="test")
        for kind in ("teams", "calendars", "holidays", "memberships", "mappings"):
            assert rows[kind], kind
            assert csvio.import_rows(session, kind, rows[kind], actor="test").created == len(rows[kind]), kind
        mappings = session.scalars(select(Mapping)).all()
        assert mappings and not any(m.confirmed for m in mappings)
        assert {t.name for t in session.scalars(select(Team))} >= {"Help Desk", "Escalations", "Projects"}


def test_refused_keys_stop_the_sync_without_revealing_them(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live
) -> None:
    wrong = "Not-The-Private-Key-42"
    connection_id = cw.connection(cw_podium, cw_tenant, cw.config(cw_live, private_key=wrong))
    result = sync_entity(cw_podium, cw_tenant, connection_id, "ticket")
    assert result.status == "stopped" and "UserNotAuthenticated" in result.error and wrong not in result.error
    with cw_podium.db.session(cw_tenant) as session:
        run = session.get(SyncRun, result.run_id)
        assert run.status == "stopped" and wrong not in run.error
