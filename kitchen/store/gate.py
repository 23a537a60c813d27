"""A write gate for SQLite: one writer at a time across processes, handed over in microseconds.

SQLite's own busy handler sleeps whole milliseconds (1, 2, 5, 10 ms ...) when a write lock is taken,
which made two ovens drain slower than one. Writers first take this gate (a flock on ``<db>-lock`` and a
thread lock), polling every ~100 microseconds for the first 50 ms (then every 2 ms, for a long holder),
then ``BEGIN IMMEDIATE`` as before.

Heartbeats are urgent: an oven declared dead because its heartbeat queued behind its own cooks' writes (an oven
with several slots has several) is a false death. An urgent writer goes before the other threads of its
process (they wait while one is queued) and keeps polling the file lock every ~100 microseconds however long
it waits, where a patient writer slows to every 2 ms. Across processes there is no priority: a process stopped
while it waits must never hold the others back.
Other programs that write the database without the gate are still handled by SQLite's busy timeout.
A stopped process (SIGSTOP) holding the gate delays others only until their deadline, exactly as it would
holding SQLite's lock: the gate is never waited on forever.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

from kitchen.core.clock import Deadline

STEP = 0.05  # seconds per wait for the thread lock


class WriteGate:
    def __init__(self, db_path: str) -> None:
        self._lock = threading.Lock()
        self._urgent = 0  # urgent writers of this process waiting for the gate
        self._count = threading.Lock()
        try:
            self._fd: int | None = os.open(f"{db_path}-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            self._fd = None

    def acquire(self, timeout: float, urgent: bool = False) -> bool:
        """Take the gate within ``timeout`` seconds; False if another writer held it all that time (time this
        process spent stopped does not count: see ``Deadline``)."""
        deadline: Deadline | None = None  # made only once something has to be waited for (the common case: not)
        if self._urgent or not self._lock.acquire(blocking=False):
            deadline = Deadline(timeout)
            if not self._wait_for_lock(deadline, urgent):
                return False
        if self._fd is None:
            return True
        delay = 0.00002
        patient: float | None = None  # until then it polls fast; set at the first wait, not on the free path
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            except OSError:
                return True
            if deadline is None:
                deadline = Deadline(timeout)
            if patient is None:
                patient = float("inf") if urgent else time.monotonic() + 0.05
            if deadline.expired():
                self._lock.release()
                return False
            deadline.pause(delay)
            delay = min(delay * 1.5, 0.0001 if time.monotonic() < patient else 0.002)

    def _wait_for_lock(self, deadline: Deadline, urgent: bool) -> bool:
        """The thread lock, an urgent writer queued ahead of this process's other writers."""
        if urgent:
            with self._count:
                self._urgent += 1
            try:
                return self._take_lock(deadline)
            finally:
                with self._count:
                    self._urgent -= 1
        while self._urgent:  # a heartbeat of this process is queued: it goes first
            if deadline.expired():
                return False
            deadline.pause(0.0001)
        return self._take_lock(deadline)

    def _take_lock(self, deadline: Deadline) -> bool:
        """The thread lock, in steps short enough to notice a stop of this process."""
        while True:
            step = min(deadline.left(), STEP)
            deadline.allow(step)
            if self._lock.acquire(timeout=step):
                return True
            if deadline.expired():
                return False

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError:
                pass
        self._lock.release()

    def close(self, timeout: float = 5.0) -> None:
        """Close the lock file once no writer of this process holds the gate (a closed descriptor's number can
        be reused by another file, which a late flock would then lock). Still held after ``timeout``: kept."""
        if not self._lock.acquire(timeout=timeout):
            return
        try:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)
        except OSError:
            pass
        finally:
            self._lock.release()

    def forget(self) -> None:
        """After fork: the child must not share the parent's open file description (flock is per description)."""
        fd, self._fd = self._fd, None
        self._lock = threading.Lock()
        self._urgent = 0
        self._count = threading.Lock()
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
