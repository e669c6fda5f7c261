"""Job types, argument rules and the RQ backend, against a real Redis and real workers.

The queue machinery is exercised with job types a plugin file registers (as a plugin
author would, through ``register_job_type``): one records that it ran, one fails, one
gives up, one overruns its timeout. The built-in types are used where running them is
not the point (deduplication, coalescing, argument checks).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from podium import jobs
from podium.cli import cli
from podium.connections import create_connection
from podium.dbqueue import DbQueueWorker
from podium.jobs import JobArgumentError, JobType, UnknownJobType, enqueue, failed_jobs, queue_names, redis_client
from podium.models import AuditEvent, Connection, SyncRun, Ticket
from podium.runtime import Podium
from podium.scheduler import Scheduler
from tests.conftest import TEST_SECRET_KEY
from tests.source_plugin import TinyVendor, iso, serve

RETRY_BACKOFF = 4
"""Seconds ``test_fail`` waits before its third attempt: long enough that a busy CI machine
cannot let it fall due between two checks a test expects to see it waiting."""

JOBS_PLUGIN = textwrap.dedent('''
    """Job types for Podium's queue tests, registered the way a plugin registers its own."""
    import time

    from podium.jobs import JobError, JobType, enqueue, register_job_type
    from podium.models import AuditEvent


    def record(podium, *, tenant_id, label, external_ids=(), late=None):
        """Leave an audit event saying it ran (and with which ids); ``late`` re-enqueues."""
        if late is not None:
            enqueue(podium, "test_record", tenant_id=tenant_id, label=label, external_ids=[late])
        with podium.db.session(tenant_id) as session:
            session.add(AuditEvent(actor_label="test-job", action="test.job", target_type="test",
                                   target_id=label, after={"ids": list(external_ids)}))


    def fail(podium, *, tenant_id, label):
        raise RuntimeError(f"boom: {label}")


    def give_up(podium, *, tenant_id):
        raise JobError("bad credentials for connection 7", retriable=False)


    def hang(podium, *, tenant_id, seconds=3):
        time.sleep(seconds)


    register_job_type(JobType("test_record", record, timeout=10, max_attempts=1, queue="test",
                              key=lambda a: f"test-{a['tenant_id']}-{a['label']}", merge="external_ids"))
    register_job_type(JobType("test_fail", fail, timeout=10, max_attempts=3, backoff=(0, RETRY_BACKOFF), queue="test"))
    register_job_type(JobType("test_give_up", give_up, timeout=10, max_attempts=3, backoff=(0,), queue="test"))
    register_job_type(JobType("test_hang", hang, timeout=1, max_attempts=1, queue="test"))
''').replace("RETRY_BACKOFF", str(RETRY_BACKOFF))


@pytest.fixture
def job_plugins(tmp_path: Path) -> Path:
    """A plugins directory holding the test job types."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "queue_test_jobs.py").write_text(JOBS_PLUGIN)
    return folder


def runtime_with(podium: Podium, **changes: Any) -> Podium:
    """A second runtime on the same database and instance, with its config changed."""
    runtime = Podium(replace(podium.config, **changes))
    runtime.plugins  # noqa: B018 - loads the plugin files, which register their job types
    return runtime


@pytest.fixture
def sqlite_podium(sqlite_url: str, tmp_path: Path) -> Iterator[Podium]:
    """One backend is enough where the database plays no part (argument checks)."""
    runtime = Podium.from_env(
        instance_path=tmp_path / "instance", database_url=sqlite_url, secret_key=TEST_SECRET_KEY, redis_url=None
    )
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def db_jobs(podium: Podium, job_plugins: Path) -> Iterator[Podium]:
    """A runtime without Redis (the database queue) that knows the test job types."""
    runtime = runtime_with(podium, plugins_dir=job_plugins)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def rq_jobs(podium: Podium, job_plugins: Path, redis_url: str) -> Iterator[Podium]:
    """A runtime on RQ that knows the test job types; in-process workers run with it."""
    runtime = runtime_with(podium, plugins_dir=job_plugins, redis_url=redis_url)
    jobs.use_runtime(runtime)
    yield runtime
    jobs.use_runtime(None)
    runtime.db.dispose()


def ran(podium: Podium, tenant_id: int) -> list[tuple[str, list[Any]]]:
    """(label, ids) of every test_record run, in order."""
    with podium.db.session(tenant_id) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "test.job").order_by(AuditEvent.id))
        return [(event.target_id, event.after["ids"]) for event in events]


def rq_burst(podium: Podium) -> None:
    """Run every due RQ job in this process, with RQ's scheduler (retry back-off)."""
    client = redis_client(podium.config.redis_url or "")
    worker = SimpleWorker([Queue(name, connection=client) for name in queue_names()], connection=client)
    worker.work(burst=True, with_scheduler=True)


def wait_until(moment: dt.datetime) -> None:
    """Sleep until ``moment`` has passed (back-off intervals in these tests are 1 s)."""
    delay = (moment - dt.datetime.now(dt.timezone.utc)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.05)


def cli_env(podium: Podium) -> dict[str, str]:
    config = podium.config
    env = {
        "DATABASE_URL": config.database_url,
        "PODIUM_SECRET_KEY": config.secret_key,
        "PODIUM_INSTANCE": str(config.instance_path),
        "PODIUM_PLUGINS_DIR": str(config.plugins_dir or ""),
    }
    if config.redis_url:
        env["REDIS_URL"] = config.redis_url
    return env


# --- job types and arguments ----------------------------------------------------------------


def test_builtin_job_types_declare_timeout_retries_and_queue() -> None:
    types = jobs.job_types()
    for name in ("sync_entity", "fetch_records", "sync_connection"):
        jt = types[name]
        assert jt.timeout >= 60 and jt.max_attempts >= 2 and jt.queue in ("sync", "webhooks")
        assert len(jt.retry_intervals) == jt.max_attempts - 1
    assert types["fetch_records"].merge == "external_ids"
    assert queue_names()[0] == "webhooks"


def test_retry_intervals_repeat_the_last_backoff() -> None:
    jt = JobType("x", lambda podium, *, tenant_id: None, timeout=1, max_attempts=5, backoff=(1, 5))
    assert jt.retry_intervals == [1, 5, 5, 5]
    assert jt.backoff_after(1) == 1 and jt.backoff_after(4) == 5


@pytest.mark.parametrize(
    ("arguments", "field", "reason"),
    [
        ({"api_key": "k-123"}, "api_key", "secrets and configs are never job arguments"),
        ({"config": "x"}, "config", "secrets and configs are never job arguments"),
        ({"entity": {"site": "x", "password": "p"}}, "entity", "not dict"),
        ({"entity": "x" * 201}, "entity", "strings are limited to 200 characters"),
        ({"entity": 1.5}, "entity", "not float"),
        ({"external_ids": [{"id": 1}]}, "external_ids", "lists may hold only ids"),
    ],
)
def test_enqueue_refuses_arguments_that_are_not_ids(
    sqlite_podium: Podium, arguments: dict[str, Any], field: str, reason: str
) -> None:
    base = {"connection_id": 1, "entity": "ticket", "external_ids": ["1"]}
    with pytest.raises(JobArgumentError) as caught:
        enqueue(sqlite_podium, "fetch_records", tenant_id=None, **{**base, **arguments})
    assert caught.value.field == field and reason in caught.value.reason
    assert jobs.pending_jobs(sqlite_podium) == []


def test_enqueue_names_a_missing_argument_and_an_unknown_type(sqlite_podium: Podium) -> None:
    with pytest.raises(JobArgumentError, match="entity: required by 'sync_entity'"):
        enqueue(sqlite_podium, "sync_entity", tenant_id=None, connection_id=1)
    with pytest.raises(UnknownJobType, match="no job type 'sync_everything'"):
        enqueue(sqlite_podium, "sync_everything", tenant_id=None)


def test_a_job_type_cannot_declare_a_secret_parameter() -> None:
    def login(podium: Podium, *, tenant_id: int, password: str) -> None:
        """Never runs."""

    with pytest.raises(JobArgumentError, match="password: job type 'login' may not take secrets"):
        JobType("login", login, timeout=10, max_attempts=1)


def test_a_taken_job_type_name_is_refused() -> None:
    def other(podium: Podium, *, tenant_id: int) -> None:
        """Never runs."""

    with pytest.raises(JobArgumentError, match="already registered by podium.jobs.sync_entity"):
        jobs.register_job_type(JobType("sync_entity", other, timeout=10, max_attempts=1))


# --- RQ: deduplication and coalescing -------------------------------------------------------


def test_rq_same_pending_sync_is_not_queued_twice(rq_jobs: Podium, tenant_id: int) -> None:
    first = enqueue(rq_jobs, "sync_entity", tenant_id=tenant_id, connection_id=3, entity="ticket")
    again = enqueue(rq_jobs, "sync_entity", tenant_id=tenant_id, connection_id=3, entity="ticket", trigger="webhook")
    full = enqueue(rq_jobs, "sync_entity", tenant_id=tenant_id, connection_id=3, entity="ticket", full=True)
    assert first.created and not again.created and again.id == first.id
    assert full.created and full.id != first.id
    assert first.id.startswith(f"sync-{tenant_id}-3-ticket-")
    assert Queue("sync", connection=redis_client(rq_jobs.config.redis_url or "")).count == 2


def test_rq_fetch_burst_coalesces_into_one_job(rq_jobs: Podium, tenant_id: int) -> None:
    ids = [enqueue(rq_jobs, "fetch_records", tenant_id=tenant_id, connection_id=3, entity="ticket",
                   external_ids=batch).id for batch in (["1", "2"], ["2", "3"], ["4"])]
    assert len(set(ids)) == 1
    assert Queue("webhooks", connection=redis_client(rq_jobs.config.redis_url or "")).count == 1


def test_rq_coalesced_ids_reach_the_job_and_later_ones_get_a_new_job(rq_jobs: Podium, tenant_id: int) -> None:
    # The job itself enqueues "e" while it runs, like a delivery arriving mid-fetch: "e" must
    # not be merged into the running job (it has drained its ids) but get a job of its own.
    enqueue(rq_jobs, "test_record", tenant_id=tenant_id, label="burst", external_ids=["a", "b"], late="e")
    for batch in (["b", "c"], ["d"]):
        joined = enqueue(rq_jobs, "test_record", tenant_id=tenant_id, label="burst", external_ids=batch)
        assert not joined.created
    rq_burst(rq_jobs)
    assert ran(rq_jobs, tenant_id) == [("burst", ["a", "b", "c", "d"]), ("burst", ["e"])]


def test_rq_concurrent_deliveries_all_reach_one_job(rq_jobs: Podium, tenant_id: int) -> None:
    start = threading.Barrier(4)

    def deliver(sender: int) -> None:
        start.wait()
        for n in range(10):
            enqueue(rq_jobs, "test_record", tenant_id=tenant_id, label="storm", external_ids=[f"{sender}-{n}"])

    threads = [threading.Thread(target=deliver, args=(sender,)) for sender in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rq_burst(rq_jobs)
    [(label, ids)] = ran(rq_jobs, tenant_id)
    assert label == "storm" and sorted(ids) == sorted(f"{s}-{n}" for s in range(4) for n in range(10))


# --- RQ: real workers -----------------------------------------------------------------------


def test_rq_worker_process_runs_times_out_and_records_failures(rq_jobs: Podium, tenant_id: int) -> None:
    """``podium worker --burst`` as its own process, configured only by the environment."""
    enqueue(rq_jobs, "test_record", tenant_id=tenant_id, label="ok")
    enqueue(rq_jobs, "test_hang", tenant_id=tenant_id, seconds=30)
    enqueue(rq_jobs, "test_give_up", tenant_id=tenant_id)
    env = {**os.environ, **cli_env(rq_jobs)}
    worker = subprocess.run(
        [str(Path(sys.executable).with_name("podium")), "worker", "--burst"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert worker.returncode == 0, worker.stderr
    assert ran(rq_jobs, tenant_id) == [("ok", [])], (worker.stdout, worker.stderr)
    failed = {row["type"]: row for row in failed_jobs(rq_jobs)}
    assert set(failed) == {"test_hang", "test_give_up"}
    assert "JobTimeoutException" in failed["test_hang"]["error_line"]
    assert failed["test_give_up"]["attempts"] == 1  # not retriable: no second attempt
    assert failed["test_give_up"]["error_line"] == "podium.jobs.JobError: bad credentials for connection 7"

    listing = CliRunner().invoke(cli, ["jobs", "failed"], env=cli_env(rq_jobs), catch_exceptions=False)
    assert listing.exit_code == 0, listing.output
    line = next(line for line in listing.output.splitlines() if "test_give_up" in line)
    assert f"{tenant_id}" in line and "1/3" in line and "bad credentials for connection 7" in line


def test_rq_retries_with_backoff_then_fails_visibly(rq_jobs: Podium, tenant_id: int) -> None:
    job_id = enqueue(rq_jobs, "test_fail", tenant_id=tenant_id, label="flaky").id
    started = dt.datetime.now(dt.timezone.utc)
    rq_burst(rq_jobs)  # attempt 1 fails, retried at once (back-off 0); attempt 2 fails → waits RETRY_BACKOFF
    client = redis_client(rq_jobs.config.redis_url or "")
    scheduled = ScheduledJobRegistry("test", connection=client)
    assert scheduled.get_job_ids() == [job_id]
    retry_at = scheduled.get_scheduled_time(job_id)  # RQ keeps whole seconds
    assert retry_at >= started.replace(microsecond=0) + dt.timedelta(seconds=RETRY_BACKOFF)
    assert failed_jobs(rq_jobs) == []

    wait_until(retry_at)
    rq_burst(rq_jobs)  # attempt 3, the last
    [row] = failed_jobs(rq_jobs)
    assert (row["id"], row["type"], row["attempts"], row["max_attempts"]) == (job_id, "test_fail", 3, 3)
    assert row["args"] == {"label": "flaky"} and row["tenant_id"] == tenant_id
    assert row["error_line"] == "RuntimeError: boom: flaky"
    assert "Traceback" in row["error"]


def test_rq_failed_sync_lets_the_next_sync_be_queued(rq_jobs: Podium, tenant_id: int) -> None:
    """A terminally failed job must not block its key (RQ keeps failed ids for failure_ttl)."""
    first = enqueue(rq_jobs, "test_give_up", tenant_id=tenant_id, job_key="give-up")
    rq_burst(rq_jobs)
    second = enqueue(rq_jobs, "test_give_up", tenant_id=tenant_id, job_key="give-up")
    assert second.created and second.id != first.id
    assert [row["id"] for row in jobs.pending_jobs(rq_jobs)] == [second.id]
    assert [row["id"] for row in failed_jobs(rq_jobs)] == [first.id]


# --- the real job types, end to end through the sync engine ---------------------------------
# The vendor is the sync suite's tiny REST vendor on a real socket; its connector is the
# plugin file ``source_plugin.py``, loaded by the real plugin manager.

TINY_KEY = "tiny-live-key-for-the-jobs-suite"


@pytest.fixture
def vendor() -> Iterator[TinyVendor]:
    tiny = TinyVendor(TINY_KEY)
    with serve(tiny.app) as base_url:
        tiny.base_url = base_url
        yield tiny


@pytest.fixture(params=["db", "rq"])
def tiny(request: pytest.FixtureRequest, podium: Podium, tmp_path: Path) -> Iterator[Podium]:
    """A runtime with the tiny vendor's connector, on the database queue or on RQ."""
    folder = tmp_path / "connector"
    folder.mkdir()
    (folder / "source_plugin.py").symlink_to(Path(__file__).with_name("source_plugin.py"))
    redis_url = request.getfixturevalue("redis_url") if request.param == "rq" else None
    runtime = runtime_with(podium, plugins_dir=folder, redis_url=redis_url, load_entry_points=False)
    jobs.use_runtime(runtime)
    yield runtime
    jobs.use_runtime(None)
    runtime.db.dispose()


def add_connection(podium: Podium, tenant_id: int, vendor: TinyVendor, api_key: str = TINY_KEY) -> int:
    config = {"base_url": vendor.base_url, "api_key": api_key, "allow_http": True}
    with podium.db.session(tenant_id) as session:
        return create_connection(podium, session, tenant_id, "tiny", "Tiny Desk", config).id


def put_ticket(vendor: TinyVendor, record_id: int) -> None:
    vendor.put("ticket", record_id, number=str(1000 + record_id), summary=f"ticket {record_id}", status="New",
               status_category="open", created_at=iso(dt.datetime(2024, 4, 1, 9, tzinfo=dt.timezone.utc)))


def work_all(podium: Podium) -> None:
    """Run every due job the way this backend's workers do (the DB worker also ticks the scheduler)."""
    if podium.config.redis_url:
        rq_burst(podium)
    else:
        DbQueueWorker(podium, schedule=False).work(burst=True)


def sync_runs(podium: Podium, tenant_id: int) -> list[SyncRun]:
    with podium.db.session(tenant_id) as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def test_a_webhook_burst_is_one_fetch_of_its_ids(tiny: Podium, tenant_id: int, vendor: TinyVendor) -> None:
    connection_id = add_connection(tiny, tenant_id, vendor)
    for record_id in (1, 2, 3):
        put_ticket(vendor, record_id)
    queued = {
        enqueue(tiny, "fetch_records", tenant_id=tenant_id, connection_id=connection_id, entity="ticket",
                external_ids=ids).id
        for ids in (["1", "2"], ["2", "3"], ["3"])
    }
    assert len(queued) == 1
    work_all(tiny)
    with tiny.db.session(tenant_id) as session:
        assert sorted(session.scalars(select(Ticket.external_id))) == ["1", "2", "3"]
    assert [path for path, _ in vendor.requests if path.startswith("/api/ticket/")] == [
        "/api/ticket/1", "/api/ticket/2", "/api/ticket/3"]
    assert [(r.trigger, r.status, r.fetched) for r in sync_runs(tiny, tenant_id)] == [("webhook", "succeeded", 3)]
    assert failed_jobs(tiny) == [] and jobs.pending_jobs(tiny) == []


def test_scheduled_syncs_run_on_the_workers(tiny: Podium, tenant_id: int, vendor: TinyVendor) -> None:
    connection_id = add_connection(tiny, tenant_id, vendor)
    put_ticket(vendor, 1)
    if tiny.config.redis_url:
        Scheduler(tiny).tick()  # the `podium scheduler` process
        rq_burst(tiny)
    else:
        DbQueueWorker(tiny).work(burst=True)  # ticks the scheduler itself, then works
    runs = sync_runs(tiny, tenant_id)
    assert sorted((r.entity, r.trigger, r.status) for r in runs) == [
        ("identity", "scheduler", "succeeded"), ("ticket", "scheduler", "succeeded"),
        ("time_entry", "scheduler", "succeeded")]
    assert {r.connection_id for r in runs} == {connection_id}
    assert Scheduler(tiny).due() == []  # just synced: nothing is due until the interval has passed


def test_a_stopped_sync_fails_its_job_without_retrying(tiny: Podium, tenant_id: int, vendor: TinyVendor) -> None:
    connection_id = add_connection(tiny, tenant_id, vendor, api_key="a-revoked-key-7f3a")
    with tiny.db.session(tenant_id) as session:
        connection = session.get_one(Connection, connection_id)
    job_id = jobs.enqueue_sync(tiny, connection, "ticket", trigger="api")  # what the REST API calls
    work_all(tiny)
    [row] = failed_jobs(tiny)
    assert (row["id"], row["attempts"], row["max_attempts"]) == (job_id, 1, 3)
    assert "ticket stopped" in row["error_line"] and "Tiny Desk" in row["error_line"]
    assert "a-revoked-key-7f3a" not in (row["error"] or "")
    assert [(r.status, r.trigger) for r in sync_runs(tiny, tenant_id)] == [("stopped", "api")]
