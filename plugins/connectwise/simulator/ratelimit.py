"""ConnectWise's rate limit: past a number of requests per window, 429 with ``Retry-After``.

ConnectWise publishes no exact threshold ("more than 1,000 requests per minute will
likely experience rate limiting", facts §1.5), so the simulator's is configurable and off
unless asked for. A fixed window per caller is enough to exercise a client's handling:
the 429 says, in ``Retry-After`` seconds, when the window that refused it ends.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Counts requests per key in fixed windows of ``window_seconds``."""

    def __init__(self, limit: int, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("the rate limit must allow at least one request per window")
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def retry_after(self, key: str) -> int | None:
        """Record a request; None if it is allowed, else the whole seconds until it would be."""
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window_seconds:
                start, used = now, 0
            if used >= self.limit:
                self._windows[key] = (start, used)
                return max(1, math.ceil(start + self.window_seconds - now))
            self._windows[key] = (start, used + 1)
            return None
