"""Clocks are injected so tests decide what time it is; nothing in the engine calls time.time directly."""

from __future__ import annotations

import threading
import time
from typing import Callable

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
