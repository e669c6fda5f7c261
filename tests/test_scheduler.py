"""The scheduler: what is due, no duplicates across ticks, one scheduler at a time with Redis."""

from __future__ import annotations

import datetime as dt
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from rq import Queue
from sqlalchemy import func, select

from podium.cli import cli
from podium import dbqueue
from podium.dbqueue import DbQueueWorker
from podium.jobs import pending_jobs, redis_client
from podium.models import Connection, DbJob, SyncRun, utcnow
from podium.runtime import Podium
from podium.scheduler import LOCK_NAME, Scheduler, SchedulerBusy, refresh_interval, sync_interval
from tests.test_jobs import cli_env

CONNECTOR_PLUGIN = textwrap.dedent('''
    from marshmallow import Schema, fields
    from podium import hookimpl
    from podium.datasource import DataSource

    class Config(Schema):
        site = fields.String(required=True)

    class Acme(DataSource):
        key = "acme"
        label = "Acme PSA"
        config_schema = Config
        capabilities = {"identity": frozenset({"email"}), "ticket": frozenset({"number"})}

    @hookimpl
    def podium_register_data_sources(registry):
        registry.add(Acme)
''')


@pytest.fixture
def acme(podium: Podium, tmp_path: Path) -> Iterator[Podium]:
    """A runtime (database queue) with a connector whose connections have two entities."""
    folder = tmp_path / "connectors"
    folder.mkdir()
    (folder / "acme_connector.py").write_text(CONNECTOR_PLUGIN)
    runtime = Podium(replace(podium.config, plugins_dir=folder))
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def acme_rq(acme: Podium, redis_url: str) -> Iterator[Podium]:
    runtime = Podium(replace(acme.config, redis_url=redis_url))
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def connections(acme: Podium, tenant_id: int) -> dict[str, int]:
    """An enabled connection, a disabled one, and one whose connector is not installed."""
    ids = {}
    with acme.db.session(tenant_id) as session:
        for name, vendor, status in (("live", "acme", "ok"), ("off", "acme", "disabled"), ("gone", "zzz", "ok")):
            connection = Connection(vendor=vendor, name=name, status=status,
                                    config_encrypted=acme.secrets.encrypt({"site": "https://psa.example"}))
            session.add(connection)
            session.flush()
            ids[name] = connection.id
    return ids


def db_job_count(podium: Podium) -> int:
    with podium.db.session() as session:
        return session.scalar(select(func.count()).select_from(DbJob)) or 0


def test_two_ticks_queue_each_due_sync_once(acme: Podium, tenant_id: int, connections: dict[str, int]) -> None:
    scheduler = Scheduler(acme)
    first, second = scheduler.tick(), scheduler.tick()
    assert [e.created for e in first] == [True, True] and not any(e.created for e in second)
    assert [e.id for e in first] == [e.id for e in second]
    jobs = sorted((row["args"]["connection_id"], row["args"]["entity"], row["args"]["trigger"], row["tenant_id"])
                  for row in pending_jobs(acme))
    assert jobs == [(connections["live"], "identity", "scheduler", tenant_id),
                    (connections["live"], "ticket", "scheduler", tenant_id)]
    assert db_job_count(acme) == 2


def test_two_ticks_queue_each_due_sync_once_on_rq(acme_rq: Podium, connections: dict[str, int]) -> None:
    scheduler = Scheduler(acme_rq)
    first, second = scheduler.tick(), scheduler.tick()
    assert len(first) == 2 and [e.id for e in first] == [e.id for e in second]
    assert Queue("sync", connection=redis_client(acme_rq.config.redis_url or "")).count == 2
    assert db_job_count(acme_rq) == 0


def test_an_entity_is_due_an_interval_after_its_last_sync_started(
    acme: Podium, tenant_id: int, connections: dict[str, int]
) -> None:
    now = utcnow()
    live = connections["live"]
    with acme.db.session(tenant_id) as session:
        session.add(SyncRun(connection_id=live, entity="identity", started_at=now - dt.timedelta(minutes=5),
                            status="succeeded", trigger="scheduler"))
        session.add(SyncRun(connection_id=live, entity="ticket", started_at=now - dt.timedelta(minutes=16),
                            status="failed", trigger="webhook"))
    scheduler = Scheduler(acme, dt.timedelta(minutes=15))
    assert [(d.connection_id, d.entity) for d in scheduler.due(now)] == [(live, "ticket")]
    assert [(d.connection_id, d.entity) for d in scheduler.due(now + dt.timedelta(minutes=10))] == [
        (live, "identity"), (live, "ticket")]


def test_the_interval_comes_from_the_config(acme: Podium) -> None:
    assert sync_interval(acme.config) == dt.timedelta(minutes=15)
    assert sync_interval(replace(acme.config, extra={"sync_interval_minutes": "5"})) == dt.timedelta(minutes=5)
    with pytest.raises(ValueError, match="sync_interval_minutes must be positive"):
        sync_interval(replace(acme.config, extra={"sync_interval_minutes": 0}))


def test_only_one_scheduler_ticks_with_redis(acme_rq: Podium, connections: dict[str, int]) -> None:
    client = redis_client(acme_rq.config.redis_url or "")
    stop = threading.Event()
    thread = threading.Thread(target=Scheduler(acme_rq).run, kwargs={"tick_seconds": 30, "stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not client.exists(LOCK_NAME) and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(SchedulerBusy, match="another scheduler holds the lock"):
            Scheduler(acme_rq).run(once=True)
    finally:
        stop.set()
        thread.join(20)
    assert not client.exists(LOCK_NAME)  # released on stop, so a standby can take over at once
    assert Scheduler(acme_rq).run(once=True) == 1


def test_the_database_worker_ticks_the_scheduler(acme: Podium, connections: dict[str, int]) -> None:
    """Without Redis there is no scheduler process: the queue worker enqueues the syncs."""
    DbQueueWorker(acme, queues=["nothing-to-run"]).work(burst=True)
    assert sorted(row["args"]["entity"] for row in pending_jobs(acme)) == ["identity", "ticket"]


def test_scheduler_command_once(acme: Podium, connections: dict[str, int]) -> None:
    result = CliRunner().invoke(cli, ["scheduler", "--once", "--interval", "30"], env=cli_env(acme),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert db_job_count(acme) == 2
    listing = CliRunner().invoke(cli, ["jobs", "list"], env=cli_env(acme), catch_exceptions=False)
    assert listing.output.count("sync_entity") == 2 and "entity=ticket" in listing.output


# -- periodic metrics refresh ------------------------------------------------------------------


@pytest.fixture
def tracking(acme: Podium, tenant_id: int) -> int:
    """The tenant tracks a metric (as a pod would), never refreshed by the job yet."""
    from podium.metrics.engine import MetricEngine  # noqa: PLC0415 - needs the loaded plugins

    with acme.db.session(tenant_id) as session:
        MetricEngine(acme).track(session, tenant_id, "hours_worked", "person", "month", "pod:test",
                                 dt.date(2024, 1, 1))
    return tenant_id


def refresh_jobs(podium: Podium) -> list[dict[str, object]]:
    return [row for row in pending_jobs(podium) if row["type"] == "refresh_metrics"]


def test_a_metrics_refresh_is_due_an_interval_after_the_last_one_started(acme: Podium, tracking: int) -> None:
    from podium.metrics.changes import refresh_tenant  # noqa: PLC0415
    from podium.metrics.engine import MetricEngine  # noqa: PLC0415

    started = dt.datetime(2024, 3, 4, 10, 0, tzinfo=dt.timezone.utc)
    scheduler = Scheduler(acme)
    assert scheduler.due_refreshes(started) == [tracking]  # never refreshed
    refresh_tenant(acme, tracking, MetricEngine(acme, clock=lambda: started))
    assert scheduler.due_refreshes(started + dt.timedelta(minutes=59)) == []
    assert scheduler.due_refreshes(started + dt.timedelta(minutes=60)) == [tracking]
    quarter_hourly = Scheduler(Podium(replace(acme.config, extra={"metrics_refresh_minutes": "15"})))
    assert quarter_hourly.due_refreshes(started + dt.timedelta(minutes=14)) == []
    assert quarter_hourly.due_refreshes(started + dt.timedelta(minutes=15)) == [tracking]


def test_tenants_tracking_nothing_are_not_refreshed(acme: Podium, tenant_id: int) -> None:
    assert Scheduler(acme).due_refreshes() == []
    assert Scheduler(acme).tick() == []


def test_the_refresh_interval_comes_from_the_config(acme: Podium) -> None:
    assert refresh_interval(acme.config) == dt.timedelta(minutes=60)
    assert refresh_interval(replace(acme.config, extra={"metrics_refresh_minutes": 5})) == dt.timedelta(minutes=5)
    with pytest.raises(ValueError, match="metrics_refresh_minutes must be positive"):
        refresh_interval(replace(acme.config, extra={"metrics_refresh_minutes": "-1"}))


def test_a_pending_refresh_is_joined_not_duplicated(acme: Podium, tracking: int) -> None:
    scheduler = Scheduler(acme)
    [first], [second] = scheduler.tick(), scheduler.tick()
    assert first.created and not second.created and first.id == second.id
    assert [(row["tenant_id"], row["args"]) for row in refresh_jobs(acme)] == [
        (tracking, {"trigger": "scheduler"})]


def test_a_pending_refresh_is_joined_not_duplicated_on_rq(acme_rq: Podium, tracking: int) -> None:
    scheduler = Scheduler(acme_rq)
    [first], [second] = scheduler.tick(), scheduler.tick()
    assert first.created and not second.created and first.id == second.id
    assert Queue("metrics", connection=redis_client(acme_rq.config.redis_url or "")).count == 1
    assert db_job_count(acme_rq) == 0


def test_a_running_refresh_lets_the_next_one_queue(acme: Podium, tracking: int) -> None:
    """A refresh reads everything when it starts, so a change committed while it runs (or
    the next tick) needs a job of its own rather than joining the running one."""
    [queued] = Scheduler(acme).tick()
    claimed = dbqueue.claim(acme, ["metrics"])
    assert claimed is not None and str(claimed.id) == queued.id
    [again] = Scheduler(acme).tick()
    assert again.created and again.id != queued.id
    assert dbqueue.run_claimed(acme, claimed)
    assert Scheduler(acme).due_refreshes() == []  # the finished refresh stamped the tracked metric
