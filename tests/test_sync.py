"""The sync engine against a real HTTP vendor, on SQLite and PostgreSQL.

The vendor is ``source_plugin.TinyVendor`` on a real socket; its connector is loaded by
Podium's real plugin manager from a plugins directory. The vendor's clock only moves when
a record changes, so windows and watermarks are exact and nothing here sleeps on time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result
from tests.source_plugin import Fault, TinyVendor, iso, serve
from sqlalchemy import select, text

from podium import hookimpl
from podium.cli import Runtime, cli
from podium.connections import create_connection
from podium.locks import LeaseLock, LockLost, LockTimeout
from podium.models import (
    Connection,
    Identity,
    PendingRecord,
    QuarantinedRecord,
    SyncRun,
    SyncState,
    Ticket,
    TimeEntry,
)
from podium.runtime import Podium
from podium.sync import ANALYZE_AFTER_ROWS, fetch_records, sync_connection, sync_entity

API_KEY = "tiny-live-key-5b1e0c9d7a"
SECRET_KEY = "test-secret-key-for-the-sync-suite"
NAME = "Tiny Desk"


# --- fixtures -------------------------------------------------------------------------


def make_podium(database_url: str, tmp_path: Path, **overrides: Any) -> Podium:
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    link = plugins / "source_plugin.py"
    if not link.exists():
        link.symlink_to(Path(__file__).with_name("source_plugin.py"))
    settings: dict[str, Any] = {
        "instance_path": tmp_path / "instance",
        "database_url": database_url,
        "secret_key": SECRET_KEY,
        "redis_url": None,
        "plugins_dir": plugins,
        "load_entry_points": False,
        "sync_overlap_seconds": 0,
        "sync_batch_size": 3,
        "http_retry_attempts": 3,
        "http_retry_backoff": 0,
        "http_retry_jitter": 0,
    }
    return Podium.from_env(**(settings | overrides))


@pytest.fixture
def podium(database_url: str, tmp_path: Path) -> Iterator[Podium]:
    """The test runtime with the tiny vendor's connector loaded from a plugins directory."""
    runtime = make_podium(database_url, tmp_path)
    assert runtime.plugins.plugins["source_plugin"].status == "loaded"
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def vendor() -> Iterator[TinyVendor]:
    tiny = TinyVendor(API_KEY)
    with serve(tiny.app) as base_url:
        tiny.base_url = base_url
        yield tiny


@pytest.fixture
def connection_id(podium: Podium, tenant_id: int, vendor: TinyVendor) -> int:
    config = {"base_url": vendor.base_url, "api_key": API_KEY, "allow_http": True}
    with podium.db.session(tenant_id) as session:
        return create_connection(podium, session, tenant_id, "tiny", NAME, config).id


class Recorder:
    """A plugin that records ``podium_records_changed`` calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    @hookimpl
    def podium_records_changed(self, entity: str, external_ids: list[str]) -> None:
        self.calls.append((entity, list(external_ids)))


@pytest.fixture
def recorder(podium: Podium) -> Recorder:
    plugin = Recorder()
    podium.plugins.pm.register(plugin, name="recorder")
    return plugin


def put_ticket(vendor: TinyVendor, record_id: int, **values: Any) -> None:
    base = {
        "number": str(1000 + record_id),
        "summary": f"ticket {record_id}",
        "status": "New",
        "status_category": "open",
        "created_at": iso(dt.datetime(2024, 4, 1, 9, tzinfo=dt.timezone.utc)),
    }
    vendor.put("ticket", record_id, **(base | values))


def put_time_entry(vendor: TinyVendor, record_id: int, ticket: int | None, identity: int = 1) -> None:
    vendor.put(
        "time_entry",
        record_id,
        ticket_external_id=None if ticket is None else str(ticket),
        identity_external_id=str(identity),
        start_at=iso(dt.datetime(2024, 4, 2, 9, tzinfo=dt.timezone.utc)),
        hours=1.5,
    )


def stored(podium: Podium, tenant_id: int, model: Any) -> dict[str, Any]:
    with podium.db.session(tenant_id) as session:
        return {row.external_id: row for row in session.scalars(select(model))}


def state_of(podium: Podium, tenant_id: int, entity: str) -> SyncState:
    with podium.db.session(tenant_id) as session:
        return session.scalars(select(SyncState).where(SyncState.entity == entity)).one()


def runs(podium: Podium, tenant_id: int) -> list[SyncRun]:
    with podium.db.session(tenant_id) as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def invoke(podium: Podium, args: list[str]) -> Result:
    runtime = Runtime({})
    runtime._podium = podium  # the test's runtime, so the CLI uses the test database
    return CliRunner().invoke(cli, args, obj=runtime)


# --- windows, paging, resume ----------------------------------------------------------


def test_pages_land_and_the_watermark_moves_only_after_the_window(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor, recorder: Recorder, tmp_path: Path
) -> None:
    for record_id in range(1, 8):
        put_ticket(vendor, record_id)
    scan_start = vendor.now

    result = sync_entity(podium, tenant_id, connection_id, "ticket")

    assert (result.status, result.fetched, result.upserted) == ("succeeded", 7, 7)
    pages = vendor.list_requests("ticket")
    assert [page.get("afterId") for page in pages] == [None, "3", "6"]
    assert {page["updatedBefore"] for page in pages} == {iso(scan_start)}
    assert not any("updatedSince" in page for page in pages)  # the first window has no start
    assert recorder.calls == [("ticket", ["1", "2", "3"]), ("ticket", ["4", "5", "6"]), ("ticket", ["7"])]
    tickets = stored(podium, tenant_id, Ticket)
    assert sorted(tickets, key=int) == [str(i) for i in range(1, 8)]
    assert tickets["5"].summary == "ticket 5" and tickets["5"].connection_id == connection_id
    state = state_of(podium, tenant_id, "ticket")
    assert state.watermark == scan_start
    assert (state.status, state.cursor, state.window_end, state.records_synced) == ("idle", None, None, 7)

    # The next window starts at the watermark minus the overlap (0 here, 30 s below).
    again = sync_entity(podium, tenant_id, connection_id, "ticket", trigger="scheduler")
    assert (again.status, again.fetched) == ("succeeded", 0)
    assert vendor.list_requests("ticket")[-1]["updatedSince"] == iso(scan_start)
    overlapping = make_podium(podium.config.database_url, tmp_path, sync_overlap_seconds=30)
    try:
        overlap = sync_entity(overlapping, tenant_id, connection_id, "ticket")
    finally:
        overlapping.db.dispose()
    assert overlap.fetched == 7  # all were changed within the 30 s before the watermark
    assert vendor.list_requests("ticket")[-3]["updatedSince"] == iso(scan_start - dt.timedelta(seconds=30))
    full = sync_entity(podium, tenant_id, connection_id, "ticket", full=True)
    assert full.fetched == 7 and "updatedSince" not in vendor.list_requests("ticket")[-1]
    assert [(run.trigger, run.status, run.fetched) for run in runs(podium, tenant_id)] == [
        ("cli", "succeeded", 7), ("scheduler", "succeeded", 0), ("cli", "succeeded", 7), ("cli", "succeeded", 7),
    ]


def test_entities_without_a_time_filter_are_fetched_whole(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    vendor.put("identity", 1, display_name="Ada", email="Ada@Example.com")
    sync_entity(podium, tenant_id, connection_id, "identity")
    vendor.put("identity", 2, display_name="Grace", email=None)
    second = sync_entity(podium, tenant_id, connection_id, "identity")
    assert second.fetched == 2
    assert not any({"updatedSince", "updatedBefore"} & set(page) for page in vendor.list_requests("identity"))
    identities = stored(podium, tenant_id, Identity)
    assert identities["1"].email == "ada@example.com" and identities["2"].display_name == "Grace"


class Crash(BaseException):
    """The process dying: no ``except Exception`` in the engine gets to see it."""


class CrashAfterFirstBatch:
    @hookimpl
    def podium_records_changed(self) -> None:
        raise Crash


def test_a_crash_mid_window_resumes_from_the_cursor_without_loss_or_repeat(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    for record_id in range(1, 8):
        put_ticket(vendor, record_id)
    scan_start = vendor.now
    podium.plugins.pm.register(CrashAfterFirstBatch(), name="crash")
    with pytest.raises(Crash):
        sync_entity(podium, tenant_id, connection_id, "ticket")
    podium.plugins.pm.unregister(name="crash")

    state = state_of(podium, tenant_id, "ticket")
    assert state.cursor == {"after_id": 3} and state.window_end == scan_start and state.watermark is None
    assert sorted(stored(podium, tenant_id, Ticket)) == ["1", "2", "3"]
    assert runs(podium, tenant_id)[0].status == "running"  # nobody recorded the crash

    put_ticket(vendor, 8)  # changed after the interrupted scan began: belongs to the next window
    resumed = sync_entity(podium, tenant_id, connection_id, "ticket")

    assert (resumed.status, resumed.fetched) == ("succeeded", 4)
    first_after_crash = vendor.list_requests("ticket")[1]
    assert first_after_crash["afterId"] == "3" and first_after_crash["updatedBefore"] == iso(scan_start)
    assert vendor.served["ticket"] == [1, 2, 3, 4, 5, 6, 7]  # each record fetched exactly once
    assert sorted(stored(podium, tenant_id, Ticket), key=int) == [str(i) for i in range(1, 8)]
    crashed = runs(podium, tenant_id)[0]
    assert crashed.status == "failed" and "interrupted" in (crashed.error or "")
    assert state_of(podium, tenant_id, "ticket").watermark == scan_start
    assert sync_entity(podium, tenant_id, connection_id, "ticket").fetched == 1  # ticket 8


def test_records_changing_while_paged_are_all_there_after_the_next_run(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    for record_id in range(1, 7):
        put_ticket(vendor, record_id)

    def change_mid_scan(entity: str, served: int) -> None:
        if entity == "ticket" and served == 1:  # page 1 was served, page 2 is being asked for
            put_ticket(vendor, 1, summary="reopened")  # already fetched: its new version comes later
            put_ticket(vendor, 5, summary="escalated")  # not fetched yet: it leaves this window
            put_ticket(vendor, 7, summary="brand new")

    vendor.before_list = change_mid_scan
    sync_entity(podium, tenant_id, connection_id, "ticket")
    vendor.before_list = None
    first = stored(podium, tenant_id, Ticket)
    assert sorted(first, key=int) == ["1", "2", "3", "4", "6"] and first["1"].summary == "ticket 1"

    sync_entity(podium, tenant_id, connection_id, "ticket")

    tickets = stored(podium, tenant_id, Ticket)
    assert {key: row.summary for key, row in tickets.items()} == {
        str(record_id): record["summary"] for record_id, record in vendor.records["ticket"].items()
    }
    assert tickets["5"].summary == "escalated" and tickets["7"].summary == "brand new"


# --- records --------------------------------------------------------------------------


def test_a_bad_record_is_quarantined_while_the_rest_lands(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    put_ticket(vendor, 1)
    put_ticket(vendor, 2, status_category="pending", created_at="2024-04-01T09:00:00")
    put_ticket(vendor, 3)

    result = sync_entity(podium, tenant_id, connection_id, "ticket")

    assert (result.status, result.upserted, result.quarantined) == ("succeeded", 2, 1)
    assert sorted(stored(podium, tenant_id, Ticket)) == ["1", "3"]
    with podium.db.session(tenant_id) as session:
        bad = session.scalars(select(QuarantinedRecord)).one()
    assert (bad.entity, bad.external_id, bad.resolved_at) == ("ticket", "2", None)
    assert set(bad.errors) == {"status_category", "created_at"}
    listed = invoke(podium, ["sync", "--quarantine", "--connection", NAME])
    assert listed.exit_code == 0, listed.output
    assert f"{NAME} ticket 2: seen 1 time(s)" in listed.output
    assert "status_category: Must be one of: open, resolved, closed." in listed.output
    assert "created_at: Naive datetime" in listed.output

    put_ticket(vendor, 2, status_category="open", created_at="2024-04-01T09:00:00Z")
    assert sync_entity(podium, tenant_id, connection_id, "ticket").upserted == 1
    assert stored(podium, tenant_id, Ticket)["2"].status_category == "open"
    with podium.db.session(tenant_id) as session:
        assert session.scalars(select(QuarantinedRecord.resolved_at)).one() is not None
    assert invoke(podium, ["sync", "--quarantine"]).output.strip() == "no quarantined records"


def test_a_time_entry_before_its_ticket_waits_and_lands_when_the_ticket_syncs(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor, recorder: Recorder
) -> None:
    vendor.put("identity", 1, display_name="Ada", email="ada@example.com")
    put_ticket(vendor, 1)
    put_time_entry(vendor, 10, ticket=1)
    put_time_entry(vendor, 11, ticket=None)  # internal time: references no ticket
    sync_entity(podium, tenant_id, connection_id, "identity")

    early = sync_entity(podium, tenant_id, connection_id, "time_entry")

    assert (early.upserted, early.deferred) == (1, 1)
    assert sorted(stored(podium, tenant_id, TimeEntry)) == ["11"]
    with podium.db.session(tenant_id) as session:
        pending = session.scalars(select(PendingRecord)).one()
    assert (pending.entity, pending.external_id) == ("time_entry", "10")
    assert pending.waiting_for == [{"entity": "ticket", "external_id": "1"}]

    sync_entity(podium, tenant_id, connection_id, "ticket")

    entries = stored(podium, tenant_id, TimeEntry)
    ticket = stored(podium, tenant_id, Ticket)["1"]
    identity = stored(podium, tenant_id, Identity)["1"]
    assert (entries["10"].ticket_id, entries["10"].identity_id, entries["10"].hours) == (ticket.id, identity.id, 1.5)
    assert entries["11"].ticket_id is None
    with podium.db.session(tenant_id) as session:
        assert session.scalars(select(PendingRecord)).all() == []
    assert ("time_entry", ["10"]) in recorder.calls


def test_webhook_ids_are_fetched_once_each_and_deletions_applied(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor, recorder: Recorder
) -> None:
    for record_id in (1, 2, 3):
        put_ticket(vendor, record_id)
    sync_entity(podium, tenant_id, connection_id, "ticket")
    put_ticket(vendor, 2, summary="updated by webhook")
    vendor.remove("ticket", 3)
    recorder.calls.clear()

    result = fetch_records(podium, tenant_id, connection_id, "ticket", ["2", "3", "2"])

    assert (result.status, result.fetched, result.upserted, result.deleted) == ("succeeded", 2, 1, 1)
    tickets = stored(podium, tenant_id, Ticket)
    assert sorted(tickets) == ["1", "2"] and tickets["2"].summary == "updated by webhook"
    assert [path for path, _ in vendor.requests if path.startswith("/api/ticket/")] == ["/api/ticket/2", "/api/ticket/3"]
    assert recorder.calls == [("ticket", ["2", "3"])]
    assert [(run.trigger, run.status) for run in runs(podium, tenant_id)][-1] == ("webhook", "succeeded")


# --- errors ---------------------------------------------------------------------------


def test_429_and_5xx_are_retried_and_a_persistent_failure_resumes_later(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    for record_id in range(1, 6):
        put_ticket(vendor, record_id)
    vendor.faults = [Fault(429, {"Retry-After": "0"}, entity="ticket"), Fault(503, entity="ticket")]
    assert sync_entity(podium, tenant_id, connection_id, "ticket").status == "succeeded"
    assert len(vendor.list_requests("ticket")) == 2 + 2  # two refused, then both pages
    assert len(stored(podium, tenant_id, Ticket)) == 5

    for record_id in range(1, 6):
        put_ticket(vendor, record_id, summary="changed")

    def outage_after_first_page(entity: str, served: int) -> None:
        if served == 4:  # the next run's first page is being served: page 2 will keep failing
            vendor.faults = [Fault(503, entity="ticket")] * 3

    vendor.before_list = outage_after_first_page
    failed = sync_entity(podium, tenant_id, connection_id, "ticket")
    vendor.before_list = None

    assert failed.status == "failed" and failed.fetched == 3
    assert failed.error is not None and failed.error.startswith(f"connection {NAME!r} (id {connection_id}): ")
    assert "503 Service Unavailable" in failed.error
    state = state_of(podium, tenant_id, "ticket")
    assert (state.status, state.cursor) == ("failed", {"after_id": 3})
    resumed = sync_entity(podium, tenant_id, connection_id, "ticket")
    assert (resumed.status, resumed.fetched) == ("succeeded", 2)
    assert vendor.list_requests("ticket")[-1]["afterId"] == "3"
    assert {row.summary for row in stored(podium, tenant_id, Ticket).values()} == {"changed"}


def test_401_stops_each_entity_with_a_message_naming_the_connection_and_no_secret(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor.api_key = "rotated-by-the-admin"  # the vendor now refuses, quoting the key it got

    results = sync_connection(podium, tenant_id, connection_id, trigger="scheduler")

    assert [(r.entity, r.status) for r in results] == [("identity", "stopped"), ("ticket", "stopped"),
                                                       ("time_entry", "stopped")]
    for result in results:
        assert result.error is not None
        assert result.error.startswith(f"connection {NAME!r} (id {connection_id}): ")
        assert "401 Unauthorized: [Unauthorized] API key is not valid" in result.error
        assert "rotated or revoked" in result.error
    state = state_of(podium, tenant_id, "ticket")
    assert state.status == "stopped" and state.last_error == results[1].error
    cli_run = invoke(podium, ["sync", NAME, "--entity", "ticket"])
    assert cli_run.exit_code == 1 and "ticket: stopped" in cli_run.output
    listed = invoke(podium, ["connections", "list"])
    quarantine = invoke(podium, ["sync", "--quarantine"])
    errors = [run.error or "" for run in runs(podium, tenant_id)]
    assert len(errors) == 4 and all("API key is not valid" in error for error in errors)
    for text in [*errors, cli_run.output, listed.output, quarantine.output, caplog.text, state.last_error or ""]:
        assert API_KEY not in text


# --- one sync at a time ---------------------------------------------------------------


class Signal(logging.Handler):
    """Sets an event when a log message containing ``needle`` is emitted."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.INFO)
        self.needle = needle
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.seen.set()


def test_a_second_sync_of_the_same_entity_waits_for_the_first(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    for record_id in range(1, 5):
        put_ticket(vendor, record_id)
    vendor.gate = threading.Event()
    waiting = Signal("waiting for the sync lease")
    locks_log = logging.getLogger("podium.locks")
    locks_log.addHandler(waiting)
    old_level = locks_log.level
    locks_log.setLevel(logging.INFO)
    results: dict[str, Any] = {}

    def run(trigger: str) -> None:
        results[trigger] = sync_entity(podium, tenant_id, connection_id, "ticket", trigger=trigger)

    first = threading.Thread(target=run, args=("scheduler",))
    second = threading.Thread(target=run, args=("webhook",))
    try:
        first.start()
        assert vendor.held.wait(10), "the first sync never reached the vendor"
        second.start()
        assert waiting.seen.wait(10), "the second sync never waited for the lease"
        vendor.gate.set()
        first.join(10)
        second.join(10)
    finally:
        vendor.gate.set()
        locks_log.removeHandler(waiting)
        locks_log.setLevel(old_level)

    assert results["scheduler"].status == results["webhook"].status == "succeeded"
    assert (results["scheduler"].fetched, results["webhook"].fetched) == (4, 0)  # its own window: nothing new
    by_trigger = {run.trigger: run for run in runs(podium, tenant_id)}
    assert by_trigger["webhook"].started_at >= by_trigger["scheduler"].finished_at


def test_lease_is_exclusive_renewable_and_taken_over_only_when_expired(podium: Podium, tenant_id: int,
                                                                       connection_id: int) -> None:
    first = LeaseLock(podium.db, tenant_id, connection_id, "ticket")
    second = LeaseLock(podium.db, tenant_id, connection_id, "ticket")
    assert first.acquire() and not second.acquire()
    first.renew()
    with pytest.raises(LockTimeout):
        second.acquire(wait=True, timeout=0.2, poll=0.05)
    first.release()
    assert second.acquire() and not first.acquire()
    second.release()

    dying = LeaseLock(podium.db, tenant_id, connection_id, "ticket", ttl=0)  # expires at once
    assert dying.acquire()
    assert second.acquire()  # takes the expired lease over
    with pytest.raises(LockLost):
        dying.renew()
    dying.release()  # releasing a lease it lost leaves the new holder alone
    assert not first.acquire()


def test_only_one_of_several_racing_processes_gets_the_lease(podium: Podium, tenant_id: int,
                                                             connection_id: int) -> None:
    barrier = threading.Barrier(4)
    won: list[bool] = []

    def contend() -> None:
        lease = LeaseLock(podium.db, tenant_id, connection_id, "time_entry")
        barrier.wait()
        won.append(lease.try_acquire())

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False, False, False, True]


# --- the request budget ---------------------------------------------------------------


def test_every_vendor_request_is_counted_against_the_budget(
    database_url: str, tmp_path: Path, redis_url: str, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    with_redis = make_podium(database_url, tmp_path, redis_url=redis_url)
    try:
        for record_id in range(1, 8):
            put_ticket(vendor, record_id)
        vendor.faults = [Fault(429, {"Retry-After": "0"}, entity="ticket")]
        assert sync_entity(with_redis, tenant_id, connection_id, "ticket").status == "succeeded"
    finally:
        with_redis.db.dispose()
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(f"podium:{tenant_id}:budget:{connection_id}:*")
    used = [int(client.get(key) or 0) for key in keys]
    client.close()
    assert sum(used) == len(vendor.requests) == 1 + 1 + 3  # clock, the refused page, three pages
    assert max(used) <= with_redis.config.request_budget_per_minute


# --- the CLI --------------------------------------------------------------------------


def test_cli_adds_tests_lists_and_syncs_a_connection_without_showing_its_secret(
    podium: Podium, tenant_id: int, vendor: TinyVendor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINY_KEY", API_KEY)
    base = ["connections", "add", "--tenant", "acme", "--vendor", "tiny", "--name", NAME,
            "--config", f"base_url={vendor.base_url}", "--config", "allow_http=true"]
    missing = invoke(podium, base)
    assert missing.exit_code != 0 and "api_key: Missing data for required field." in missing.output
    unset = invoke(podium, [*base, "--config", "api_key=@env:NOT_SET_ANYWHERE"])
    assert unset.exit_code != 0 and "environment variable NOT_SET_ANYWHERE is not set" in unset.output

    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps({"base_url": vendor.base_url, "allow_http": True, "api_key": "@env:TINY_KEY"}))
    added = invoke(podium, [*base[:8], "--config-file", str(config_file)])
    assert added.exit_code == 0, added.output
    assert "••••••••" in added.output
    assert invoke(podium, base + ["--config", "api_key=x"]).exit_code != 0  # the name is taken

    tested = invoke(podium, ["connections", "test", NAME])
    assert tested.exit_code == 0, tested.output
    assert f"{NAME}: ok: connected" in tested.output
    vendor.put("identity", 1, display_name="Ada", email="ada@example.com")
    put_ticket(vendor, 1)
    synced = invoke(podium, ["sync", NAME, "--tenant", "acme"])
    assert synced.exit_code == 0, synced.output
    assert f"{NAME} ticket: succeeded — fetched 1, upserted 1" in synced.output
    assert invoke(podium, ["sync", NAME, "--entity", "invoice"]).exit_code == 2

    vendor.api_key = "rotated"
    failing = invoke(podium, ["connections", "test", NAME])
    assert failing.exit_code == 1 and "FAILED" in failing.output and "API key is not valid" in failing.output
    listed = invoke(podium, ["connections", "list", "--json"])
    assert listed.exit_code == 0 and '"api_key": "••••••••"' in listed.output
    with podium.db.session(tenant_id) as session:
        connection = session.scalars(select(Connection)).one()
        assert connection.status == "failing" and API_KEY not in (connection.last_test_message or "")
    for result in (added, tested, synced, failing, listed):
        assert API_KEY not in result.output


def planned_rows(podium: Podium, table: str) -> float:
    """How many rows the query planner believes ``table`` has (PostgreSQL's ``reltuples``,
    SQLite's ``sqlite_stat1``): what only an analyse of the table brings up to date."""
    with podium.db.engine.connect() as conn:
        if podium.db.dialect == "postgresql":
            return float(conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}).scalar())
        if not conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar():
            return 0.0
        stat = conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t AND idx IS NULL"), {"t": table}).scalar()
        if stat is None:
            stat = conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}).scalar()
        return float(stat.split()[0]) if stat else 0.0


def test_a_sync_that_writes_many_rows_refreshes_the_planners_statistics(
    podium: Podium, tenant_id: int, connection_id: int, vendor: TinyVendor
) -> None:
    put_ticket(vendor, 1)
    assert sync_entity(podium, tenant_id, connection_id, "ticket").upserted == 1
    assert planned_rows(podium, "tickets") < 2, "a one-row sync leaves the statistics alone"
    for record_id in range(2, ANALYZE_AFTER_ROWS + 2):
        put_ticket(vendor, record_id, summary=f"bulk {record_id}")
    result = sync_entity(podium, tenant_id, connection_id, "ticket", full=True)
    assert result.upserted >= ANALYZE_AFTER_ROWS
    assert planned_rows(podium, "tickets") >= ANALYZE_AFTER_ROWS
