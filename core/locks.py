"""Lease locks on (connection, entity): one sync of an entity at a time, whoever starts it.

The scheduler, a webhook job and an admin's ``podium sync`` may all reach for the same
entity at once, in different processes or on different machines. Two interleaved scans
would fight over one resume cursor, so each takes a lease in ``sync_locks`` first. A
lease (not a plain lock) because a worker can die mid-sync: its lease simply expires
and the next sync takes it over, instead of the entity staying blocked forever.

Every operation is one short write transaction whose first statement is a write, so
SQLite takes its write lock up front (waiting on the busy timeout, never failing on a
read-to-write upgrade) and PostgreSQL serialises the contenders on the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from podium.db import Database, upsert
from podium.models import SyncLock

log = logging.getLogger(__name__)

DEFAULT_TTL = 600.0
"""Seconds a lease lasts unless renewed; the sync engine renews it with every batch."""


class LockTimeout(TimeoutError):
    """The lease stayed taken for longer than the caller was willing to wait."""


class LockLost(RuntimeError):
    """The lease expired and someone else took it over; the holder must stop writing."""


def new_holder() -> str:
    """An id unique to one lease attempt: host, process and a random part (threads differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class LeaseLock:
    """The lease on one (connection, entity) for one holder.

    Use :meth:`hold` as a context manager, or :meth:`acquire` / :meth:`renew` /
    :meth:`release`. ``renew`` accepts the caller's session so the renewal commits in the
    same transaction as the work it covers: if the lease was lost, that work rolls back.
    """

    def __init__(
        self,
        db: Database,
        tenant_id: int,
        connection_id: int,
        entity: str,
        *,
        holder: str | None = None,
        ttl: float = DEFAULT_TTL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.connection_id = connection_id
        self.entity = entity
        self.holder = holder or new_holder()
        self.ttl = ttl
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"<LeaseLock connection={self.connection_id} entity={self.entity!r} holder={self.holder!r}>"

    def _expiry(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.ttl)

    def _mine(self) -> list[object]:
        return [
            SyncLock.connection_id == self.connection_id,
            SyncLock.entity == self.entity,
            SyncLock.holder == self.holder,
        ]

    def try_acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours; never waits."""
        now = dt.datetime.now(dt.timezone.utc)
        with self.db.session(self.tenant_id) as session:
            # Writes first: create the row if there is none (a no-op when there is) ...
            upsert(
                session,
                SyncLock,
                [
                    {
                        "tenant_id": self.tenant_id,
                        "connection_id": self.connection_id,
                        "entity": self.entity,
                        "holder": self.holder,
                        "acquired_at": now,
                        "expires_at": self._expiry(now),
                    }
                ],
                conflict=["connection_id", "entity"],
                update=[],
            )
            # ... then claim it unless someone else holds an unexpired lease.
            result = session.execute(
                update(SyncLock)
                .where(
                    SyncLock.connection_id == self.connection_id,
                    SyncLock.entity == self.entity,
                    (SyncLock.holder == self.holder) | (SyncLock.expires_at <= now),
                )
                .values(holder=self.holder, acquired_at=now, expires_at=self._expiry(now))
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    def acquire(self, *, wait: bool = False, timeout: float = 1800.0, poll: float = 0.2) -> bool:
        """Take the lease; with ``wait`` poll until it is free or raise :class:`LockTimeout`."""
        if self.try_acquire():
            log.debug("lease %r acquired", self)
            return True
        if not wait:
            return False
        log.info("waiting for the sync lease on connection %s entity %s", self.connection_id, self.entity)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sleep(poll)
            if self.try_acquire():
                log.info("lease %r acquired after waiting", self)
                return True
        raise LockTimeout(
            f"connection {self.connection_id} entity {self.entity}: another sync held the lease "
            f"for more than {timeout:.0f}s"
        )

    def renew(self, session: Session | None = None) -> None:
        """Extend the lease by ``ttl``; raises :class:`LockLost` if someone else holds it now.

        A lease that expired but was not taken over is still ours to extend: nobody else
        has written in the meantime.
        """
        if session is None:
            with self.db.session(self.tenant_id) as own:
                self.renew(own)
            return
        now = dt.datetime.now(dt.timezone.utc)
        result = session.execute(
            update(SyncLock)
            .where(*self._mine())
            .values(expires_at=self._expiry(now))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise LockLost(f"{self!r} expired and was taken over; stopping so two syncs do not interleave")

    def release(self) -> None:
        """Give the lease up (only if it is still ours)."""
        with self.db.session(self.tenant_id) as session:
            session.execute(delete(SyncLock).where(*self._mine()).execution_options(synchronize_session=False))
        log.debug("lease %r released", self)

    @contextmanager
    def hold(self, *, wait: bool = True, timeout: float = 1800.0) -> Iterator[LeaseLock]:
        """Hold the lease for the ``with`` block (waiting for it by default)."""
        if not self.acquire(wait=wait, timeout=timeout):
            raise LockTimeout(f"connection {self.connection_id} entity {self.entity}: the sync lease is taken")
        try:
            yield self
        finally:
            self.release()
