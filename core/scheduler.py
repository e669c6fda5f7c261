"""Periodic incremental syncs: the scheduler only enqueues, workers run (design §8).

Every tick (a minute by default) it looks at every connection of every tenant that is not
``disabled`` and enqueues a ``sync_entity`` job for each entity whose last sync *started*
at least the sync interval ago (15 minutes unless configured). Two guards make extra
ticks harmless, which is what redash and RQ learnt the hard way (rq#1354, rq#2338,
anchors §5.4):

* jobs are deduplicated by their deterministic key (``sync-<tenant>-<connection>-<entity>``),
  so a tick while the previous sync is still queued, retrying or running adds nothing;
* "due" is read from ``sync_runs`` in the database, not from the scheduler's memory, so
  a restarted scheduler, a second one, or a web thread and a CLI worker ticking side by
  side do not sync early either.

With Redis, ``podium scheduler`` runs this loop holding a Redis lock (redis-py's
``Lock``, renewed every tick, expiring after three missed ticks) so exactly one scheduler
ticks at a time and a standby takes over when it dies. RQ's ``CronScheduler`` was not
used: it is marked beta and takes no lock (anchors §5.2), and the due check needs the
database anyway. Without Redis the database-queue worker thread calls :meth:`Scheduler.tick`.

Once a night (after ``reconcile_hour_utc``, 03:00 UTC unless configured) it also enqueues a
``reconcile_ids`` job (``reconcile-<tenant>-<connection>-<entity>``) for each entity whose
connector can list its ids, so records deleted in the vendor leave Podium too
(:func:`podium.sync.reconcile_ids`). "Done tonight" is read from ``sync_runs`` as well
(reconciliations are recorded as ``<entity>:reconcile``), and an entity never synced has
nothing to reconcile; one first synced after last night's hour waits for tonight's.

Every ``metrics_refresh_minutes`` (60 unless configured) it enqueues ``refresh_metrics``
(``metrics-refresh-<tenant>``) for each tenant that tracks metrics: no sync announces that
time passed, yet an SLA due time passing turns an open ticket into a breach, in that
period. "Due" is read from the tracked metrics' ``refreshed_at`` (stamped by each refresh
when it starts), so it is as restart-safe as the syncs; an entry never refreshed is due.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from redis.exceptions import LockNotOwnedError
from redis.lock import Lock
from sqlalchemy import func, select

from podium.config import Config
from podium.jobs import Enqueued, UnknownJobType, enqueue, redis_client
from podium.models import Connection, MetricTracked, SyncRun, utcnow
from podium.runtime import Podium
from podium.sync import RECONCILE_RUN_SUFFIX, reconcilable_entities

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_MINUTES = 15
DEFAULT_RECONCILE_HOUR_UTC = 3
DEFAULT_REFRESH_MINUTES = 60
TICK_SECONDS = 60.0
LOCK_NAME = "podium:scheduler"


class SchedulerBusy(RuntimeError):
    """Another scheduler holds the lock."""


def sync_interval(config: Config) -> dt.timedelta:
    """How often each entity is synced: ``sync_interval_minutes`` in the config, else 15."""
    minutes = float(config.extra.get("sync_interval_minutes", DEFAULT_INTERVAL_MINUTES))
    if minutes <= 0:
        raise ValueError(f"sync_interval_minutes must be positive, not {minutes}")
    return dt.timedelta(minutes=minutes)


def reconcile_hour(config: Config) -> int:
    """The hour (UTC) after which each night's id reconciliation is due: ``reconcile_hour_utc``, else 3."""
    hour = int(config.extra.get("reconcile_hour_utc", DEFAULT_RECONCILE_HOUR_UTC))
    if not 0 <= hour <= 23:
        raise ValueError(f"reconcile_hour_utc must be an hour from 0 to 23, not {hour}")
    return hour


def refresh_interval(config: Config) -> dt.timedelta:
    """How often each tenant's metrics are refreshed: ``metrics_refresh_minutes``, else 60."""
    minutes = float(config.extra.get("metrics_refresh_minutes", DEFAULT_REFRESH_MINUTES))
    if minutes <= 0:
        raise ValueError(f"metrics_refresh_minutes must be positive, not {minutes}")
    return dt.timedelta(minutes=minutes)


def last_night(now: dt.datetime, hour: int) -> dt.datetime:
    """The latest ``hour``:00 UTC at or before ``now``: the night a reconciliation belongs to."""
    today = now.astimezone(dt.UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today <= now else today - dt.timedelta(days=1)


@dataclass(frozen=True)
class DueSync:
    tenant_id: int
    connection_id: int
    entity: str


class Scheduler:
    """Enqueues the incremental syncs that are due; safe to tick from several places."""

    def __init__(self, podium: Podium, interval: dt.timedelta | None = None) -> None:
        self.podium = podium
        self.interval = interval or sync_interval(podium.config)
        self.reconcile_hour = reconcile_hour(podium.config)
        self.refresh_interval = refresh_interval(podium.config)

    def due(self, now: dt.datetime | None = None) -> list[DueSync]:
        """Entities of enabled connections whose last sync started an interval ago or never."""
        return self._due(now or utcnow())[0]

    def due_reconciliations(self, now: dt.datetime | None = None) -> list[DueSync]:
        """Entities to reconcile: synced before, and not reconciled since last night's hour."""
        return self._due(now or utcnow())[1]

    def due_refreshes(self, now: dt.datetime | None = None) -> list[int]:
        """Tenants tracking metrics whose last full refresh started an interval ago (or never)."""
        now = now or utcnow()
        with self.podium.db.session() as session:  # unscoped: every tenant
            rows = session.execute(
                select(MetricTracked.tenant_id, func.min(MetricTracked.refreshed_at),
                       func.count() - func.count(MetricTracked.refreshed_at))
                .group_by(MetricTracked.tenant_id)
                .order_by(MetricTracked.tenant_id)
            ).all()
        return [tenant_id for tenant_id, oldest, never in rows
                if never or oldest is None or oldest <= now - self.refresh_interval]

    def _due(self, now: dt.datetime) -> tuple[list[DueSync], list[DueSync]]:
        with self.podium.db.session() as session:  # unscoped: the scheduler serves every tenant
            connections = session.execute(
                select(Connection.tenant_id, Connection.id, Connection.vendor)
                .where(Connection.status != "disabled")
                .order_by(Connection.tenant_id, Connection.id)
            ).all()
            started = {
                (connection_id, entity): (first, last)
                for connection_id, entity, first, last in session.execute(
                    select(SyncRun.connection_id, SyncRun.entity, func.min(SyncRun.started_at),
                           func.max(SyncRun.started_at))
                    .group_by(SyncRun.connection_id, SyncRun.entity)
                )
            }
        night = last_night(now, self.reconcile_hour)
        syncs: list[DueSync] = []
        reconciliations: list[DueSync] = []
        for tenant_id, connection_id, vendor in connections:
            try:
                source = self.podium.plugins.data_sources.get(vendor)
            except KeyError:
                log.warning("connection %s: connector %r is not loaded; not scheduled", connection_id, vendor)
                continue
            for entity in source.entities():
                last_sync = started.get((connection_id, entity), (None, None))[1]
                if last_sync is None or last_sync <= now - self.interval:
                    syncs.append(DueSync(tenant_id, connection_id, entity))
            for entity in reconcilable_entities(source):
                first_sync = started.get((connection_id, entity), (None, None))[0]
                last_reconcile = started.get((connection_id, entity + RECONCILE_RUN_SUFFIX), (None, None))[1]
                if first_sync is not None and (last_reconcile or first_sync) < night:
                    reconciliations.append(DueSync(tenant_id, connection_id, entity))
        return syncs, reconciliations

    def tick(self, now: dt.datetime | None = None) -> list[Enqueued]:
        """Enqueue every due sync, reconciliation and metrics refresh (a pending one is
        joined, not duplicated)."""
        now = now or utcnow()
        syncs, reconciliations = self._due(now)
        enqueued = [
            enqueue(self.podium, job_type, tenant_id=d.tenant_id, connection_id=d.connection_id,
                    entity=d.entity, trigger="scheduler")
            for job_type, due in (("sync_entity", syncs), ("reconcile_ids", reconciliations))
            for d in due
        ]
        for tenant_id in self.due_refreshes(now):
            try:
                enqueued.append(enqueue(self.podium, "refresh_metrics", tenant_id=tenant_id, trigger="scheduler"))
            except UnknownJobType:
                log.warning("tenant %s tracks metrics but the metrics plugin is not loaded; not refreshed", tenant_id)
                break
        created = sum(e.created for e in enqueued)
        if created:
            log.info("scheduler: %d jobs queued (%d already pending)", created, len(enqueued) - created)
        return enqueued

    def run(self, *, once: bool = False, tick_seconds: float = TICK_SECONDS, stop: threading.Event | None = None) -> int:
        """Tick every ``tick_seconds`` until ``stop`` is set (or once); returns the ticks done.

        With Redis only the holder of the scheduler lock ticks; the others stand by (or,
        with ``once``, raise :class:`SchedulerBusy`).
        """
        stop = stop or threading.Event()
        lock = self._lock(tick_seconds)
        ticks = 0
        try:
            while True:
                if lock is None or _hold(lock):
                    self.tick()
                    ticks += 1
                elif once:
                    raise SchedulerBusy("another scheduler holds the lock; not ticking")
                else:
                    log.debug("scheduler: standing by, another scheduler holds the lock")
                if once or stop.wait(tick_seconds):
                    return ticks
        finally:
            if lock is not None and lock.owned():
                lock.release()

    def _lock(self, tick_seconds: float) -> Lock | None:
        url = self.podium.config.redis_url
        if not url:
            return None
        return redis_client(url).lock(LOCK_NAME, timeout=max(3 * tick_seconds, 1.0), blocking=False)


def _hold(lock: Lock) -> bool:
    """Keep (renew) the lock if we have it, else try to take it; True when held."""
    if lock.owned():
        try:
            lock.reacquire()
            return True
        except LockNotOwnedError:
            log.warning("scheduler: lost the lock (a tick took longer than its lease)")
    return bool(lock.acquire(blocking=False))
