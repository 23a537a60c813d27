"""Clocks are injected so tests decide what time it is; nothing in the engine calls time.time directly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]

system_clock: Clock = time.time


class FrozenClock:
    """A clock that only moves when told to: deterministic leases, heartbeats and backoff in tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when


class ServerClock:
    """The database server's clock, read cheaply: local time plus the server's measured offset.

    On PostgreSQL every machine's ovens, reapers and producers compare heartbeats and leases against one
    clock (the server's), so drifting machine clocks still agree. The offset is re-measured every
    ``refresh`` seconds (one tiny query); if the server cannot be reached the last offset is kept.
    """

    def __init__(self, fetch: Callable[[], float], refresh: float = 10.0) -> None:
        self._fetch = fetch
        self._refresh = refresh
        self._offset = 0.0
        self._next = 0.0

    def __call__(self) -> float:
        if time.monotonic() >= self._next:
            self.measure()
        return time.time() + self._offset

    def measure(self) -> float:
        self._next = time.monotonic() + self._refresh
        before = time.time()
        try:
            server = self._fetch()
        except Exception:
            return self._offset
        after = time.time()
        self._offset = server - (before + after) / 2
        return self._offset
