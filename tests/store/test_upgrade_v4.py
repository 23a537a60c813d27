"""Schema change 4 (one covering index over the queue), from a version-3 database.

The v3 database is the first release's fixture upgraded by the v2 and v3 migrations exactly as the previous
release ran them (the same functions, unchanged), then used as v3 was: an oven with a menu, customer orders.
Opening it with today's kitchen must drop orders_waiting_recipe, rebuild orders_ready to cover a claim's tests,
and keep every row.
"""

from __future__ import annotations

from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.store import schema
from tests.store.raw import kitchen_at_version


def opened(db: Any) -> Kitchen:
    now = float(db.raw.scalar("SELECT max(heartbeat_at) FROM ovens")) + 1.0
    return Kitchen.open(db.url, clock=FrozenClock(now), heartbeat_timeout=5.0)


@pytest.fixture
def v3_db(old_db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fixture at version 3, with v3-era rows (a menu oven, a customer lane) added by v3 code."""
    with kitchen_at_version(monkeypatch, 3), opened(old_db) as k:
        k.join("soup-only", ["soup"], host="v3-host", pid=9)
        k.submit_many([{"recipe": "soup", "customer": "ada"}, {"recipe": "soup", "customer": "ada"},
                       {"recipe": "stew"}])
    assert old_db.raw.meta()["schema_version"] == "3"
    assert "orders_waiting_recipe" in old_db.raw.indexes()
    return old_db


def test_v4_replaces_the_waiting_recipe_index_with_a_covering_ready_index(v3_db: Any) -> None:
    raw = v3_db.raw
    tables = ("orders", "ovens", "ledger", "refusals", "events", "tally", "buckets")
    kept = {t: ", ".join(c[0] for c in cols) for t, cols in raw.columns().items() if t in tables}  # v3's columns
    before = {t: raw.rows(f"SELECT {kept[t]} FROM {t} ORDER BY 1") for t in tables}
    with opened(v3_db):
        pass
    assert raw.meta()["schema_version"] == str(schema.SCHEMA_VERSION) and schema.SCHEMA_VERSION >= 4
    indexes = raw.indexes()
    assert "orders_waiting_recipe" not in indexes
    ready = indexes["orders_ready"].lower()
    assert all(column in ready for column in ("recipe", "customer", "state", "queued")), ready
    assert {t: raw.rows(f"SELECT {kept[t]} FROM {t} ORDER BY 1") for t in tables} == before, "nothing lost"


def test_after_v4_status_and_menu_claims_see_every_waiting_order(v3_db: Any) -> None:
    raw = v3_db.raw
    with opened(v3_db) as k:
        k.reap(now=k.clock() + 60)  # the fixture's ovens fall silent: only ovens joined now are alive
        soup = k.join("soup-again", ["soup"], host="v4-host", pid=10)
        queued = dict(raw.rows("SELECT recipe, count(*) FROM orders WHERE state = 'queued' GROUP BY recipe"))
        assert k.status().no_oven_can_cook == {r: n for r, n in queued.items() if r != "soup"}
        first = soup.claim()
        assert first is not None and first.recipe == "soup" and first.customer == "ada"
        assert soup.claim() is None, "ada's second soup waits for her first (the lane)"
        assert soup.complete(first)
        second = soup.claim()
        assert second is not None and second.customer == "ada" and second.id > first.id
