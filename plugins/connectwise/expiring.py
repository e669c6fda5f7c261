"""A small in-process cache whose entries expire: signing keys, verified members, seen messages.

Each web process keeps its own (design §8: nothing a request depends on lives only here).
Losing an entry costs one more request to ConnectWise or one more fetch of a record,
never a wrong answer, so a per-process cache is enough and nothing secret is written
anywhere. The size bound keeps a flood of distinct keys (forged message ids) from
growing memory.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from podium.models import Connection

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """A thread-safe map whose entries live ``ttl`` seconds; past ``size`` entries the
    oldest is dropped."""

    def __init__(self, ttl: float, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The live value for ``key``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def add(self, key: K, value: V) -> bool:
        """Store ``value`` unless ``key`` is live already; True when it was stored (a first sighting)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                return False
            self._put(key, value)
            return True

    def _put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def config_fingerprint(connection: Connection) -> str:
    """A cache key naming a connection as configured now.

    The encrypted config changes whenever the config does (Fernet is randomised), so an
    answer cached for the old site or company is never reused for the new one.
    """
    return hashlib.sha256(f"{connection.id}\0{connection.config_encrypted}".encode()).hexdigest()
