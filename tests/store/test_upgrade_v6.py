"""Schema change 6 (retention: dedup tombstones, purge indexes), from the first release's databases and from
a version-3 database (today's main before this change), across the gap of versions 4 and 5 (other branches).

Every test starts from a private copy of a real earlier database and opens it with today's kitchen, on SQLite
and PostgreSQL; what is compared is read with raw SQL (``db.raw``).
"""

from __future__ import annotations

from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.store import SCHEMA_VERSION
from tests.store.raw import kitchen_at_version

V6_INDEXES = {"dedup_tombstones_until", "orders_burnt_at", "events_order", "refusals_order"}
DAY = 86400.0


def story_end(db: Any) -> float:
    return float(db.raw.scalar("SELECT max(heartbeat_at) FROM ovens")) + 1.0


def test_v6_adds_the_tombstones_and_the_purge_indexes(old_db: Any) -> None:
    raw = old_db.raw
    assert not set(raw.indexes()) & V6_INDEXES
    with Kitchen.open(old_db.url, clock=FrozenClock(story_end(old_db)), heartbeat_timeout=5.0):
        pass
    assert SCHEMA_VERSION >= 6 and raw.meta()["schema_version"] == str(SCHEMA_VERSION)
    assert set(raw.indexes()) >= V6_INDEXES
    assert raw.scalar("SELECT count(*) FROM dedup_tombstones") == 0
    assert raw.scalar("SELECT count(*) FROM orders") == 17, "the upgrade itself purges nothing"


def test_an_upgraded_database_purges_its_old_history_and_keeps_the_rest(old_db: Any) -> None:
    raw = old_db.raw
    counters = "bucket, submitted, done, burnt, duplicates, refused, requeued, retried"  # the v1 tally's
    tally = raw.rows(f"SELECT {counters} FROM tally ORDER BY bucket")
    clock = FrozenClock(story_end(old_db))
    with Kitchen.open(old_db.url, clock=clock, heartbeat_timeout=5.0, keep_done="7d", keep_burnt="30d",
                      dedup_window="60d", keep_events="7d") as k:
        before = k.status()
        clock.advance(8 * DAY)
        report = k.purge()
        assert (report.done, report.burnt, report.tombstones) == (4, 0, 4), "done past 7 d; the burnt one stays"
        assert report.events >= 16 and report.refusals == 4
        assert raw.scalar("SELECT count(*) FROM ledger") == 0
        assert raw.scalar("SELECT count(*) FROM orders WHERE state = 'burnt'") == 1
        assert raw.rows(f"SELECT {counters} FROM tally ORDER BY bucket") == tally, "the counters are history"
        assert k.status().orders == before.orders
        ada = k.submit("margherita", key="ada-1")
        assert ada.duplicate and ada.number == 5, "a purged order's key still dedups inside its window"
        clock.advance(30 * DAY)
        assert k.purge().burnt == 1
        assert k.submit("margherita").number > 17, "ticket numbers go on from the old ones"


def test_a_version_3_database_upgrades_across_the_gap(make_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_db()
    # today's code may not cook on a v3 table: the v3-era completion is written raw
    with kitchen_at_version(monkeypatch, 3), Kitchen.open(db.url, clock=FrozenClock(1000.0)) as k:
        first = k.submit("margherita")
        k.join("oven-1")
    db.raw.execute("UPDATE orders SET dedup_key = 'k-1', state = 'done', attempt = 1, fence = 1, oven_id = 1,"
                   " started_at = 1000.0, finished_at = 1000.0 WHERE id = ?", first.number)
    db.raw.execute("INSERT INTO ledger (order_id, oven_id, oven_name, fence, at) VALUES (?, 1, 'oven-1', 1, 1000.0)",
                   first.number)
    db.raw.execute("UPDATE tally SET done = done + 1 WHERE bucket = ?", first.bucket)
    assert db.raw.meta()["schema_version"] == "3" and not set(db.raw.indexes()) & V6_INDEXES
    clock = FrozenClock(2000.0)
    with Kitchen.open(db.url, clock=clock, keep_done="1h", dedup_window="1h") as k:
        assert db.raw.meta()["schema_version"] == str(SCHEMA_VERSION)
        k.submit("marinara")
        clock.advance(3 * 3600)
        assert k.purge().done == 1
        again = k.submit("margherita", key="k-1")
        assert not again.duplicate and again.number > first.number, "past its window the key is free"
