"""Schema change 3 (customer lanes, oven menus, waiting recipes), from the first release's databases.

Every test starts from a private copy of the v1 fixture (made by the real first release, see
``make_v1_fixtures.py``) and upgrades it through v2 to v3 by opening it with today's kitchen, on SQLite and
PostgreSQL. What is compared is read with raw SQL (``db.raw``), not through kitchen.
"""

from __future__ import annotations

from typing import Any

from kitchen import FrozenClock, Kitchen, Order
from kitchen.core import words
from kitchen.store import SCHEMA_VERSION

V3_COLUMNS = {("ovens", "menu")}
V3_INDEXES = {"orders_lane", "orders_lane_cooking"}  # and orders_waiting_recipe, gone again in v4


def opened(db: Any) -> Kitchen:
    """Today's kitchen on the copy, its clock just after the fixture's story (oven-a still alive)."""
    now = float(db.raw.scalar("SELECT max(heartbeat_at) FROM ovens")) + 1.0
    return Kitchen.open(db.url, clock=FrozenClock(now), heartbeat_timeout=5.0)


def columns(db: Any) -> set[tuple[str, str]]:
    return {(table, c[0]) for table, cols in db.raw.columns().items() for c in cols}


def test_v3_adds_the_menu_column_and_the_lane_indexes(old_db: Any) -> None:
    raw = old_db.raw
    before_columns, before_indexes = columns(old_db), set(raw.indexes())
    assert not before_columns & V3_COLUMNS and not before_indexes & V3_INDEXES
    with opened(old_db):
        pass
    assert SCHEMA_VERSION >= 3 and raw.meta()["schema_version"] == str(SCHEMA_VERSION)
    assert columns(old_db) - before_columns >= V3_COLUMNS
    indexes = raw.indexes()
    assert set(indexes) - before_indexes >= V3_INDEXES
    lane, cooking = (indexes[name].lower() for name in sorted(V3_INDEXES))
    assert "unique" in cooking and "customer" in cooking and "cooking" in cooking
    assert "customer" in lane and "queued" in lane
    assert raw.rows("SELECT DISTINCT menu FROM ovens") == [(None,)], "old ovens cook anything"


def test_v3_keeps_the_oldest_cooking_order_of_a_lane_and_hands_back_the_rest(old_db: Any) -> None:
    """Before v3 two orders of one customer could cook at once; the unique index needs one per lane."""
    raw = old_db.raw
    # yuri's #3 cooks on oven-b (v1 data); give yuri two more orders cooking on oven-a, as v1 allowed
    raw.execute("UPDATE orders SET customer = 'yuri', state = 'cooking', oven_id = 1, attempt = 1, fence = 1,"
                " started_at = 1700000010.0 WHERE id IN (10, 12)")
    assert raw.scalar("SELECT count(*) FROM orders WHERE customer = 'yuri' AND state = 'cooking'") == 3
    with opened(old_db) as k:
        states = dict(raw.rows("SELECT id, state FROM orders WHERE customer = 'yuri'"))
        assert states == {3: "cooking", 10: "queued", 12: "queued"}, "the oldest keeps cooking"
        assert raw.rows("SELECT id, attempt, fence, progress FROM orders WHERE id IN (10, 12) ORDER BY id") == [
            (10, 0, 1, 0), (12, 0, 1, 0)], "handed back like a release: no attempt counted, the fence kept"
        released = [e for e in k.events(limit=1000) if e.kind == "released" and e.data is not None]
        assert [e.order_id for e in released] == [10, 12]
        assert words.event(released[0].kind, released[0].oven_name, 10, released[0].data) == (
            "order 10 handed back at the upgrade to customer lanes: another order of yuri was cooking")
        stale = Order(10, "quattro_formaggi", "{}", 1, 1, int(raw.scalar("SELECT bucket FROM orders WHERE id = 10")))
        assert not k.attach(1, "oven-a").complete(stale, {"late": True}), "its old claim is refused by the fence"
        assert k.refusals(limit=1)[0].order_state == "queued"
        assert k.status().orders.cooking == 1


def test_after_v3_menus_lanes_and_steals_work_on_old_orders(old_db: Any) -> None:
    raw = old_db.raw
    with opened(old_db) as k:
        assert k.status().no_oven_can_cook == {}, "oven-a (v1) has no menu: it cooks anything"
        k.reap(now=k.clock() + 60)  # the fixture's ovens are silent: declared dead, #3 requeued
        queued_recipes = {r[0] for r in raw.rows("SELECT DISTINCT recipe FROM orders WHERE state = 'queued'")}
        pizza = k.join("pizza-only", ["margherita"], host="upgrade-host", pid=7)
        waiting = k.status().no_oven_can_cook
        assert set(waiting) == queued_recipes - {"margherita"}
        assert waiting["quattro_formaggi"] == raw.scalar(
            "SELECT count(*) FROM orders WHERE state = 'queued' AND recipe = 'quattro_formaggi'")
        assert raw.scalar("SELECT menu FROM ovens WHERE name = 'pizza-only'") == '["margherita"]'
        got = []
        while (order := pizza.claim()) is not None:
            assert order.recipe == "margherita"
            got.append(order.id)
            assert pizza.complete(order)
        assert sorted(got) == sorted(r[0] for r in raw.rows(
            "SELECT id FROM orders WHERE recipe = 'margherita' AND state = 'done' AND id > 5"))
        ticket = k.ticket(got[0])
        assert ticket.started_at is not None and ticket.started_at <= ticket.finished_at
        everything = k.join("all-rounder", host="upgrade-host", pid=8)
        assert k.status().no_oven_can_cook == {}
        assert everything.claim() is not None
