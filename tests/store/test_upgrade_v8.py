"""Schema change 8 (live ovens indexed by id, not by heartbeat), from the first release's database and from a
version-7 one (main before this change), on SQLite and PostgreSQL: every row intact, the live-oven index on
id instead of heartbeat_at, and the reaper still finds a silent oven through it."""

from __future__ import annotations

from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.store import SCHEMA_VERSION
from tests.store.raw import Db, kitchen_at_version


def every_row(db: Db) -> dict[str, list[tuple]]:
    return db.raw.dump(db.raw.columns())


def alive_index(db: Db) -> str:
    return db.raw.indexes()["ovens_alive"].lower()


def reaps_a_silent_oven(k: Kitchen, clock: FrozenClock) -> None:
    """Through the new index: a live oven gone silent is declared dead, its order back in the queue."""
    oven = k.join("silent-one")
    k.submit("margherita")
    order = oven.claim()
    assert order is not None
    clock.advance(k.settings.heartbeat_timeout + 1)
    k.reap()
    assert oven.id not in {o.id for o in k.status().ovens if o.state == "alive"}
    assert k.ticket(order.id).state == "queued"


def assert_v8_index(db: Db) -> None:
    index = alive_index(db)
    assert "heartbeat_at" not in index and "(id)" in index and "alive" in index, index


def test_v8_from_the_first_release_keeps_every_row(old_db: Db) -> None:
    assert "heartbeat_at" in alive_index(old_db)
    v1_columns = old_db.raw.columns()
    before = old_db.raw.dump(v1_columns)
    now = float(old_db.raw.scalar("SELECT max(heartbeat_at) FROM ovens")) + 1.0
    clock = FrozenClock(now)
    with Kitchen.open(old_db.url, clock=clock, heartbeat_timeout=5.0) as k:
        assert SCHEMA_VERSION >= 8 and old_db.raw.meta()["schema_version"] == str(SCHEMA_VERSION)
        assert_v8_index(old_db)
        after = old_db.raw.dump(v1_columns)
        after.pop("kitchen_meta"), before.pop("kitchen_meta")
        assert after == before, "every row of the first release intact"
        reaps_a_silent_oven(k, clock)


def test_a_version_7_database_upgrades_with_every_row(make_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_db()
    with kitchen_at_version(monkeypatch, 7):  # main before this change: migrations up to 7
        clock = FrozenClock(1000.0)
        with Kitchen.open(db.url, clock=clock, heartbeat_timeout=5.0) as k:
            k.submit("margherita", key="ada-1", priority=9)
            k.submit_many([{"recipe": "marinara", "customer": "bob"}, {"recipe": "calzone", "priority": 5}])
            oven = k.join("oven-1")
            order = oven.claim()
            assert order is not None and oven.complete(order, result={"slices": 8})
            k.join("oven-2")
        assert db.raw.meta()["schema_version"] == "7" and "heartbeat_at" in alive_index(db)
        before = every_row(db)
    clock = FrozenClock(1001.0)
    with Kitchen.open(db.url, clock=clock, heartbeat_timeout=5.0) as k:
        assert db.raw.meta()["schema_version"] == str(SCHEMA_VERSION)
        assert_v8_index(db)
        after = every_row(db)
        after.pop("kitchen_meta"), before.pop("kitchen_meta")
        assert after == before, "every row of a version-7 database intact"
        reaps_a_silent_oven(k, clock)
