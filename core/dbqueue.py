"""The database-backed job queue: the embedded default when no Redis is configured.

Design §1: "a database-backed queue worked by a background thread in the one web process
— never inline in a request". A job is a ``db_jobs`` row (``func`` holds the job type's
name, ``kwargs`` its id-only arguments); :class:`DbQueueWorker` claims and runs them with
the same timeouts, retries and deduplication as the RQ backend (:mod:`podium.jobs`).

Claiming is one statement on both backends::

    UPDATE db_jobs SET status='started', attempts=attempts+1, ...
    WHERE id = (SELECT id FROM db_jobs WHERE status='queued' AND run_after <= now ...
                ORDER BY run_after, id LIMIT 1 [FOR UPDATE SKIP LOCKED])
      AND status = 'queued'
    RETURNING ...

On PostgreSQL ``SKIP LOCKED`` lets concurrent workers pass over each other's rows; on
SQLite the UPDATE is the transaction's first statement, so it takes the write lock before
reading (no read-to-write upgrade that could fail) and workers claim one after the other.
Either way the ``status='queued'`` guard means a row is started exactly once.

Timeouts: a job runs in its own thread and the worker waits at most its timeout. A job
still running then is marked failed (and retried by its policy), and the worker moves
on. **Python cannot kill a thread**: the overrunning job keeps running in the background
until it returns on its own; whatever it returns or raises is ignored and it can no
longer change its row. Its database writes still happen, which is safe for syncs (they
hold a lease per entity, so a retry waits for it). RQ workers, which run each job in a
forked process, kill overrunning jobs outright; use them when that matters.

A worker that dies mid-job leaves its row ``started``; once it is older than its timeout
plus a grace period, the next worker counts that as a failed attempt ("worker lost").
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from podium.jobs import (
    FAILURE_TTL,
    Enqueued,
    JobError,
    JobType,
    UnknownJobType,
    get_job_type,
    job_types,
    last_line,
    merged,
    queue_names,
)
from podium.models import DbJob, utcnow
from podium.runtime import Podium
from podium.scheduler import TICK_SECONDS, Scheduler

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
"""How long an idle worker waits before looking again (an enqueue in-process wakes it early)."""

LOST_GRACE_SECONDS = 60
"""Extra time past its timeout before a ``started`` row is taken for a dead worker's."""

ENQUEUE_ATTEMPTS = 5
"""Rounds of the insert-or-join race before giving up (each round means another process won)."""

_wakeup = threading.Event()
"""Set by :func:`enqueue` so a worker in this process starts a new job without polling delay."""


class JobTimeout(JobError):
    """The job overran its type's timeout."""


@dataclass(frozen=True)
class Claimed:
    """A job this worker has started (and whose row only it may now settle)."""

    id: int
    type: str
    kwargs: dict[str, Any]
    attempts: int
    max_attempts: int
    timeout: int


# --- enqueueing -----------------------------------------------------------------------------


def enqueue(podium: Podium, jt: JobType, key: str | None, arguments: dict[str, Any]) -> Enqueued:
    """Insert a job row, or join the pending row holding ``key`` (merging ids into it)."""
    for _ in range(ENQUEUE_ATTEMPTS):
        if key is not None:
            joined = _join(podium, jt, key, arguments)
            if joined is not None:
                return joined
        try:
            with podium.db.session() as session:
                job = DbJob(
                    tenant_id=arguments.get("tenant_id"), queue=jt.queue, func=jt.name, args=[], kwargs=arguments,
                    job_key=key, max_attempts=jt.max_attempts, timeout_seconds=jt.timeout, run_after=utcnow(),
                )
                session.add(job)
                session.flush()
                job_id = job.id
        except IntegrityError:
            if key is None:
                raise
            with podium.db.session() as session:
                holder = session.execute(select(DbJob.id, DbJob.status).where(DbJob.job_key == key)).first()
            if holder is None:
                raise  # not a clash of keys (e.g. an unknown tenant)
            if holder.status != "queued":
                return Enqueued(str(holder.id), False, "db")  # e.g. the same sync, running now
            continue  # another process queued it first: join it on the next round
        _wakeup.set()
        return Enqueued(str(job_id), True, "db")
    raise RuntimeError(f"could not enqueue {jt.name} with key {key!r}: lost the race {ENQUEUE_ATTEMPTS} times")


def _join(podium: Podium, jt: JobType, key: str, arguments: dict[str, Any]) -> Enqueued | None:
    """Join the queued job holding ``key``; its row is locked by the first, writing statement."""
    with podium.db.session() as session:
        row = session.execute(
            update(DbJob)
            .where(DbJob.job_key == key, DbJob.status == "queued")
            .values(status="queued")
            .returning(DbJob.id, DbJob.kwargs)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return None
        if jt.merge and arguments.get(jt.merge):
            kwargs = dict(row.kwargs)
            kwargs[jt.merge] = merged(kwargs.get(jt.merge) or [], arguments[jt.merge])
            session.execute(
                update(DbJob).where(DbJob.id == row.id).values(kwargs=kwargs)
                .execution_options(synchronize_session=False)
            )
        return Enqueued(str(row.id), False, "db")


# --- claiming and settling ------------------------------------------------------------------


def claim(podium: Podium, queues: Sequence[str] | None = None, now: dt.datetime | None = None) -> Claimed | None:
    """Atomically start the next due job of ``queues`` (default: every registered queue)."""
    now = now or utcnow()
    queues = list(queues) if queues else queue_names()
    releasing = [name for name, jt in job_types().items() if not jt.holds_key_while_running]
    candidate_table = aliased(DbJob)
    candidate = (
        select(candidate_table.id)
        .where(
            candidate_table.status == "queued",
            candidate_table.run_after <= now,
            candidate_table.queue.in_(queues),
        )
        .order_by(candidate_table.run_after, candidate_table.id)
        .limit(1)
    )
    if podium.db.dialect == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    with podium.db.session() as session:
        row = session.execute(
            update(DbJob)
            .where(DbJob.id == candidate.scalar_subquery(), DbJob.status == "queued")
            .values(
                status="started",
                attempts=DbJob.attempts + 1,
                started_at=now,
                # A merging job stops taking ids now (later ones need a job of their own),
                # and a job that reads afresh lets a change made while it runs queue another.
                job_key=case((DbJob.func.in_(releasing), None), else_=DbJob.job_key),
            )
            .returning(
                DbJob.id, DbJob.func, DbJob.kwargs, DbJob.attempts, DbJob.max_attempts, DbJob.timeout_seconds
            )
            .execution_options(synchronize_session=False)
        ).first()
    if row is None:
        return None
    return Claimed(row.id, row.func, dict(row.kwargs), row.attempts, row.max_attempts, row.timeout_seconds)


def _started(job_id: int, attempts: int) -> Any:
    """Only the claimer of this attempt may settle it (not a reaper, not an overrun thread)."""
    return (DbJob.id == job_id, DbJob.status == "started", DbJob.attempts == attempts)


def finish(session: Session, job_id: int, attempts: int) -> None:
    """A job that succeeded leaves no row: ``sync_runs`` is the history (RQ: ``result_ttl``)."""
    session.execute(delete(DbJob).where(*_started(job_id, attempts)).execution_options(synchronize_session=False))


def fail(
    session: Session, job_id: int, attempts: int, error: str, retry_in: int | None, now: dt.datetime | None = None
) -> None:
    """Record a failed attempt: back to the queue after ``retry_in`` seconds, or failed for good.

    A final failure keeps its error and lets go of its key, so the next sync of the same
    entity can be queued while this one stays listed in ``podium jobs failed``.
    """
    now = now or utcnow()
    values: dict[str, Any] = {"error": error}
    if retry_in is None:
        values.update(status="failed", finished_at=now, job_key=None)
    else:
        values.update(status="queued", run_after=now + dt.timedelta(seconds=retry_in), started_at=None)
    session.execute(update(DbJob).where(*_started(job_id, attempts)).values(**values)
                    .execution_options(synchronize_session=False))


def _retry_in(jt: JobType | None, attempts: int, max_attempts: int, retriable: bool = True) -> int | None:
    """Seconds until the next attempt, or None when this failure is final."""
    if jt is None or attempts >= max_attempts or not retriable:
        return None
    return jt.backoff_after(attempts)


def reap_lost(podium: Podium, now: dt.datetime | None = None) -> int:
    """Count jobs left ``started`` by a worker that died as failed attempts; returns how many."""
    now = now or utcnow()
    with podium.db.session() as session:
        started = session.execute(
            select(DbJob.id, DbJob.func, DbJob.attempts, DbJob.max_attempts, DbJob.timeout_seconds, DbJob.started_at)
            .where(DbJob.status == "started")
        ).all()
        lost = [
            row for row in started
            if row.started_at is None
            or row.started_at + dt.timedelta(seconds=row.timeout_seconds + LOST_GRACE_SECONDS) < now
        ]
        for row in lost:
            jt = job_types().get(row.func)
            error = f"worker lost: the job was still marked started {row.timeout_seconds + LOST_GRACE_SECONDS} s after it began"
            fail(session, row.id, row.attempts, error, _retry_in(jt, row.attempts, row.max_attempts), now)
    for row in lost:
        log.warning("job %s (%s): %s", row.id, row.func, "worker lost; counted as a failed attempt")
    return len(lost)


def prune(podium: Podium, now: dt.datetime | None = None) -> int:
    """Forget failed jobs older than ``FAILURE_TTL`` (as RQ's failed registry does)."""
    cutoff = (now or utcnow()) - dt.timedelta(seconds=FAILURE_TTL)
    with podium.db.session() as session:
        result = session.execute(
            delete(DbJob).where(DbJob.status == "failed", DbJob.finished_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


# --- running --------------------------------------------------------------------------------


def run_claimed(podium: Podium, claimed: Claimed) -> bool:
    """Run a claimed job within its timeout and settle its row; True when it succeeded."""
    jt: JobType | None = None
    try:
        jt = get_job_type(claimed.type, podium)
        error = _run_with_timeout(podium, jt, claimed)
    except UnknownJobType as exc:
        error = exc
    with podium.db.session() as session:
        if error is None:
            finish(session, claimed.id, claimed.attempts)
            return True
        retriable = not isinstance(error, JobError) or error.retriable
        retry_in = _retry_in(jt, claimed.attempts, claimed.max_attempts, retriable)
        text = "".join(traceback.format_exception(error))
        fail(session, claimed.id, claimed.attempts, text, retry_in)
    log.error(
        "job %s (%s) attempt %d/%d failed%s: %s", claimed.id, claimed.type, claimed.attempts, claimed.max_attempts,
        "" if retry_in is None else f", retrying in {retry_in} s", error,
    )
    return False


def _run_with_timeout(podium: Podium, jt: JobType, claimed: Claimed) -> BaseException | None:
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            jt.func(podium, **claimed.kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the worker, which records it
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"podium-job-{claimed.id}", daemon=True)
    thread.start()
    thread.join(claimed.timeout)
    if thread.is_alive():
        return JobTimeout(
            f"{claimed.type} exceeded its timeout of {claimed.timeout} s (its thread cannot be killed "
            "and may still be running)"
        )
    return outcome.get("error")


class DbQueueWorker:
    """Works the database queue: ``start()`` runs it in a background thread (the web app),
    ``work(burst=True)`` runs every due job in the calling thread and returns (CLI, tests).

    With ``schedule`` it also ticks the :class:`~podium.scheduler.Scheduler` every
    ``tick_seconds`` (and cleans up lost and expired jobs), since without Redis there is no
    separate scheduler process.
    """

    def __init__(
        self,
        podium: Podium,
        queues: Sequence[str] | None = None,
        *,
        schedule: bool = True,
        poll_seconds: float = POLL_SECONDS,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self.podium = podium
        self.queues = list(queues) if queues else None
        self.scheduler = Scheduler(podium) if schedule else None
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Work the queue in a daemon thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.work, name="podium-dbqueue", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to stop after its current job and wait up to ``timeout`` seconds."""
        self._stop.set()
        _wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def housekeeping(self) -> None:
        """Reap jobs of dead workers, forget expired failures, tick the scheduler."""
        reap_lost(self.podium)
        prune(self.podium)
        if self.scheduler is not None:
            self.scheduler.tick()

    def work(self, burst: bool = False) -> int:
        """Run jobs until stopped (or, with ``burst``, until none is due); returns jobs run."""
        ran = 0
        next_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_housekeeping:
                    self.housekeeping()
                    next_housekeeping = time.monotonic() + self.tick_seconds
                claimed = claim(self.podium, self.queues)
                if claimed is not None:
                    run_claimed(self.podium, claimed)
                    ran += 1
                    continue
            except Exception:  # noqa: BLE001 - a database hiccup must not end the worker thread
                log.exception("database job queue: worker iteration failed")
                if burst:
                    raise
                self._stop.wait(self.poll_seconds)
                continue
            if burst:
                break
            _wakeup.wait(self.poll_seconds)
            _wakeup.clear()
        return ran


# --- looking at jobs ------------------------------------------------------------------------


def jobs(podium: Podium, statuses: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of the given statuses as ``podium jobs`` and ``/healthz`` show them."""
    with podium.db.session() as session:
        rows = session.scalars(select(DbJob).where(DbJob.status.in_(statuses)).order_by(DbJob.id.desc())).all()
    return [_row(job) for job in rows]


def _row(job: DbJob) -> dict[str, Any]:
    kwargs = dict(job.kwargs or {})
    kwargs.pop("tenant_id", None)
    return {
        "id": str(job.id),
        "type": job.func,
        "tenant_id": job.tenant_id,
        "args": kwargs,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": job.error,
        "error_line": last_line(job.error),
        "at": {"failed": job.finished_at, "started": job.started_at}.get(job.status, job.run_after),
    }
