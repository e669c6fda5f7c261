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

No nightly delete reconciliation is scheduled: :mod:`podium.sync` has no entry point for
it yet (connectors already offer ``list_ids``).
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
from podium.jobs import Enqueued, enqueue, redis_client
from podium.models import Connection, SyncRun, utcnow
from podium.runtime import Podium

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_MINUTES = 15
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

    def due(self, now: dt.datetime | None = None) -> list[DueSync]:
        """Entities of enabled connections whose last sync started an interval ago or never."""
        now = now or utcnow()
        with self.podium.db.session() as session:  # unscoped: the scheduler serves every tenant
            connections = session.execute(
                select(Connection.tenant_id, Connection.id, Connection.vendor)
                .where(Connection.status != "disabled")
                .order_by(Connection.tenant_id, Connection.id)
            ).all()
            last_started = {
                (connection_id, entity): started
                for connection_id, entity, started in session.execute(
                    select(SyncRun.connection_id, SyncRun.entity, func.max(SyncRun.started_at))
                    .group_by(SyncRun.connection_id, SyncRun.entity)
                )
            }
        due: list[DueSync] = []
        for tenant_id, connection_id, vendor in connections:
            try:
                entities = self.podium.plugins.data_sources.get(vendor).entities()
            except KeyError:
                log.warning("connection %s: connector %r is not loaded; not scheduled", connection_id, vendor)
                continue
            for entity in entities:
                started = last_started.get((connection_id, entity))
                if started is None or started <= now - self.interval:
                    due.append(DueSync(tenant_id, connection_id, entity))
        return due

    def tick(self, now: dt.datetime | None = None) -> list[Enqueued]:
        """Enqueue every due sync (a pending one is joined, not duplicated)."""
        enqueued = [
            enqueue(
                self.podium, "sync_entity", tenant_id=d.tenant_id, connection_id=d.connection_id,
                entity=d.entity, trigger="scheduler",
            )
            for d in self.due(now)
        ]
        created = sum(e.created for e in enqueued)
        if created:
            log.info("scheduler: %d sync jobs queued (%d already pending)", created, len(enqueued) - created)
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
