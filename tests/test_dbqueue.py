"""The database queue (no Redis), on SQLite and PostgreSQL: claims, retries, timeouts, the thread."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from podium import dbqueue
from podium.cli import cli
from podium.dbqueue import DbQueueWorker, claim, prune, reap_lost
from podium.jobs import FAILURE_TTL, enqueue, failed_jobs, pending_jobs
from podium.models import DbJob
from podium.runtime import Podium
from tests.test_jobs import RETRY_BACKOFF, cli_env, db_jobs, job_plugins, ran, wait_until  # noqa: F401 - db_jobs, job_plugins: fixtures


def job_row(podium: Podium, job_id: str) -> DbJob:
    with podium.db.session() as session:
        return session.get_one(DbJob, int(job_id))


def burst(podium: Podium) -> int:
    """Run every due job in this thread (without the scheduler, which these tests do not need)."""
    return DbQueueWorker(podium, schedule=False).work(burst=True)


def test_the_background_thread_runs_what_is_enqueued(db_jobs: Podium, tenant_id: int) -> None:
    worker = DbQueueWorker(db_jobs, schedule=False, poll_seconds=5)
    worker.start()
    try:
        enqueue(db_jobs, "test_record", tenant_id=tenant_id, label="from-a-request", external_ids=["7"])
        deadline = time.monotonic() + 20
        while not ran(db_jobs, tenant_id) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert ran(db_jobs, tenant_id) == [("from-a-request", ["7"])]
    assert pending_jobs(db_jobs) == []  # a finished job leaves no row


def test_two_workers_never_run_the_same_job(db_jobs: Podium, tenant_id: int) -> None:
    labels = [f"job-{n}" for n in range(24)]
    for label in labels:
        enqueue(db_jobs, "test_record", tenant_id=tenant_id, label=label)
    start = threading.Barrier(2)
    counts: list[int] = []

    def work() -> None:
        start.wait()
        counts.append(burst(db_jobs))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == len(labels)
    assert Counter(label for label, _ in ran(db_jobs, tenant_id)) == Counter(labels)


def test_concurrent_claims_are_disjoint(db_jobs: Podium, tenant_id: int) -> None:
    for n in range(30):
        enqueue(db_jobs, "test_record", tenant_id=tenant_id, label=f"c{n}")
    claimed: list[list[int]] = [[], [], []]
    start = threading.Barrier(3)

    def claimer(mine: list[int]) -> None:
        start.wait()
        while (job := claim(db_jobs)) is not None:
            mine.append(job.id)

    threads = [threading.Thread(target=claimer, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [job_id for mine in claimed for job_id in mine]
    assert len(everything) == len(set(everything)) == 30


def test_retries_with_backoff_then_the_failure_is_kept_and_listed(db_jobs: Podium, tenant_id: int) -> None:
    job_id = enqueue(db_jobs, "test_fail", tenant_id=tenant_id, label="flaky").id
    before = dt.datetime.now(dt.timezone.utc)
    assert burst(db_jobs) == 2  # attempt 1 fails and is due again at once (back-off 0); attempt 2 fails
    row = job_row(db_jobs, job_id)
    assert (row.status, row.attempts) == ("queued", 2)
    assert row.run_after >= before + dt.timedelta(seconds=RETRY_BACKOFF)  # back-off before the 3rd attempt
    assert row.error is not None and "RuntimeError: boom: flaky" in row.error
    assert burst(db_jobs) == 0  # not due yet

    wait_until(row.run_after)
    assert burst(db_jobs) == 1
    row = job_row(db_jobs, job_id)
    assert (row.status, row.attempts, row.job_key) == ("failed", 3, None)
    [failed] = failed_jobs(db_jobs)
    assert (failed["id"], failed["type"], failed["attempts"], failed["max_attempts"]) == (job_id, "test_fail", 3, 3)
    assert failed["args"] == {"label": "flaky"} and failed["error_line"] == "RuntimeError: boom: flaky"

    listing = CliRunner().invoke(cli, ["jobs", "failed"], env=cli_env(db_jobs), catch_exceptions=False)
    assert listing.exit_code == 0, listing.output
    [line] = [line for line in listing.output.splitlines() if line.startswith(job_id + " ")]
    assert "test_fail" in line and "label=flaky" in line and "3/3" in line and line.endswith("RuntimeError: boom: flaky")


def test_a_job_that_gives_up_is_not_retried(db_jobs: Podium, tenant_id: int) -> None:
    job_id = enqueue(db_jobs, "test_give_up", tenant_id=tenant_id).id
    assert burst(db_jobs) == 1
    row = job_row(db_jobs, job_id)
    assert (row.status, row.attempts, row.max_attempts) == ("failed", 1, 3)
    assert row.error is not None and row.error.rstrip().endswith("bad credentials for connection 7")


def test_a_job_over_its_timeout_is_failed_and_the_worker_goes_on(db_jobs: Podium, tenant_id: int) -> None:
    hang = enqueue(db_jobs, "test_hang", tenant_id=tenant_id, seconds=3).id
    enqueue(db_jobs, "test_record", tenant_id=tenant_id, label="after")
    assert burst(db_jobs) == 2
    row = job_row(db_jobs, hang)
    assert row.status == "failed"
    assert row.error is not None and "test_hang exceeded its timeout of 1 s" in row.error
    assert ran(db_jobs, tenant_id) == [("after", [])]


def test_pending_job_is_joined_not_duplicated(db_jobs: Podium, tenant_id: int) -> None:
    sync = [enqueue(db_jobs, "sync_entity", tenant_id=tenant_id, connection_id=4, entity="ticket") for _ in range(2)]
    assert sync[0].created and not sync[1].created and sync[0].id == sync[1].id
    fetch = [
        enqueue(db_jobs, "fetch_records", tenant_id=tenant_id, connection_id=4, entity="ticket", external_ids=ids)
        for ids in (["1", "2"], ["2", "3"], ["9"])
    ]
    assert [f.created for f in fetch] == [True, False, False] and len({f.id for f in fetch}) == 1
    rows = {row["type"]: row for row in pending_jobs(db_jobs)}
    assert len(pending_jobs(db_jobs)) == 2
    assert rows["fetch_records"]["args"]["external_ids"] == ["1", "2", "3", "9"]
    assert rows["sync_entity"]["args"] == {"connection_id": 4, "entity": "ticket"}


def test_concurrent_deliveries_merge_every_id_into_one_job(db_jobs: Podium, tenant_id: int) -> None:
    start = threading.Barrier(4)

    def deliver(sender: int) -> None:
        start.wait()
        for n in range(10):
            enqueue(db_jobs, "fetch_records", tenant_id=tenant_id, connection_id=4, entity="ticket",
                    external_ids=[f"{sender}-{n}"])

    threads = [threading.Thread(target=deliver, args=(sender,)) for sender in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    [row] = pending_jobs(db_jobs)
    assert sorted(row["args"]["external_ids"]) == sorted(f"{s}-{n}" for s in range(4) for n in range(10))


def test_a_started_sync_still_holds_its_key_but_a_started_fetch_does_not(db_jobs: Podium, tenant_id: int) -> None:
    sync = enqueue(db_jobs, "sync_entity", tenant_id=tenant_id, connection_id=4, entity="ticket")
    fetch = enqueue(db_jobs, "fetch_records", tenant_id=tenant_id, connection_id=4, entity="ticket", external_ids=["1"])
    while claim(db_jobs, ["sync", "webhooks"]) is not None:
        pass
    again = enqueue(db_jobs, "sync_entity", tenant_id=tenant_id, connection_id=4, entity="ticket")
    later = enqueue(db_jobs, "fetch_records", tenant_id=tenant_id, connection_id=4, entity="ticket", external_ids=["2"])
    assert (again.created, again.id) == (False, sync.id)  # one sync of an entity at a time
    assert later.created and later.id != fetch.id  # the running fetch has its ids already


def test_coalesced_ids_reach_the_job_and_later_ones_get_a_new_job(db_jobs: Podium, tenant_id: int) -> None:
    enqueue(db_jobs, "test_record", tenant_id=tenant_id, label="burst", external_ids=["a", "b"], late="e")
    enqueue(db_jobs, "test_record", tenant_id=tenant_id, label="burst", external_ids=["b", "c"])
    assert burst(db_jobs) == 2
    assert ran(db_jobs, tenant_id) == [("burst", ["a", "b", "c"]), ("burst", ["e"])]


def test_a_job_left_started_by_a_dead_worker_is_retried(db_jobs: Podium, tenant_id: int) -> None:
    job_id = enqueue(db_jobs, "test_fail", tenant_id=tenant_id, label="orphan").id
    assert claim(db_jobs) is not None  # ... and the worker that claimed it died
    assert reap_lost(db_jobs) == 0  # still within its timeout
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=10 + dbqueue.LOST_GRACE_SECONDS + 1)
    assert reap_lost(db_jobs, now=later) == 1
    row = job_row(db_jobs, job_id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.error is not None and row.error.startswith("worker lost")


def test_worker_command_burst_works_the_database_queue(db_jobs: Podium, tenant_id: int) -> None:
    enqueue(db_jobs, "test_record", tenant_id=tenant_id, label="cli")
    result = CliRunner().invoke(cli, ["worker", "--burst", "--queue", "test"], env=cli_env(db_jobs),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "ran 1 jobs" in result.output
    assert ran(db_jobs, tenant_id) == [("cli", [])]
    with db_jobs.db.session() as session:
        assert session.scalars(select(DbJob)).all() == []


def test_a_job_for_an_unknown_tenant_is_refused_by_the_database(db_jobs: Podium) -> None:
    with pytest.raises(IntegrityError):
        enqueue(db_jobs, "sync_entity", tenant_id=987654, connection_id=1, entity="ticket")


def test_failures_older_than_the_failure_ttl_are_forgotten(db_jobs: Podium, tenant_id: int) -> None:
    enqueue(db_jobs, "test_give_up", tenant_id=tenant_id)
    burst(db_jobs)
    assert prune(db_jobs) == 0 and len(failed_jobs(db_jobs)) == 1
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=FAILURE_TTL + 1)
    assert prune(db_jobs, now=later) == 1
    assert failed_jobs(db_jobs) == []
