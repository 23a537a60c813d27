"""Schema change 7 (the tally inbox, for submits inside an application's transaction), from the first release's
database and from a version-6 one (main before this change), on SQLite and PostgreSQL: every row intact, the
inbox there and empty, and counted and folded once written to."""

from __future__ import annotations

from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.store import SCHEMA_VERSION
from tests.store.raw import Db, kitchen_at_version

INBOX_COLUMNS = ["id", "bucket", "submitted", "duplicates"]


def story_end(db: Db) -> float:
    return float(db.raw.scalar("SELECT max(heartbeat_at) FROM ovens")) + 1.0


def inbox_columns(db: Db) -> list[str]:
    if db.backend == "sqlite":
        return [r[1] for r in db.raw.rows("PRAGMA table_info(tally_inbox)")]
    return [r[0] for r in db.raw.rows("SELECT column_name FROM information_schema.columns WHERE table_schema = ?"
                                      " AND table_name = 'tally_inbox' ORDER BY ordinal_position", db.raw.location)]


def every_row(db: Db) -> dict[str, list[tuple]]:
    """Every row of kitchen's tables as they stand (the columns present now), dedup tombstones included."""
    dump = db.raw.dump(db.raw.columns())
    dump["dedup_tombstones"] = db.raw.rows("SELECT * FROM dedup_tombstones ORDER BY 1")
    return dump


def counts_an_inbox_row(db: Db, k: Kitchen) -> None:
    """A row in the inbox is counted at once and folded into its bucket's tally row exactly once."""
    before = k.status()
    tally = db.raw.scalar("SELECT submitted FROM tally WHERE bucket = 3")
    db.raw.execute("INSERT INTO tally_inbox (bucket, submitted, duplicates) VALUES (3, 2, 1)")
    counted = k.status()
    assert counted.orders.submitted == before.orders.submitted + 2
    assert counted.ledger.duplicate_submissions == before.ledger.duplicate_submissions + 1
    assert k.fold_inbox() == 1 and k.fold_inbox() == 0
    assert db.raw.scalar("SELECT count(*) FROM tally_inbox") == 0
    assert db.raw.scalar("SELECT submitted FROM tally WHERE bucket = 3") == tally + 2
    assert k.status().orders == counted.orders and k.status().ledger == counted.ledger


def test_v7_adds_an_empty_inbox_and_keeps_every_row_of_the_first_release(old_db: Db) -> None:
    assert inbox_columns(old_db) == []
    v1_columns = old_db.raw.columns()
    before = old_db.raw.dump(v1_columns)
    with Kitchen.open(old_db.url, clock=FrozenClock(story_end(old_db)), heartbeat_timeout=5.0) as k:
        assert SCHEMA_VERSION >= 7 and old_db.raw.meta()["schema_version"] == str(SCHEMA_VERSION)
        assert inbox_columns(old_db) == INBOX_COLUMNS
        assert old_db.raw.scalar("SELECT count(*) FROM tally_inbox") == 0
        after = old_db.raw.dump(v1_columns)
        assert after.pop("kitchen_meta") == [r if r[0] != "schema_version" else ("schema_version", str(SCHEMA_VERSION))
                                             for r in before.pop("kitchen_meta")]
        assert after == before, "every row of the first release intact (in the columns it had)"
        counts_an_inbox_row(old_db, k)


def test_a_version_6_database_upgrades_with_every_row(make_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_db()
    with kitchen_at_version(monkeypatch, 6):  # main before this change: migrations up to 6
        clock = FrozenClock(1000.0)
        with Kitchen.open(db.url, clock=clock, heartbeat_timeout=5.0, keep_done="1h", dedup_window="1d") as k:
            first = k.submit("margherita", key="ada-1", priority=9)
            assert k.submit("margherita", key="ada-1").duplicate
            k.submit_many([{"recipe": "marinara", "customer": "bob"}, {"recipe": "calzone", "priority": 5}])
            oven = k.join("oven-1")
            order = oven.claim()
            assert order is not None and order.id == first.number and oven.complete(order, result={"slices": 8})
            clock.advance(2 * 3600)
            k.submit("marinara")
            assert k.purge().done == 1
        assert db.raw.meta()["schema_version"] == "6" and inbox_columns(db) == []
        before = every_row(db)
        assert [r[0] for r in before["dedup_tombstones"]] == ["ada-1"], "a purged order's key, kept as a tombstone"
    with Kitchen.open(db.url, clock=FrozenClock(8200.0), heartbeat_timeout=5.0) as k:
        assert db.raw.meta()["schema_version"] == str(SCHEMA_VERSION)
        after = every_row(db)
        meta = [r for r in before.pop("kitchen_meta") if r[0] != "schema_version"]
        assert [r for r in after.pop("kitchen_meta") if r[0] != "schema_version"] == meta
        assert after == before, "every row of a version-6 database intact"
        assert inbox_columns(db) == INBOX_COLUMNS
        counts_an_inbox_row(db, k)
