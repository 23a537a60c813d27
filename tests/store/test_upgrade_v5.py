"""Schema change 5 (tracebacks, cancelled orders), from the first release's database and from a version-3 one.

Version 4 belongs to another change: the upgrade loop runs the migrations it has, in order, and a database at
version 3 goes straight to 5. Every test starts from a private copy of the v1 fixture (see
``make_v1_fixtures.py``), on SQLite and PostgreSQL; what is compared is read with raw SQL (``db.raw``).
"""

from __future__ import annotations

from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen, OrderCancelled
from kitchen.store import SCHEMA_VERSION
from tests.store.raw import kitchen_at_version

V5_COLUMNS = {("orders", "traceback"), ("orders", "cancel_at"), ("tally", "cancelled")}
ORDER_KEEPS = "SELECT id, state, recipe, payload, attempt, fence, result, error FROM orders ORDER BY id"


def opened(db: Any) -> Kitchen:
    now = float(db.raw.scalar("SELECT max(heartbeat_at) FROM ovens")) + 1.0
    return Kitchen.open(db.url, clock=FrozenClock(now), heartbeat_timeout=5.0)


def columns(db: Any) -> set[tuple[str, str]]:
    return {(table, c[0]) for table, cols in db.raw.columns().items() for c in cols}


def test_v5_adds_the_columns_and_keeps_every_order(old_db: Any) -> None:
    raw = old_db.raw
    assert not columns(old_db) & V5_COLUMNS
    before = raw.rows(ORDER_KEEPS)
    burnt_before = raw.scalar("SELECT sum(burnt) FROM tally")
    with opened(old_db) as k:
        assert SCHEMA_VERSION >= 5 and raw.meta()["schema_version"] == str(SCHEMA_VERSION)
        assert columns(old_db) >= V5_COLUMNS
        assert raw.rows(ORDER_KEEPS) == before, "nothing lost or changed"
        assert raw.rows("SELECT DISTINCT traceback, cancel_at FROM orders") == [(None, None)]
        assert raw.rows("SELECT DISTINCT cancelled FROM tally") == [(0,)]
        snap = k.status()
        assert (snap.orders.cancelled, snap.orders.burnt) == (0, burnt_before)
        burnt = raw.scalar("SELECT min(id) FROM orders WHERE state = 'burnt'")
        info = k.ticket(burnt)
        assert info.error and info.traceback is None, "an old error is kept; it had no traceback"


def test_a_version_3_database_skips_to_5_and_cancels_work(old_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = old_db.raw
    with kitchen_at_version(monkeypatch, 3), opened(old_db):  # the release before this change: migrations up to 3
        pass
    assert raw.meta()["schema_version"] == "3" and not columns(old_db) & V5_COLUMNS
    queued = raw.scalar("SELECT min(id) FROM orders WHERE state = 'queued'")
    queued_before = raw.scalar("SELECT count(*) FROM orders WHERE state = 'queued'")
    with opened(old_db) as k:
        assert raw.meta()["schema_version"] == str(SCHEMA_VERSION) and columns(old_db) >= V5_COLUMNS
        assert k.cancel(queued) is True
        assert raw.scalar("SELECT state FROM orders WHERE id = ?", queued) == "cancelled"
        with pytest.raises(OrderCancelled):
            k.result(queued, timeout=1)
        snap = k.status()
        assert snap.orders.cancelled == 1
        assert snap.orders.queued == queued_before - 1, "the tally stays consistent with the orders"
