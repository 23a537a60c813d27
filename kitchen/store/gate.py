"""A write gate for SQLite: one writer at a time across processes, handed over in microseconds.

SQLite's own busy handler sleeps whole milliseconds (1, 2, 5, 10 ms ...) when a write lock is taken,
which made two ovens drain slower than one. Writers first take this gate (a flock on ``<db>-lock`` and a
thread lock), polling every ~100 microseconds for the first 50 ms (then every 2 ms, for a long holder),
then ``BEGIN IMMEDIATE`` as before.
Other programs that write the database without the gate are still handled by SQLite's busy timeout.
A stopped process (SIGSTOP) holding the gate delays others only until their deadline, exactly as it would
holding SQLite's lock: the gate is never waited on forever.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

from kitchen.core.clock import pause


class WriteGate:
    def __init__(self, db_path: str) -> None:
        self._lock = threading.Lock()
        try:
            self._fd: int | None = os.open(f"{db_path}-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            self._fd = None

    def acquire(self, timeout: float) -> bool:
        """Take the gate within ``timeout`` seconds; False if another writer held it all that time."""
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return False
        if self._fd is None:
            return True
        delay = 0.00002
        patient = time.monotonic() + 0.05
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            except OSError:
                return True
            if time.monotonic() >= deadline:
                self._lock.release()
                return False
            pause(delay)
            delay = min(delay * 1.5, 0.0001 if time.monotonic() < patient else 0.002)

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError:
                pass
        self._lock.release()

    def forget(self) -> None:
        """After fork: the child must not share the parent's open file description (flock is per description)."""
        fd, self._fd = self._fd, None
        self._lock = threading.Lock()
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
