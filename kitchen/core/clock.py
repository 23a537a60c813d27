"""Clocks are injected so tests decide what time it is; nothing in the engine calls time.time directly."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


def pause(seconds: float) -> None:
    """Sleep on the monotonic clock through select(): unlike time.sleep (an absolute clock_nanosleep) it
    also behaves under libfaketime, which the clock-step tests use to move a process's wall clock."""
    if seconds > 0:
        select.select([], [], [], seconds)


class Deadline:
    """``seconds`` of waiting, not counting time this process spent stopped (SIGSTOP, a frozen VM).

    A thread waiting for a lock when its process is stopped finds, once continued, that its whole deadline went
    by while it stood still; it would give up at once and report "stayed locked by another process" about a
    lock it never got the chance to try. So each look at the deadline notices a gap since the last look: one
    longer than the wait the caller announced (``allow``, ``pause``) by more than ``slack`` seconds was time
    stopped, and moves the deadline on.
    """

    def __init__(self, seconds: float, slack: float = 0.5, monotonic: Clock = time.monotonic) -> None:
        self._monotonic = monotonic
        self._seen = monotonic()
        self._at = self._seen + seconds
        self._allowed = 0.0
        self.slack = slack

    def _look(self) -> float:
        now = self._monotonic()
        over = now - self._seen - self._allowed
        if over > self.slack:
            self._at += over
        self._seen, self._allowed = now, 0.0
        return now

    def left(self) -> float:
        now = self._look()  # first: a look may move the deadline on
        return max(self._at - now, 0.0)

    def expired(self) -> bool:
        return self._look() >= self._at

    def allow(self, seconds: float) -> None:
        """The caller is about to wait up to ``seconds`` (a lock's timeout): that much is not a gap."""
        self._look()
        self._allowed = seconds

    def pause(self, seconds: float) -> None:
        self.allow(seconds)
        pause(seconds)


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


class BootClock:
    """One clock for every process on this machine that no wall-clock step can move.

    ``CLOCK_BOOTTIME`` (Linux) counts from boot, never steps, and keeps counting while the machine is
    suspended; ``offset`` (this boot's wall time at boot, agreed by all processes through the database)
    makes it read like wall time. An NTP step or a ``date -s`` after that changes nothing here, so heartbeat
    ages and leases stay true.
    """

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.clock_gettime(time.CLOCK_BOOTTIME) + self.offset


def boot_identity() -> tuple[str, float] | None:
    """(this boot's id, its wall time at boot), or None where there is no boot clock (not Linux)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot_id = f.read().strip()
        return boot_id, time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, AttributeError):
        return None


class ServerClock:
    """The database server's clock: every host's ovens, reapers and producers judge by one clock.

    The server's time is measured every ``refresh`` seconds (one tiny query) and carried forward on this
    process's monotonic clock, never its wall clock: a step of the local clock changes nothing. If the
    server cannot be reached the last measurement is carried forward.
    """

    def __init__(self, fetch: Callable[[], float], refresh: float = 10.0) -> None:
        self._fetch = fetch
        self._refresh = refresh
        self._server = time.time()
        self._at = time.monotonic()
        self._next = 0.0

    def __call__(self) -> float:
        mono = time.monotonic()
        if mono >= self._next:
            self.measure()
            mono = time.monotonic()
        return self._server + (mono - self._at)

    def measure(self) -> float:
        """Read the server's time now; returns its distance from this process's wall clock (for display)."""
        self._next = time.monotonic() + self._refresh
        before = time.monotonic()
        try:
            server = self._fetch()
        except Exception:
            return self._server - time.time()
        after = time.monotonic()
        self._server, self._at = server, (before + after) / 2
        return server - time.time()

    def close(self) -> None:
        """Close the reader's own connection, if it keeps one (it reopens on the next measurement)."""
        close = getattr(self._fetch, "close", None)
        if close is not None:
            close()
