"""A per-connection, per-minute request budget shared by every process.

Vendors rate-limit per account (ConnectWise, Autotask and NinjaOne answer 429 past a
rate), and Podium may run a scheduler sync, a webhook fetch and a CLI sync of the same
connection at once, in different processes. Each of them takes a permit here before
every request, so together they never exceed the connection's limit in any calendar
minute; a taker that finds the minute spent waits for the next one instead of sending.

Two backends with the same guarantee: Redis (``INCR`` on a key per tenant, connection and
minute, expiring on its own) when the runtime has ``redis_url``, else one row per
connection in ``request_budgets`` updated by a single conditional ``UPDATE`` (the
database serialises concurrent updates of a row, so the check and the increment are one
atomic step on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from functools import cache
from typing import Protocol

import redis
from sqlalchemy import case, update

from podium.db import Database, upsert
from podium.models import RequestBudget as BudgetRow

WINDOW_SECONDS = 60


@cache
def redis_client(url: str) -> redis.Redis:
    """One client (and connection pool) per Redis URL per process, shared by every budget.

    redis-py's pool is thread-safe and resets itself in a forked child (RQ workers fork).
    """
    return redis.Redis.from_url(url)


class BudgetStore(Protocol):
    """Counts permits per window; ``try_take`` is atomic across processes."""

    def try_take(self, window: int, limit: int) -> bool:
        """Take one permit in the window starting at epoch second ``window``, if any is left."""


class RedisBudgetStore:
    """Permits counted in Redis: one key per (tenant, connection, minute), expiring by itself."""

    def __init__(self, client: redis.Redis, tenant_id: int, connection_id: int) -> None:
        self.client = client
        self.prefix = f"podium:{tenant_id}:budget:{connection_id}"

    def key(self, window: int) -> str:
        return f"{self.prefix}:{window}"

    def try_take(self, window: int, limit: int) -> bool:
        key = self.key(window)
        with self.client.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * WINDOW_SECONDS)
            used, _ = pipe.execute()
        # A refused INCR leaves the counter above the limit; it only ever refuses more.
        return int(used) <= limit


class DatabaseBudgetStore:
    """Permits counted in the ``request_budgets`` row of the connection (no Redis needed)."""

    def __init__(self, db: Database, tenant_id: int, connection_id: int) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.connection_id = connection_id
        self._row_exists = False

    def try_take(self, window: int, limit: int) -> bool:
        start = dt.datetime.fromtimestamp(window, dt.timezone.utc)
        with self.db.session(self.tenant_id) as session:
            if not self._row_exists:
                upsert(
                    session,
                    BudgetRow,
                    [{"tenant_id": self.tenant_id, "connection_id": self.connection_id, "window_start": start, "used": 0}],
                    conflict=["connection_id"],
                    update=[],
                )
                self._row_exists = True
            # One statement: roll the window over (used = 1) or count within it, never past
            # the limit. Concurrent takers queue on the row lock and re-check the condition.
            rolled = BudgetRow.window_start < start
            result = session.execute(
                update(BudgetRow)
                .where(
                    BudgetRow.connection_id == self.connection_id,
                    rolled | ((BudgetRow.window_start == start) & (BudgetRow.used < limit)),
                )
                .values(window_start=start, used=case((rolled, 1), else_=BudgetRow.used + 1))
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1


class RequestBudget:
    """``take()`` one permit per request, waiting for the next minute when none is left.

    ``clock`` and ``sleep`` are the process's time functions by default; tests pass their
    own to step over a minute boundary without waiting for one.
    """

    def __init__(
        self,
        store: BudgetStore,
        limit: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"request budget must allow at least 1 request per minute, not {limit}")
        self.store = store
        self.limit = limit
        self.clock = clock
        self.sleep = sleep

    @classmethod
    def for_connection(
        cls,
        db: Database,
        redis_url: str | None,
        tenant_id: int,
        connection_id: int,
        limit: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RequestBudget:
        """The budget of one connection on the backend the runtime has (Redis if configured)."""
        store: BudgetStore
        if redis_url:
            store = RedisBudgetStore(redis_client(redis_url), tenant_id, connection_id)
        else:
            store = DatabaseBudgetStore(db, tenant_id, connection_id)
        return cls(store, limit, clock=clock, sleep=sleep)

    def window(self) -> int:
        """Epoch second at which the current minute window started."""
        return int(self.clock()) // WINDOW_SECONDS * WINDOW_SECONDS

    def try_take(self) -> bool:
        """Take a permit if the current window has one left; never blocks."""
        return self.store.try_take(self.window(), self.limit)

    def take(self) -> None:
        """Take a permit, sleeping until the next window as often as the current one is spent."""
        while not self.try_take():
            self.sleep(max(0.0, self.window() + WINDOW_SECONDS - self.clock()))
