"""SQLite under a held write lock: callers wait and retry; 'database is locked' never escapes raw."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from kitchen import DatabaseBusy, FrozenClock, Kitchen
from tests.engine.helpers import scalar


def _hold_lock(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_short_lock_is_waited_out(tmp_path) -> None:
    path = str(tmp_path / "k.db")
    with Kitchen.open(path, clock=FrozenClock(), busy_timeout=0.05) as k:
        oven = k.join("oven-1")
        k.submit("margherita")
        holder = _hold_lock(path)
        release = threading.Timer(0.3, holder.rollback)  # longer than busy_timeout, shorter than the retry window
        release.start()
        try:
            ticket = k.submit("marinara")  # must not raise "database is locked"
            order = oven.claim()
        finally:
            release.join()
            holder.close()
        assert ticket.number == 2 and order is not None and scalar(k, "SELECT count(*) FROM orders") == 2


def test_a_lock_held_too_long_is_a_one_line_busy_error(tmp_path) -> None:
    path = str(tmp_path / "k.db")
    with Kitchen.open(path, clock=FrozenClock(), busy_timeout=0.05) as k:
        holder = _hold_lock(path)
        started = time.monotonic()
        try:
            with pytest.raises(DatabaseBusy) as info:
                k.submit("margherita")
        finally:
            holder.rollback()
            holder.close()
        assert time.monotonic() - started < 10
        message = str(info.value)
        assert "\n" not in message and "nothing was written" in message and "locked" in message
        assert scalar(k, "SELECT count(*) FROM orders") == 0
        assert k.submit("margherita").number == 1, "the kitchen works again once the lock is gone"
